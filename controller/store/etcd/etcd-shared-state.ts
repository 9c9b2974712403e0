import type { Etcd3, IKeyValue, Lease, Watcher } from 'etcd3';
import { validKey, type SharedChangeListener, type SharedLease, type SharedState, type SharedWatch } from '../shared-state.ts';
import { StoreUnavailableError } from './unavailable.ts';
import { prefixEnd } from './keys.ts';
import { cancelQuietly } from './watches.ts';

// The replicas' shared state in etcd, under the prefix's `s/` (keys.ts), on the etcd store's own
// client. Outside the model's keys, so the store's watch never sees it: no revision, no agent.
//   putIfAbsent  one txn: "created never" ? put : range — the first writer wins, everyone reads it
//   put + ttl    a lease of its own per key (etcd deletes the key when the lease runs out)
//   take         a delete that returns the previous value: etcd applies deletes one at a time, so
//                of two takes of one key only one gets it back
//   lease        one etcd lease that the client keeps alive; lost (etcd out of reach longer than
//                its time to live), a new one is granted and the keys written again
//   watch        a range of the prefix, then etcd's watch from the revision after it; a cancelled
//                watch (history compacted away) ranges again and tells what changed meanwhile

/** How long one call may wait for etcd. */
const CALL_TIMEOUT_MS = 5_000;

/** After a lost lease or a cancelled watch, the wait before trying again. */
const RETRY_MS = 1_000;

export class EtcdSharedState implements SharedState {
  readonly replicated = true;

  constructor(
    private readonly client: Etcd3,
    /** keys.shared of the store: '<prefix>s/'. */
    private readonly root: string,
  ) {}

  async putIfAbsent(key: string, value: string): Promise<string> {
    const k = this.key(key);
    const res = await this.call(() => this.client.kv.txn({
      compare: [{ key: k, target: 'Create', result: 'Equal', create_revision: 0 }],
      success: [{ request_put: { key: k, value: Buffer.from(value) } }],
      failure: [{ request_range: { key: k } }],
    }, this.deadline()));
    if (res.succeeded) return value;
    const held = res.responses[0]?.response_range?.kvs?.[0];
    if (!held) throw new Error(`etcd answered a failed put-if-absent of ${key} without the key`);
    return held.value.toString();
  }

  async get(key: string): Promise<string | undefined> {
    const res = await this.call(() => this.client.kv.range({ key: this.key(key) }, this.deadline()));
    return res.kvs[0]?.value.toString();
  }

  async put(key: string, value: string, options: { ttlMs?: number } = {}): Promise<void> {
    const k = this.key(key);
    let lease: string | undefined;
    if (options.ttlMs !== undefined) {
      // etcd counts a lease's time in whole seconds (and raises very short ones to its minimum);
      // callers that need the exact expiry keep it in the value, as tickets do.
      const ttl = Math.max(1, Math.ceil(options.ttlMs / 1000));
      lease = (await this.call(() => this.client.leaseClient.leaseGrant({ TTL: ttl }, this.deadline()))).ID;
    }
    await this.call(() => this.client.kv.put({ key: k, value: Buffer.from(value), ...(lease ? { lease } : {}) }, this.deadline()));
  }

  async take(key: string): Promise<string | undefined> {
    const res = await this.call(() => this.client.kv.deleteRange({ key: this.key(key), prev_kv: true }, this.deadline()));
    return res.prev_kvs[0]?.value.toString();
  }

  lease(ttlMs: number): SharedLease {
    return new EtcdSharedLease(this.client, Math.max(1, Math.ceil(ttlMs / 1000)), (key) => this.key(key), (fn) => this.call(fn));
  }

  async watch(prefix: string, onChange: SharedChangeListener): Promise<SharedWatch> {
    const follower = new PrefixFollower(this.client, this.root, prefix, onChange);
    await this.call(() => follower.start());
    return follower;
  }

  private key(key: string): Buffer {
    validKey(key);
    return Buffer.from(`${this.root}${key}`);
  }

  private deadline(): { deadline: number } {
    return deadline();
  }

  /** etcd out of reach is a 503 for the API, as with the model. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new StoreUnavailableError(err);
    }
  }
}

function deadline(): { deadline: number } {
  return { deadline: Date.now() + CALL_TIMEOUT_MS };
}

class EtcdSharedLease implements SharedLease {
  private lease: Lease | undefined;
  /** What this lease holds, written again on a new lease when the old one is lost. */
  private readonly held = new Map<string, string>();
  private released = false;

  constructor(
    private readonly client: Etcd3,
    private readonly ttlSeconds: number,
    private readonly key: (key: string) => Buffer,
    private readonly call: <T>(fn: () => Promise<T>) => Promise<T>,
  ) {}

  async put(key: string, value: string): Promise<void> {
    if (this.released) throw new Error('the lease is released');
    const k = this.key(key);
    this.held.set(key, value);
    const lease = this.current();
    await this.call(() => lease.put(k).value(value).options(deadline()).exec());
  }

  async release(): Promise<void> {
    this.released = true;
    // No revoke: the keys go when the time to live runs out, as if this replica had died.
    this.lease?.release();
    this.lease = undefined;
  }

  private current(): Lease {
    if (this.lease) return this.lease;
    const lease = this.client.lease(this.ttlSeconds);
    lease.on('lost', () => {
      if (this.lease !== lease) return;
      this.lease = undefined;
      setTimeout(() => void this.restore(), RETRY_MS).unref();
    });
    return (this.lease = lease);
  }

  /** A new lease for what the lost one held (a later put tries again if etcd is still out of reach). */
  private async restore(): Promise<void> {
    for (const [key, value] of this.held) {
      if (this.released || this.lease) return;
      await this.put(key, value).catch(() => {});
    }
  }
}

/** The keys under one prefix, then their changes, for one listener. */
class PrefixFollower implements SharedWatch {
  private watcher: Watcher | undefined;
  /** Keys told as present (a new range tells the ones gone meanwhile as deleted). */
  private readonly present = new Set<string>();
  private stopped = false;

  constructor(
    private readonly client: Etcd3,
    private readonly root: string,
    private readonly prefix: string,
    private readonly onChange: SharedChangeListener,
  ) {}

  async start(): Promise<void> {
    const full = `${this.root}${this.prefix}`;
    const res = await this.client.kv.range({ key: Buffer.from(full), range_end: prefixEnd(full) }, deadline());
    const now = new Set<string>();
    for (const kv of res.kvs) {
      const key = this.name(kv);
      now.add(key);
      this.present.add(key);
      this.onChange(key, kv.value.toString());
    }
    for (const key of [...this.present]) {
      if (now.has(key)) continue;
      this.present.delete(key);
      this.onChange(key, undefined);
    }
    const watcher = await this.client.watch().prefix(full).startRevision(String(Number(res.header.revision) + 1)).create();
    if (this.stopped) return void (await cancelQuietly(watcher));
    this.watcher = watcher;
    watcher.on('put', (kv) => {
      const key = this.name(kv);
      this.present.add(key);
      this.onChange(key, kv.value.toString());
    });
    watcher.on('delete', (kv) => {
      const key = this.name(kv);
      this.present.delete(key);
      this.onChange(key, undefined);
    });
    watcher.on('error', () => {
      if (this.stopped || watcher !== this.watcher) return;
      this.watcher = undefined; // etcd cancelled it: nothing to cancel
      void this.restart();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await cancelQuietly(this.watcher);
    this.watcher = undefined;
  }

  private async restart(): Promise<void> {
    while (!this.stopped) {
      try {
        return await this.start();
      } catch {
        await new Promise((r) => setTimeout(r, RETRY_MS).unref());
      }
    }
  }

  private name(kv: IKeyValue): string {
    return kv.key.toString().slice(this.root.length);
  }
}
