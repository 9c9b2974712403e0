// State the controller replicas share outside the model: one-time tickets, the tokens the first
// replica made. Writing it is not a commit: it bumps no revision and never reaches agents. With
// the SQLite store there is one controller, and MemorySharedState (this process's memory) is the
// whole of it; with the etcd store, EtcdSharedState (etcd/etcd-shared-state.ts) keeps it in etcd
// under the prefix's `s/`, so what one replica writes every other one reads.

export interface SharedState {
  /** Stores `value` unless `key` holds something; returns what `key` holds now (`value`, or what was there). */
  putIfAbsent(key: string, value: string): Promise<string>;
  get(key: string): Promise<string | undefined>;
  /** Stores `value` (replacing what was there); with `ttlMs` it goes away by itself after that long. */
  put(key: string, value: string, options?: { ttlMs?: number }): Promise<void>;
  /** Gets and deletes `key` at once: of several takes of one key, on any replica, one gets the value. */
  take(key: string): Promise<string | undefined>;
}

export interface MemorySharedStateOptions {
  now?: () => number;
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
}

/** The shared state of a lone controller: this process's memory. */
export class MemorySharedState implements SharedState {
  private readonly entries = new Map<string, Entry>();
  /** Keys with a time to live, in the order they were put: eviction order. */
  private readonly expiring = new Set<string>();
  private readonly now: () => number;
  private readonly maxExpiring: number;

  constructor(options: MemorySharedStateOptions = {}) {
    this.now = options.now ?? Date.now;
    this.maxExpiring = options.maxExpiring ?? 10_000;
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
    this.delete(key);
    this.entries.set(key, entry);
    if (entry.expiresAt === Infinity) return;
    this.expiring.add(key);
    this.sweep();
  }

  private delete(key: string): void {
    this.entries.delete(key);
    this.expiring.delete(key);
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
