import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ModelCache, Transaction } from '../model-cache.ts';
import type { Change, ChangeListener, Committed, Doc, IndexSpec, ReadView, Store, Tx } from '../types.ts';

// The embedded default store: SQLite in WAL mode. The model is loaded into memory at
// open; each transaction's write set is persisted in one SQLite transaction together
// with the new revision and its change-log rows.

const SCHEMA = `
CREATE TABLE IF NOT EXISTS resources (kind TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (kind, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS claims (scope TEXT NOT NULL, key TEXT NOT NULL, owner TEXT NOT NULL, PRIMARY KEY (scope, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes (revision INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL,
  op TEXT NOT NULL, doc TEXT, prev TEXT, PRIMARY KEY (revision, seq));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

export interface SqliteStoreOptions {
  /** Path of the database file, or ':memory:'. */
  path: string;
  indexes: IndexSpec;
  /** How many revisions of change log to keep. */
  changeLogRevisions?: number;
  /** How long to wait for another process to let go of the database (default 5 s). */
  lockTimeoutMs?: number;
}

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly cache: ModelCache;
  private readonly listeners = new Set<ChangeListener>();
  private readonly keepRevisions: number;
  private compactedBefore = 0;
  private readonly stmt: ReturnType<SqliteStore['prepare']>;

  constructor(options: SqliteStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path, { timeout: options.lockTimeoutMs ?? 5000 });
    try {
      // One writer per data directory: the model lives in this process's memory, so a second
      // controller on the same files would hand out the same addresses. The exclusive lock is
      // taken by the first read and held until close (or process death).
      if (options.path !== ':memory:') this.db.pragma('locking_mode = EXCLUSIVE');
      this.db.pragma('journal_mode = WAL');
      // WAL + NORMAL: a commit survives the process being killed (not necessarily a power cut).
      this.db.pragma('synchronous = NORMAL');
      this.db.exec(SCHEMA);
    } catch (err) {
      this.db.close();
      if ((err as { code?: string }).code === 'SQLITE_BUSY') {
        throw new Error(`the store ${options.path} is in use by another process (is another controller running on this data directory?)`);
      }
      throw err;
    }
    this.keepRevisions = options.changeLogRevisions ?? 100_000;
    this.stmt = this.prepare();
    this.cache = new ModelCache(options.indexes);
    this.load();
  }

  private prepare() {
    const db = this.db;
    return {
      putDoc: db.prepare('INSERT OR REPLACE INTO resources (kind, id, doc) VALUES (?, ?, ?)'),
      delDoc: db.prepare('DELETE FROM resources WHERE kind = ? AND id = ?'),
      putClaim: db.prepare('INSERT INTO claims (scope, key, owner) VALUES (?, ?, ?) ON CONFLICT (scope, key) DO UPDATE SET owner = excluded.owner'),
      delClaim: db.prepare('DELETE FROM claims WHERE scope = ? AND key = ?'),
      addChange: db.prepare('INSERT INTO changes (revision, seq, kind, id, op, doc, prev) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      setMeta: db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
      changesSince: db.prepare('SELECT * FROM changes WHERE revision > ? ORDER BY revision, seq'),
      prune: db.prepare('DELETE FROM changes WHERE revision < ?'),
    };
  }

  private load(): void {
    const meta = new Map(
      (this.db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]),
    );
    this.cache.revision = Number(meta.get('revision') ?? 0);
    this.compactedBefore = Number(meta.get('compacted_before') ?? 0);
    for (const row of this.db.prepare('SELECT kind, id, doc FROM resources').iterate() as Iterable<{ kind: string; id: string; doc: string }>) {
      this.cache.applyDoc(row.kind, row.id, JSON.parse(row.doc) as Doc);
    }
    for (const row of this.db.prepare('SELECT scope, key, owner FROM claims').iterate() as Iterable<{ scope: string; key: string; owner: string }>) {
      this.cache.applyClaim(row.scope, row.key, row.owner);
    }
  }

  get revision(): number {
    return this.cache.revision;
  }

  view(): ReadView {
    return this.cache;
  }

  async transact<T>(body: (tx: Tx) => T): Promise<Committed<T>> {
    return this.transactSync(body);
  }

  /** The synchronous core; SQLite lets the whole commit happen before anyone else runs. */
  transactSync<T>(body: (tx: Tx) => T): Committed<T> {
    const tx = new Transaction(this.cache);
    const result = body(tx);
    if (tx.isEmpty()) return { result, revision: this.cache.revision, changes: [] };
    const revision = this.cache.revision + 1;
    const changes = tx.changes(revision);
    this.persist(tx, revision, changes);
    tx.applyTo(this.cache, revision);
    // The transaction is committed: a failing listener or hook must not make it look failed.
    for (const listener of this.listeners) afterCommitSafely(() => listener(changes, revision));
    for (const hook of tx.commitHooks) afterCommitSafely(() => hook(revision));
    return { result, revision, changes };
  }

  private persist(tx: Transaction, revision: number, changes: Change[]): void {
    const s = this.stmt;
    this.db.transaction(() => {
      for (const [kind, written] of tx.writes.docs) {
        for (const [id, doc] of written) {
          if (doc) s.putDoc.run(kind, id, JSON.stringify(doc));
          else s.delDoc.run(kind, id);
        }
      }
      for (const [scope, written] of tx.writes.claims) {
        for (const [key, owner] of written) {
          if (owner === null) s.delClaim.run(scope, key);
          else s.putClaim.run(scope, key, owner);
        }
      }
      changes.forEach((c, seq) =>
        s.addChange.run(revision, seq, c.kind, c.id, c.op, c.doc && JSON.stringify(c.doc), c.prev && JSON.stringify(c.prev)),
      );
      s.setMeta.run('revision', String(revision));
      if (revision % 1000 === 0 && revision > this.keepRevisions) {
        this.compactedBefore = revision - this.keepRevisions;
        s.prune.run(this.compactedBefore);
        s.setMeta.run('compacted_before', String(this.compactedBefore));
      }
    })();
  }

  async changesSince(revision: number): Promise<Change[] | 'compacted'> {
    if (revision + 1 < this.compactedBefore) return 'compacted';
    const rows = this.stmt.changesSince.all(revision) as {
      revision: number; kind: string; id: string; op: Change['op']; doc: string | null; prev: string | null;
    }[];
    return rows.map((r) => ({
      revision: r.revision,
      kind: r.kind,
      id: r.id,
      op: r.op,
      doc: r.doc ? (JSON.parse(r.doc) as Doc) : null,
      prev: r.prev ? (JSON.parse(r.prev) as Doc) : null,
    }));
  }

  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    if (this.db.open) this.db.close();
  }
}

function afterCommitSafely(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    console.error('weft store: an after-commit callback failed', err);
  }
}
