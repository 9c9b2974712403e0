import type { Change, Doc, IndexSpec, ReadView, Tx } from './types.ts';

// The whole model in memory, with secondary indexes, plus the write overlay of one
// transaction. Backends load the cache at start and apply committed write sets to it.

type Index = Map<unknown, Set<string>>;

function indexKeys(extract: (doc: Doc) => unknown, doc: Doc): unknown[] {
  const value = extract(doc);
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

export class ModelCache implements ReadView {
  revision = 0;
  private readonly docs = new Map<string, Map<string, Doc>>();
  private readonly indexes = new Map<string, Map<string, Index>>();
  private readonly claims = new Map<string, Map<string, string>>();
  private readonly hints = new Map<string, unknown>();

  constructor(readonly indexSpec: IndexSpec) {
    for (const [kind, spec] of Object.entries(indexSpec)) {
      this.indexes.set(kind, new Map(Object.keys(spec).map((name) => [name, new Map()])));
    }
  }

  private table(kind: string): Map<string, Doc> {
    let table = this.docs.get(kind);
    if (!table) this.docs.set(kind, (table = new Map()));
    return table;
  }

  get<T extends Doc = Doc>(kind: string, id: string): T | undefined {
    return this.docs.get(kind)?.get(id) as T | undefined;
  }

  list<T extends Doc = Doc>(kind: string): T[] {
    return [...(this.docs.get(kind)?.values() ?? [])] as T[];
  }

  count(kind: string): number {
    return this.docs.get(kind)?.size ?? 0;
  }

  /** Every kind that has (or had) documents; for dumps and consistency checks. */
  kinds(): string[] {
    return [...this.docs.keys()];
  }

  /** Ids filed under value; undefined when the index is not declared. */
  indexedIds(kind: string, index: string, value: unknown): Set<string> | undefined {
    const idx = this.indexes.get(kind)?.get(index);
    if (!idx) return undefined;
    return idx.get(value) ?? new Set();
  }

  find<T extends Doc = Doc>(kind: string, index: string, value: unknown): T[] {
    const ids = this.indexedIds(kind, index, value);
    if (ids) return [...ids].map((id) => this.get<T>(kind, id)!);
    const extract = this.extractor(kind, index);
    return this.list<T>(kind).filter((doc) => indexKeys(extract, doc).includes(value));
  }

  countBy(kind: string, index: string, value: unknown): number {
    return this.indexedIds(kind, index, value)?.size ?? this.find(kind, index, value).length;
  }

  extractor(kind: string, index: string): (doc: Doc) => unknown {
    return this.indexSpec[kind]?.[index] ?? ((doc: Doc) => doc[index]);
  }

  claimOwner(scope: string, key: string): string | undefined {
    return this.claims.get(scope)?.get(key);
  }

  hint(key: string): unknown {
    return this.hints.get(key);
  }

  setHint(key: string, value: unknown): void {
    this.hints.set(key, value);
  }

  claimScopes(): Map<string, Map<string, string>> {
    return this.claims;
  }

  /** Apply a committed document write (doc null = delete). */
  applyDoc(kind: string, id: string, doc: Doc | null): void {
    const table = this.table(kind);
    const prev = table.get(id);
    const kindIndexes = this.indexes.get(kind);
    if (kindIndexes) {
      for (const [name, idx] of kindIndexes) {
        const extract = this.indexSpec[kind][name];
        if (prev) for (const key of indexKeys(extract, prev)) idx.get(key)?.delete(id);
        if (doc) {
          for (const key of indexKeys(extract, doc)) {
            let ids = idx.get(key);
            if (!ids) idx.set(key, (ids = new Set()));
            ids.add(id);
          }
        }
      }
    }
    if (doc) table.set(id, doc);
    else table.delete(id);
  }

  applyClaim(scope: string, key: string, owner: string | null): void {
    let claims = this.claims.get(scope);
    if (!claims) this.claims.set(scope, (claims = new Map()));
    if (owner === null) claims.delete(key);
    else claims.set(key, owner);
  }
}

export interface WriteSet {
  docs: Map<string, Map<string, Doc | null>>;
  claims: Map<string, Map<string, string | null>>;
}

/** What a transaction reads through: the cache, or the transaction of a group commit it joins. */
export interface TxBase extends ReadView {
  extractor(kind: string, index: string): (doc: Doc) => unknown;
}

/** One transaction's view: the cache (or an enclosing transaction) with this transaction's writes on top. */
export class Transaction implements Tx, TxBase {
  readonly writes: WriteSet = { docs: new Map(), claims: new Map() };
  readonly commitHooks: Array<(revision: number) => void> = [];
  private readonly hints = new Map<string, unknown>();

  constructor(private readonly base: TxBase) {}

  extractor(kind: string, index: string): (doc: Doc) => unknown {
    return this.base.extractor(kind, index);
  }

  get revision(): number {
    return this.base.revision;
  }

  private overlay(kind: string): Map<string, Doc | null> | undefined {
    return this.writes.docs.get(kind);
  }

  get<T extends Doc = Doc>(kind: string, id: string): T | undefined {
    const written = this.overlay(kind);
    if (written?.has(id)) return (written.get(id) ?? undefined) as T | undefined;
    return this.base.get<T>(kind, id);
  }

  list<T extends Doc = Doc>(kind: string): T[] {
    const written = this.overlay(kind);
    const base = this.base.list<T>(kind);
    if (!written) return base;
    const out = base.filter((doc) => !written.has(doc.id));
    for (const doc of written.values()) if (doc) out.push(doc as T);
    return out;
  }

  count(kind: string): number {
    const written = this.overlay(kind);
    if (!written) return this.base.count(kind);
    let n = this.base.count(kind);
    for (const [id, doc] of written) {
      const existed = this.base.get(kind, id) !== undefined;
      if (existed && !doc) n--;
      if (!existed && doc) n++;
    }
    return n;
  }

  find<T extends Doc = Doc>(kind: string, index: string, value: unknown): T[] {
    const written = this.overlay(kind);
    const base = this.base.find<T>(kind, index, value);
    if (!written) return base;
    const extract = this.base.extractor(kind, index);
    const out = base.filter((doc) => !written.has(doc.id));
    for (const doc of written.values()) {
      if (doc && indexKeys(extract, doc).includes(value)) out.push(doc as T);
    }
    return out;
  }

  countBy(kind: string, index: string, value: unknown): number {
    const written = this.overlay(kind);
    if (!written) return this.base.countBy(kind, index, value);
    const extract = this.base.extractor(kind, index);
    const files = (doc: Doc | null | undefined) => !!doc && indexKeys(extract, doc).includes(value);
    let n = this.base.countBy(kind, index, value);
    for (const [id, doc] of written) n += Number(files(doc)) - Number(files(this.base.get(kind, id)));
    return n;
  }

  claimOwner(scope: string, key: string): string | undefined {
    const written = this.writes.claims.get(scope);
    if (written?.has(key)) return written.get(key) ?? undefined;
    return this.base.claimOwner(scope, key);
  }

  hint(key: string): unknown {
    return this.hints.has(key) ? this.hints.get(key) : this.base.hint(key);
  }

  /** Kept with the transaction, so an aborted one leaves no trace, not even in a hint. */
  setHint(key: string, value: unknown): void {
    this.hints.set(key, value);
  }

  put(kind: string, doc: Doc): void {
    let written = this.overlay(kind);
    if (!written) this.writes.docs.set(kind, (written = new Map()));
    written.set(doc.id, doc);
  }

  remove(kind: string, id: string): void {
    let written = this.overlay(kind);
    if (!written) this.writes.docs.set(kind, (written = new Map()));
    written.set(id, null);
  }

  claim(scope: string, key: string, owner: string): boolean {
    const holder = this.claimOwner(scope, key);
    if (holder !== undefined) return holder === owner;
    this.setClaim(scope, key, owner);
    return true;
  }

  release(scope: string, key: string): void {
    if (this.claimOwner(scope, key) !== undefined) this.setClaim(scope, key, null);
  }

  setClaim(scope: string, key: string, owner: string | null): void {
    let written = this.writes.claims.get(scope);
    if (!written) this.writes.claims.set(scope, (written = new Map()));
    written.set(key, owner);
  }

  afterCommit(fn: (revision: number) => void): void {
    this.commitHooks.push(fn);
  }

  isEmpty(): boolean {
    return this.writes.docs.size === 0 && this.writes.claims.size === 0;
  }

  /** The changes this transaction makes, stamped with `revision`. */
  changes(revision: number): Change[] {
    const out: Change[] = [];
    for (const [kind, written] of this.writes.docs) {
      for (const [id, doc] of written) {
        const prev = this.base.get(kind, id) ?? null;
        if (!prev && !doc) continue;
        const op = !prev ? 'create' : doc ? 'update' : 'delete';
        out.push({ revision, kind, id, op, doc, prev });
      }
    }
    return out;
  }

  /** How many keys the write set touches (a backend may cap what one commit carries). */
  writeCount(): number {
    let n = 0;
    for (const written of this.writes.docs.values()) n += written.size;
    for (const written of this.writes.claims.values()) n += written.size;
    return n;
  }

  /** Fold this (nested) transaction into the one it was opened on, as if its body had run there. */
  mergeInto(outer: Transaction): void {
    for (const [kind, written] of this.writes.docs) {
      for (const [id, doc] of written) {
        if (doc) outer.put(kind, doc);
        else outer.remove(kind, id);
      }
    }
    for (const [scope, written] of this.writes.claims) {
      for (const [key, owner] of written) outer.setClaim(scope, key, owner);
    }
    for (const [key, value] of this.hints) outer.setHint(key, value);
    outer.commitHooks.push(...this.commitHooks);
  }

  /** Fold the write set into the cache (after the backend persisted it). */
  applyTo(cache: ModelCache, revision: number): void {
    for (const [kind, written] of this.writes.docs) {
      for (const [id, doc] of written) cache.applyDoc(kind, id, doc);
    }
    for (const [scope, written] of this.writes.claims) {
      for (const [key, owner] of written) cache.applyClaim(scope, key, owner);
    }
    for (const [key, value] of this.hints) cache.setHint(key, value);
    cache.revision = revision;
  }
}
