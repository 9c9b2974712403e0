import { describe, expect, it } from 'vitest';
import { ModelCache } from '../../../controller/store/model-cache.ts';
import { runBodies, txnRequest, type Pending } from '../../../controller/store/etcd/group-commit.ts';
import { EtcdKeys } from '../../../controller/store/etcd/keys.ts';
import type { Tx } from '../../../controller/store/types.ts';

// The pure half of the etcd store's group commit: what bodies see of each other, what a failing
// body leaves, where a group is cut, and the txn that carries it.

const pending = (body: (tx: Tx) => unknown): Pending => ({ body, origin: undefined, resolve() {}, reject() {} });

describe('group commit', () => {
  it('runs each body on the writes of the ones before it, and drops the writes of a body that throws', () => {
    const cache = new ModelCache({});
    const { group, outcomes, rest } = runBodies(cache, [
      pending((tx) => tx.claim('ip', '10.0.0.2', 'a')),
      pending((tx) => {
        tx.put('port', { id: 'half' });
        throw new Error('refused');
      }),
      pending((tx) => tx.claim('ip', '10.0.0.2', 'b')),
    ], 100);
    expect(outcomes.map((o) => [o.ok, o.value instanceof Error ? o.value.message : o.value])).toEqual([[true, true], [false, 'refused'], [true, false]]);
    expect(rest).toEqual([]);
    expect(group.get('port', 'half')).toBeUndefined();
    expect(group.claimOwner('ip', '10.0.0.2')).toBe('a');
  });

  it('leaves for the next txn the bodies beyond maxTxnOps, but never an empty group', () => {
    const cache = new ModelCache({});
    const put = (n: number) => pending((tx) => { for (let i = 0; i < n; i++) tx.put('thing', { id: `${n}-${i}` }); });
    const cut = runBodies(cache, [put(3), put(4), put(5)], 8);
    expect(cut.outcomes).toHaveLength(2);
    expect(cut.rest).toHaveLength(1);
    const alone = runBodies(cache, [put(20), put(1)], 8);
    expect(alone.outcomes).toHaveLength(1);
    expect(alone.group.writeCount()).toBe(20);
  });

  it("guards the txn with the head's mod_revision and every new claim's absence", () => {
    const keys = new EtcdKeys('/w/');
    const cache = new ModelCache({});
    cache.applyClaim('mac', 'held', 'old');
    cache.applyDoc('port', 'gone', { id: 'gone' });
    const { group } = runBodies(cache, [pending((tx) => {
      tx.claim('ip', '10.0.0.0/24|10.0.0.5', 'p');
      tx.release('mac', 'held');
      tx.remove('port', 'gone');
      tx.put('port', { id: 'new' });
      tx.put('port', { id: 'brief' });
      tx.remove('port', 'brief');
    })], 100);
    const req = txnRequest(keys, cache, 42, group, { revision: 7, commit: 'c' });
    const key = (b?: Buffer) => b?.toString();
    expect(req.compare!.map((c) => [key(c.key), c.target, c.mod_revision ?? c.create_revision])).toEqual([
      ['/w/m/head', 'Mod', 42],
      [`/w/m/c/ip/${encodeURIComponent('10.0.0.0/24|10.0.0.5')}`, 'Create', 0],
    ]);
    const ops = req.success!.map((o) => (o.request_put ? `put ${key(o.request_put.key)}` : `delete ${key(o.request_delete_range!.key)}`));
    expect(ops.sort()).toEqual([
      `put /w/m/c/ip/${encodeURIComponent('10.0.0.0/24|10.0.0.5')}`,
      'delete /w/m/c/mac/held',
      'delete /w/m/d/port/gone',
      'put /w/m/d/port/new',
      'put /w/m/head',
    ].sort());
  });
});
