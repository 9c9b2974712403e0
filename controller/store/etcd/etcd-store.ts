import { randomUUID } from 'node:crypto';
import { Etcd3, type ITxnRequest, type ITxnResponse, type IWatchResponse, type Watcher } from 'etcd3';
import { ModelCache } from '../model-cache.ts';
import type { Change, ChangeListener, Committed, IndexSpec, ReadView, Store, Tx } from '../types.ts';
import { EtcdHistory, isCompacted } from './history.ts';
import { cancelQuietly } from './watches.ts';
import { EtcdCompactor } from './compactor.ts';
import { afterCommitSafely, diffCaches, runBodies, settle, txnRequest, type Pending } from './group-commit.ts';
import { EtcdKeys } from './keys.ts';
import { FreshRead } from './fresh-read.ts';
import { LeaderClient } from './leader-client.ts';
import { applyCommit, loadModel, type WatchedWrite } from './model-snapshot.ts';
import { RevisionMap } from './revision-map.ts';
import { StoreUnavailableError, withDeadline } from './unavailable.ts';

// The store on etcd, for several controller replicas. Every replica holds the whole model in
// memory (ModelCache), loaded with one consistent range and kept current by a watch on the model's
// keys. A commit runs transaction bodies against that cache and writes their write set in one etcd
// txn guarded by the mod_revision of the head key, which every commit rewrites: a txn succeeds only
// if no replica committed since the cache was current, so commits are serialized across replicas
// exactly as they are within one. On conflict the replica waits for its watch to bring the other
// commit in and runs the bodies again. Bodies that arrive while a txn is in flight wait and go
// together in the next one (a group commit): one etcd round trip for many API writes.
//
// Weft's revision (the head's `revision`) counts commits with no gap; the etcd revision of each is
// the head's mod_revision. The change log is etcd's history (see history.ts).

export interface EtcdStoreOptions {
  endpoints: readonly string[];
  indexes: IndexSpec;
  /** Key prefix (default /weft/). */
  prefix?: string;
  /** Most keys one etcd txn may write; must not exceed etcd's --max-txn-ops (default 8192). */
  maxTxnOps?: number;
  /** Revisions of history kept: older ones are compacted away in etcd (default 100,000). */
  keepRevisions?: number;
  /** History older than this is compacted away too, however few commits it holds (default 1 hour). */
  keepHistoryMs?: number;
  /** The API request a transaction is made for (kept in the head, so every replica's listeners know it). */
  origin?: () => string | undefined;
  /** Run a commit's listeners as the requests that made it. */
  notifyAs?: (requestIds: readonly string[], fn: () => void) => void;
  /** How long a commit may wait for etcd before it fails (default 30 s). */
  commitTimeoutMs?: number;
  log?: { warn(obj: object, msg: string): void };
}

export async function openEtcdStore(options: EtcdStoreOptions): Promise<EtcdStore> {
  const store = new EtcdStore(options);
  try {
    await store.start();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

export class EtcdStore implements Store {
  readonly client: Etcd3;
  private readonly leader: LeaderClient;
  readonly keys: EtcdKeys;
  private cache: ModelCache;
  /** The etcd revision of the last commit in the cache (the head's mod_revision; 0 before the first). */
  private headModRevision = 0;
  private readonly revisions: RevisionMap;
  private readonly history: EtcdHistory;
  private readonly compactor: EtcdCompactor;
  private readonly listeners = new Set<ChangeListener>();
  private readonly queue: Pending[] = [];
  private draining = false;
  private txnInFlight = false;
  /** Concurrent read barriers (and refusals) share quorum reads; see fresh-read.ts. Gives the head read. */
  private readonly barrier = new FreshRead(() => this.catchUpWithEtcd(Date.now() + this.commitTimeoutMs));
  private heldWhileInFlight: IWatchResponse[] = [];
  private watcher: Watcher | undefined;
  private catchUpWaiters: Array<{ modRevision: number; done(): void }> = [];
  private isClosed = false;
  private readonly maxTxnOps: number;
  private readonly commitTimeoutMs: number;

  constructor(private readonly options: EtcdStoreOptions) {
    // Snapshots of a big model and big watch responses exceed gRPC's 4 MiB default.
    const grpcOptions = { 'grpc.max_receive_message_length': 512 * 1024 * 1024, 'grpc.max_send_message_length': 64 * 1024 * 1024 };
    this.client = new Etcd3({ hosts: [...options.endpoints], grpcOptions });
    this.leader = new LeaderClient(this.client, options.endpoints, { grpcOptions });
    this.keys = new EtcdKeys(options.prefix);
    this.cache = new ModelCache(options.indexes);
    this.maxTxnOps = options.maxTxnOps ?? 8192;
    this.commitTimeoutMs = options.commitTimeoutMs ?? 30_000;
    this.revisions = new RevisionMap(options.keepRevisions ?? 100_000);
    this.history = new EtcdHistory(this.client, this.keys, this.revisions);
    this.compactor = new EtcdCompactor(this.client, this.revisions, {
      keepHistoryMs: options.keepHistoryMs ?? 3_600_000,
      currentRevision: async () => Number((await this.client.kv.range({ key: Buffer.from(this.keys.head), keys_only: true, serializable: true })).header.revision),
      log: options.log,
    });
  }

  get revision(): number {
    return this.cache.revision;
  }

  view(): ReadView {
    return this.cache;
  }

  /** Load the model and start following etcd. */
  async start(): Promise<void> {
    const loaded = await this.loadCache();
    this.cache = loaded.cache;
    this.headModRevision = loaded.headModRevision;
    if (loaded.headModRevision) this.revisions.add(this.cache.revision, loaded.headModRevision);
    await this.follow(loaded.at);
    this.compactor.start();
  }

  private loadCache() {
    return loadModel(this.client, this.keys, this.options.indexes);
  }

  private async follow(afterRevision: number): Promise<void> {
    let watcher: Watcher;
    try {
      watcher = await this.client.watch().prefix(this.keys.model).startRevision(String(afterRevision + 1)).create();
    } catch (err) {
      if (!isCompacted(err) || this.isClosed) throw err;
      return this.historyLost(err);
    }
    this.watcher = watcher;
    watcher.on('data', (res: IWatchResponse) => this.onWatch(res));
    watcher.on('error', (err) => {
      if (!this.isClosed && watcher === this.watcher) void this.historyLost(err);
    });
  }

  /** The history this replica needs is compacted away (it was cut off for long): load afresh. */
  private async historyLost(err: unknown): Promise<void> {
    this.options.log?.warn({ err: String(err) }, 'etcd watch cancelled; reloading the model');
    await this.reload();
  }

  // --- commits of other replicas (and our own, which the cache already holds) ---

  private onWatch(res: IWatchResponse): void {
    // Our own txn's events can arrive before its answer: hold them until the answer says
    // whether the cache already has them.
    if (this.txnInFlight) {
      this.heldWhileInFlight.push(res);
      return;
    }
    let group: WatchedWrite[] = [];
    let groupRevision = 0;
    const flush = () => {
      if (group.length && groupRevision > this.headModRevision) this.applyRemote(group, groupRevision);
      group = [];
    };
    for (const event of res.events) {
      const rev = Number(event.kv.mod_revision);
      if (rev !== groupRevision) flush();
      groupRevision = rev;
      group.push({ key: event.kv.key, value: event.type === 'Delete' ? null : event.kv.value });
    }
    flush();
  }

  private applyRemote(writes: WatchedWrite[], etcdRevision: number): void {
    const applied = applyCommit(this.cache, this.keys, writes);
    if (!applied) {
      this.options.log?.warn({ etcdRevision }, 'a model write without a head: written outside Weft?');
      return;
    }
    const { head, changes } = applied;
    this.headModRevision = etcdRevision;
    this.revisions.add(head.revision, etcdRevision, head.commit);
    this.notify(changes, head.revision, head.requests ?? []);
    this.wakeCatchUp();
  }

  /** After a cancelled watch: the current model, and what differs from the cache as one commit. */
  private async reload(): Promise<void> {
    await cancelQuietly(this.watcher);
    this.watcher = undefined;
    const loaded = await this.loadCache();
    const changes = diffCaches(this.cache, loaded.cache, loaded.cache.revision);
    this.cache = loaded.cache;
    this.headModRevision = loaded.headModRevision;
    this.revisions.clear();
    if (loaded.headModRevision) this.revisions.add(loaded.cache.revision, loaded.headModRevision);
    this.notify(changes, loaded.cache.revision, []);
    this.wakeCatchUp();
    await this.follow(loaded.at);
  }

  private notify(changes: readonly Change[], revision: number, requestIds: readonly string[]): void {
    const run = () => {
      for (const listener of this.listeners) afterCommitSafely(() => listener(changes, revision));
    };
    if (this.options.notifyAs && requestIds.length) this.options.notifyAs(requestIds, run);
    else run();
  }

  private releaseHeld(): void {
    for (const res of this.heldWhileInFlight.splice(0)) this.onWatch(res);
  }

  /** Resolves once the cache holds the commit at etcd revision `modRevision` (or a later one). */
  private caughtUp(modRevision: number): Promise<void> {
    if (this.headModRevision >= modRevision || this.isClosed) return Promise.resolve();
    return new Promise((done) => this.catchUpWaiters.push({ modRevision, done }));
  }

  private wakeCatchUp(): void {
    const ready = this.catchUpWaiters.filter((w) => w.modRevision <= this.headModRevision);
    this.catchUpWaiters = this.catchUpWaiters.filter((w) => w.modRevision > this.headModRevision);
    for (const w of ready) w.done();
  }

  // --- our commits ---

  transact<T>(body: (tx: Tx) => T): Promise<Committed<T>> {
    if (this.isClosed) return Promise.reject(new Error('the store is closed'));
    return new Promise<Committed<T>>((resolve, reject) => {
      this.queue.push({ body, origin: this.options.origin?.(), resolve: resolve as Pending['resolve'], reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length && !this.isClosed) {
        const batch = this.queue.splice(0, this.queue.length);
        const rest = await this.commitBatch(batch).catch((err) => {
          for (const item of batch) item.reject(err);
          return [];
        });
        this.queue.unshift(...rest);
      }
    } finally {
      this.draining = false;
    }
    for (const item of this.queue.splice(0)) item.reject(new Error('the store is closed'));
  }

  /** Commits a prefix of `batch` (as much as one txn may carry); returns the rest. */
  private async commitBatch(batch: Pending[]): Promise<Pending[]> {
    const deadline = Date.now() + this.commitTimeoutMs;
    /** The head of a quorum read sent after these requests came, which the cache holds (0: none yet). */
    let current = 0;
    for (;;) {
      const ranAt = this.headModRevision;
      const { group, outcomes, rest } = runBodies(this.cache, batch, this.maxTxnOps);
      const base = this.cache.revision;
      if (group.isEmpty()) {
        // No txn will check what these bodies read, and their answers (often an error, such as
        // PortNotFound for a port another replica has just made) stand only on a cache that held
        // every commit acknowledged before they came. The watch may bring one while the read is
        // on its way: what counts is the cache the bodies ran on, not the cache now.
        if (!current) {
          current = await this.barrier.get();
          if (current > ranAt) continue;
        }
        settle(outcomes, base, []);
        return rest;
      }
      const revision = base + 1;
      const commit = randomUUID();
      const requestIds = [...new Set(outcomes.flatMap((o) => (o.item.origin ? [o.item.origin] : [])))];
      const changes = group.changes(revision);
      this.txnInFlight = true;
      let res: ITxnResponse;
      try {
        res = await this.sendTxn(txnRequest(this.keys, this.cache, this.headModRevision, group, { revision, commit, requests: requestIds }), deadline);
      } catch (err) {
        this.txnInFlight = false;
        this.releaseHeld();
        throw err;
      }
      this.txnInFlight = false;
      if (res.succeeded) {
        const etcdRevision = Number(res.header.revision);
        group.applyTo(this.cache, revision);
        this.headModRevision = etcdRevision;
        this.revisions.add(revision, etcdRevision, commit);
        this.notify(changes, revision, requestIds);
        this.wakeCatchUp();
        settle(outcomes, revision, changes);
        this.compactor.committed(revision);
        this.releaseHeld();
        return rest;
      }
      this.releaseHeld();
      // Another replica committed first, or our txn landed and its answer was lost (then a retry
      // of the same txn fails its guard): wait until the cache holds the head etcd has now.
      const headKv = res.responses[0]?.response_range?.kvs?.[0];
      await withDeadline(this.caughtUp(headKv ? Number(headKv.mod_revision) : 0), deadline);
      if (this.revisions.commitAt(revision) === commit) {
        settle(outcomes, revision, changes);
        return rest;
      }
    }
  }

  /** Sends a txn; after an error whose outcome is unknown, sends the same txn again (its guard makes that safe). */
  private async sendTxn(req: ITxnRequest, deadline: number): Promise<ITxnResponse> {
    let delay = 50;
    for (;;) {
      const client = this.leader.current();
      try {
        return await client.kv.txn(req, { deadline: Math.min(deadline, Date.now() + 5000) });
      } catch (err) {
        if (this.leader.failed(client) && !this.isClosed) continue;
        if (this.isClosed || Date.now() + delay >= deadline) throw new StoreUnavailableError(err);
        this.options.log?.warn({ err: String(err) }, 'etcd txn failed; retrying');
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 1000);
      }
    }
  }

  /** A quorum read of the head, then wait until the watch has brought the cache that far. */
  async readBarrier(): Promise<void> {
    await this.barrier.get();
  }

  /** readBarrier: the head's mod revision as a quorum read gave it, once the cache holds it. */
  private async catchUpWithEtcd(deadline: number): Promise<number> {
    const modRevision = await this.quorumHeadRevision(deadline);
    if (modRevision > this.headModRevision) await withDeadline(this.caughtUp(modRevision), deadline);
    return modRevision;
  }

  /** The head key's mod revision as etcd's quorum has it; 503 when no member answers in time. */
  private async quorumHeadRevision(deadline: number): Promise<number> {
    const read = (client: Etcd3) =>
      client.kv.range({ key: Buffer.from(this.keys.head), keys_only: true }, { deadline: Math.min(deadline, Date.now() + 5000) });
    const client = this.leader.current();
    try {
      const res = await read(client).catch((err) => {
        if (!this.leader.failed(client)) throw err;
        return read(this.client);
      });
      return Number(res.kvs[0]?.mod_revision ?? 0);
    } catch (err) {
      throw new StoreUnavailableError(err);
    }
  }

  changesSince(revision: number): Promise<Change[] | 'compacted'> {
    if (revision >= this.cache.revision) return Promise.resolve([]);
    return this.history.changesSince(revision, this.cache.revision, this.headModRevision);
  }

  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.compactor.stop();
    this.listeners.clear();
    for (const w of this.catchUpWaiters.splice(0)) w.done();
    await cancelQuietly(this.watcher);
    this.leader.close();
    this.client.close();
  }
}
