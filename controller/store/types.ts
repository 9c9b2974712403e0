// The store behind the API. Every mutation runs as one synchronous transaction body
// against the current model (so IPAM and segment allocation decisions are serialized),
// then the backend persists the write set atomically, bumps the global revision and
// appends what changed to the change log that agents sync from.
//
// A backend keeps the whole model in memory (ModelCache) and persists it: SQLite does
// it synchronously; an etcd backend would commit the same write set in one etcd txn
// guarded by the revision it read, re-running the body on conflict.

export interface Doc {
  readonly id: string;
  readonly [field: string]: unknown;
}

export type ChangeOp = 'create' | 'update' | 'delete';

export interface Change {
  readonly revision: number;
  readonly kind: string;
  readonly id: string;
  readonly op: ChangeOp;
  /** The document after the change; null for a delete. */
  readonly doc: Doc | null;
  /** The document before the change; null for a create. */
  readonly prev: Doc | null;
}

/** Secondary indexes: kind -> index name -> the values a document is filed under. */
export type IndexSpec = Record<string, Record<string, (doc: Doc) => unknown>>;

export interface ReadView {
  readonly revision: number;
  get<T extends Doc = Doc>(kind: string, id: string): T | undefined;
  list<T extends Doc = Doc>(kind: string): T[];
  /** Documents of `kind` filed under `value` in index `index` (see IndexSpec). */
  find<T extends Doc = Doc>(kind: string, index: string, value: unknown): T[];
  count(kind: string): number;
  /** How many documents find(kind, index, value) would return, without building them. */
  countBy(kind: string, index: string, value: unknown): number;
  /** Who holds a unique claim (an IP in a subnet, a MAC in a network, a VNI, ...). */
  claimOwner(scope: string, key: string): string | undefined;
  /**
   * A search hint (e.g. where an allocator stopped). Hints live in memory only, outside
   * transactions: a stale or missing hint may cost time but never changes a result.
   */
  hint(key: string): unknown;
  setHint(key: string, value: unknown): void;
}

export interface Tx extends ReadView {
  /** Create or replace a document. */
  put(kind: string, doc: Doc): void;
  remove(kind: string, id: string): void;
  /** Take a unique key; false when someone else holds it. */
  claim(scope: string, key: string, owner: string): boolean;
  release(scope: string, key: string): void;
  /** Run after a successful commit (e.g. to notify); never on abort. */
  afterCommit(fn: (revision: number) => void): void;
}

export interface Committed<T> {
  readonly result: T;
  readonly revision: number;
  readonly changes: readonly Change[];
}

export type ChangeListener = (changes: readonly Change[], revision: number) => void;

export interface Store {
  readonly revision: number;
  /** The committed model, read synchronously. */
  view(): ReadView;
  /** Run `body` atomically; if it throws, nothing is changed and the error is rethrown. */
  transact<T>(body: (tx: Tx) => T): Promise<Committed<T>>;
  /**
   * For stores shared by several processes: resolves once view() holds every commit that was
   * acknowledged (by any process) before the call. Absent where view() is always current.
   */
  readBarrier?(): Promise<void>;
  /** Changes after `revision`, or 'compacted' when the log no longer reaches back that far. */
  changesSince(revision: number): Promise<Change[] | 'compacted'>;
  subscribe(listener: ChangeListener): () => void;
  close(): Promise<void>;
}
