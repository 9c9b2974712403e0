// State the controller replicas share outside the model: one-time tickets, the tokens the first
// replica made, where each agent is connected (sync/presence.ts). Writing it is not a commit: it
// bumps no revision and never reaches agents. With the SQLite store there is one controller, and
// MemorySharedState (this process's memory) is the whole of it; with the etcd store,
// EtcdSharedState (etcd/etcd-shared-state.ts) keeps it in etcd under the prefix's `s/`, so what
// one replica writes every other one reads.

export interface SharedState {
  /** Whether other controller replicas share it (false: this process is the only controller). */
  readonly replicated: boolean;
  /** Stores `value` unless `key` holds something; returns what `key` holds now (`value`, or what was there). */
  putIfAbsent(key: string, value: string): Promise<string>;
  get(key: string): Promise<string | undefined>;
  /** Stores `value` (replacing what was there); with `ttlMs` it goes away by itself after that long. */
  put(key: string, value: string, options?: { ttlMs?: number }): Promise<void>;
  /** Gets and deletes `key` at once: of several takes of one key, on any replica, one gets the value. */
  take(key: string): Promise<string | undefined>;
  /**
   * Keys that live as long as this replica keeps them (see SharedLease). In etcd one lease, kept
   * alive by the client: holding a key costs no write, and a replica that dies or hangs loses its
   * keys `ttlMs` later (etcd counts whole seconds and raises very short times to its minimum).
   */
  lease(ttlMs: number): SharedLease;
  /**
   * Tells `onChange` every key under `prefix` with its value, then every later change (undefined:
   * deleted or expired), in order, until stop() is called. Resolves once the present keys were told.
   */
  watch(prefix: string, onChange: SharedChangeListener): Promise<SharedWatch>;
}

export type SharedChangeListener = (key: string, value: string | undefined) => void;

export interface SharedLease {
  /** Stores `value` at `key`, held by this lease (replacing what was there). */
  put(key: string, value: string): Promise<void>;
  /** Stops keeping the keys: they go when the time to live runs out, as if this replica had died. */
  release(): Promise<void>;
}

export interface SharedWatch {
  stop(): Promise<void>;
}

export interface MemorySharedStateOptions {
  now?: () => number;
  /** Stand for the state of several replicas (tests that run replicas in one process); default false. */
  replicated?: boolean;
  /**
   * Entries with a time to live held at most (default 10,000); beyond it the oldest go first, as
   * from a cache: memory stays bounded however many tickets callers ask for.
   */
  maxExpiring?: number;
}

interface Entry {
  value: string;
  /** Infinity for an entry without a time to live. */
  expiresAt: number;
  /** The lease that holds it (it never expires while held). */
  lease?: object;
}

/** The shared state of a lone controller: this process's memory. */
export class MemorySharedState implements SharedState {
  readonly replicated: boolean;
  private readonly entries = new Map<string, Entry>();
  /** Keys with a time to live, in the order they were put: eviction order. */
  private readonly expiring = new Set<string>();
  private readonly now: () => number;
  private readonly maxExpiring: number;
  private readonly watchers = new Set<{ prefix: string; onChange: SharedChangeListener }>();

  constructor(options: MemorySharedStateOptions = {}) {
    this.now = options.now ?? Date.now;
    this.maxExpiring = options.maxExpiring ?? 10_000;
    this.replicated = options.replicated ?? false;
  }

  async putIfAbsent(key: string, value: string): Promise<string> {
    const held = this.live(key);
    if (held) return held.value;
    this.set(key, { value, expiresAt: Infinity });
    return value;
  }

  async get(key: string): Promise<string | undefined> {
    return this.live(key)?.value;
  }

  async put(key: string, value: string, options: { ttlMs?: number } = {}): Promise<void> {
    this.set(key, { value, expiresAt: options.ttlMs === undefined ? Infinity : this.now() + options.ttlMs });
  }

  async take(key: string): Promise<string | undefined> {
    const held = this.live(key);
    this.delete(key);
    return held?.value;
  }

  lease(ttlMs: number): SharedLease {
    const owner = {};
    const keys = new Set<string>();
    let released = false;
    return {
      put: async (key, value) => {
        if (released) throw new Error('the lease is released');
        this.set(key, { value, expiresAt: Infinity, lease: owner });
        keys.add(key);
      },
      release: async () => {
        if (released) return;
        released = true;
        // As in etcd, the keys go when the time to live runs out, not at once.
        setTimeout(() => {
          for (const key of keys) if (this.entries.get(key)?.lease === owner) this.delete(key);
        }, ttlMs).unref();
      },
    };
  }

  async watch(prefix: string, onChange: SharedChangeListener): Promise<SharedWatch> {
    for (const key of [...this.entries.keys()]) {
      const value = key.startsWith(prefix) ? this.live(key)?.value : undefined;
      if (value !== undefined) onChange(key, value);
    }
    const watcher = { prefix, onChange };
    this.watchers.add(watcher);
    return { stop: async () => void this.watchers.delete(watcher) };
  }

  /** Entries held, live or expired but not yet swept. */
  get size(): number {
    return this.entries.size;
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.delete(key);
      return undefined;
    }
    return entry;
  }

  private set(key: string, entry: Entry): void {
    validKey(key);
    this.entries.delete(key);
    this.expiring.delete(key);
    this.entries.set(key, entry);
    this.tell(key, entry.value);
    if (entry.expiresAt === Infinity) return;
    this.expiring.add(key);
    this.sweep();
  }

  private delete(key: string): void {
    const had = this.entries.delete(key);
    this.expiring.delete(key);
    if (had) this.tell(key, undefined);
  }

  /** Watchers hear of a change after the call that made it, as from etcd. */
  private tell(key: string, value: string | undefined): void {
    for (const w of this.watchers) {
      if (key.startsWith(w.prefix)) queueMicrotask(() => this.watchers.has(w) && w.onChange(key, value));
    }
  }

  /**
   * Forgets expired entries at the front (the oldest; with one time to live for all, as tickets
   * have, every expired one), then the oldest beyond the bound.
   */
  private sweep(): void {
    const now = this.now();
    for (const key of this.expiring) {
      if (this.entries.get(key)!.expiresAt > now) break;
      this.delete(key);
    }
    for (const key of this.expiring) {
      if (this.expiring.size <= this.maxExpiring) break;
      this.delete(key);
    }
  }
}

/** Keys are names relative to the shared state's root ('tickets/<id>'), never empty. */
export function validKey(key: string): void {
  if (!key || key.startsWith('/')) throw new Error(`not a shared-state key: '${key}'`);
}
