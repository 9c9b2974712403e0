import type { Etcd3 } from 'etcd3';
import { validKey, type SharedState } from '../shared-state.ts';
import { StoreUnavailableError } from './etcd-store.ts';

// The replicas' shared state in etcd, under the prefix's `s/` (keys.ts), on the etcd store's own
// client. Outside the model's keys, so the store's watch never sees it: no revision, no agent.
//   putIfAbsent  one txn: "created never" ? put : range — the first writer wins, everyone reads it
//   put + ttl    a lease of its own per key (etcd deletes the key when the lease runs out)
//   take         a delete that returns the previous value: etcd applies deletes one at a time, so
//                of two takes of one key only one gets it back

/** How long one call may wait for etcd. */
const CALL_TIMEOUT_MS = 5_000;

export class EtcdSharedState implements SharedState {
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

  private key(key: string): Buffer {
    validKey(key);
    return Buffer.from(`${this.root}${key}`);
  }

  private deadline(): { deadline: number } {
    return { deadline: Date.now() + CALL_TIMEOUT_MS };
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
