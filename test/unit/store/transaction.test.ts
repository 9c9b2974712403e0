import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../../controller/store/sqlite/sqlite-store.ts';
import type { Change, Doc, IndexSpec } from '../../../controller/store/types.ts';

// Transactions: atomicity, revisions, the change log and claims.

const INDEXES: IndexSpec = {
  thing: { colour: (d) => d.colour, tags: (d) => d.tags },
};

let store: SqliteStore;
beforeEach(() => { store = new SqliteStore({ path: ':memory:', indexes: INDEXES }); });
afterEach(async () => store.close());

const thing = (id: string, extra: Record<string, unknown> = {}): Doc => ({ id, colour: 'red', tags: [], ...extra });

describe('transaction atomicity', () => {
  it('changes nothing when the body throws, and rethrows the error', async () => {
    await store.transact((tx) => { tx.put('thing', thing('a')); tx.claim('ip:s1', '10.0.0.2', 'a'); });
    const before = store.revision;
    const boom = new Error('boom');
    await expect(store.transact((tx) => {
      tx.put('thing', thing('b'));
      tx.put('thing', thing('a', { colour: 'blue' }));
      tx.remove('thing', 'a');
      tx.claim('ip:s1', '10.0.0.3', 'b');
      tx.release('ip:s1', '10.0.0.2');
      throw boom;
    })).rejects.toBe(boom);
    expect(store.revision).toBe(before);
    const view = store.view();
    expect(view.get('thing', 'b')).toBeUndefined();
    expect(view.get('thing', 'a')).toMatchObject({ colour: 'red' });
    expect(view.count('thing')).toBe(1);
    expect(view.find('thing', 'colour', 'blue')).toEqual([]);
    expect(view.claimOwner('ip:s1', '10.0.0.2')).toBe('a');
    expect(view.claimOwner('ip:s1', '10.0.0.3')).toBeUndefined();
    expect(await store.changesSince(before)).toEqual([]);
  });

  it('does not run afterCommit hooks or notify listeners on abort', async () => {
    const seen: number[] = [];
    store.subscribe((_c, rev) => seen.push(rev));
    let hookRan = false;
    await expect(store.transact((tx) => { tx.afterCommit(() => { hookRan = true; }); tx.put('thing', thing('a')); throw new Error('x'); })).rejects.toThrow('x');
    expect(hookRan).toBe(false);
    expect(seen).toEqual([]);
    await store.transact((tx) => { tx.afterCommit((rev) => seen.push(-rev)); tx.put('thing', thing('a')); });
    expect(seen).toEqual([1, -1]);
  });
});

describe('after commit', () => {
  it('a throwing listener or hook does not make a committed transaction look failed', async () => {
    const seen: string[] = [];
    store.subscribe(() => { throw new Error('listener broke'); });
    store.subscribe(() => seen.push('second listener'));
    const quiet = console.error;
    console.error = () => {};
    try {
      const res = await store.transact((tx) => {
        tx.afterCommit(() => { throw new Error('hook broke'); });
        tx.afterCommit(() => seen.push('second hook'));
        tx.put('thing', thing('a'));
        return 'done';
      });
      expect(res.result).toBe('done');
    } finally {
      console.error = quiet;
    }
    expect(seen).toEqual(['second listener', 'second hook']);
    expect(store.revision).toBe(1);
  });
});

describe('revisions', () => {
  it('bumps the revision by one per committed transaction, whatever it writes', async () => {
    expect(store.revision).toBe(0);
    const r1 = await store.transact((tx) => { tx.put('thing', thing('a')); tx.put('thing', thing('b')); return 'ok'; });
    expect(r1).toMatchObject({ result: 'ok', revision: 1 });
    const r2 = await store.transact((tx) => tx.remove('thing', 'a'));
    expect(r2.revision).toBe(2);
    const r3 = await store.transact((tx) => tx.claim('mac:n1', 'fa:16:3e:00:00:01', 'b'));
    expect(r3.revision).toBe(3);
    expect(store.revision).toBe(3);
    expect(store.view().revision).toBe(3);
  });

  it('does not bump for read-only bodies', async () => {
    await store.transact((tx) => tx.put('thing', thing('a')));
    const res = await store.transact((tx) => {
      expect(tx.revision).toBe(1);
      return [tx.get('thing', 'a'), tx.list('thing').length, tx.count('thing'), tx.find('thing', 'colour', 'red').length, tx.claimOwner('x', 'y')];
    });
    expect(res.revision).toBe(1);
    expect(res.changes).toEqual([]);
    expect(res.result[1]).toBe(1);
    expect(store.revision).toBe(1);
    expect(await store.changesSince(1)).toEqual([]);
  });

  it('serializes concurrent transactions: each sees the previous one', async () => {
    await store.transact((tx) => tx.put('counter', { id: 'c', n: 0 }));
    await Promise.all(Array.from({ length: 50 }, () => store.transact((tx) => {
      const c = tx.get('counter', 'c')!;
      tx.put('counter', { ...c, n: (c.n as number) + 1 });
    })));
    expect(store.view().get('counter', 'c')!.n).toBe(50);
    expect(store.revision).toBe(51);
  });
});

describe('change log', () => {
  it('records create, update and delete with doc and prev', async () => {
    const c1 = await store.transact((tx) => tx.put('thing', thing('a')));
    expect(c1.changes).toEqual([{ revision: 1, kind: 'thing', id: 'a', op: 'create', doc: thing('a'), prev: null }]);
    const c2 = await store.transact((tx) => tx.put('thing', thing('a', { colour: 'blue' })));
    expect(c2.changes).toEqual([{ revision: 2, kind: 'thing', id: 'a', op: 'update', doc: thing('a', { colour: 'blue' }), prev: thing('a') }]);
    const c3 = await store.transact((tx) => tx.remove('thing', 'a'));
    expect(c3.changes).toEqual([{ revision: 3, kind: 'thing', id: 'a', op: 'delete', doc: null, prev: thing('a', { colour: 'blue' }) }]);
    expect(await store.changesSince(0)).toEqual([...c1.changes, ...c2.changes, ...c3.changes]);
    expect(await store.changesSince(1)).toEqual([...c2.changes, ...c3.changes]);
    expect(await store.changesSince(3)).toEqual([]);
  });

  it('folds several writes to one id in one transaction into one change, and drops create+delete', async () => {
    const res = await store.transact((tx) => {
      tx.put('thing', thing('a'));
      tx.put('thing', thing('a', { colour: 'green' }));
      tx.put('thing', thing('tmp'));
      tx.remove('thing', 'tmp');
      tx.remove('thing', 'never-existed');
    });
    expect(res.changes).toEqual([{ revision: 1, kind: 'thing', id: 'a', op: 'create', doc: thing('a', { colour: 'green' }), prev: null }]);
    expect(store.view().get('thing', 'tmp')).toBeUndefined();
  });

  it('notifies subscribers with the committed changes, and unsubscribes', async () => {
    const got: Array<[readonly Change[], number]> = [];
    const off = store.subscribe((changes, rev) => got.push([changes, rev]));
    await store.transact((tx) => tx.put('thing', thing('a')));
    off();
    await store.transact((tx) => tx.put('thing', thing('b')));
    expect(got).toHaveLength(1);
    expect(got[0][1]).toBe(1);
    expect(got[0][0].map((c) => c.id)).toEqual(['a']);
  });

  it("answers 'compacted' once the log no longer reaches back far enough", async () => {
    const small = new SqliteStore({ path: ':memory:', indexes: INDEXES, changeLogRevisions: 10 });
    try {
      for (let i = 1; i <= 1000; i++) await small.transact((tx) => tx.put('thing', thing(`t${i % 7}`, { n: i })));
      expect(small.revision).toBe(1000);
      expect(await small.changesSince(0)).toBe('compacted');
      expect(await small.changesSince(500)).toBe('compacted');
      const recent = await small.changesSince(990);
      expect(recent).not.toBe('compacted');
      expect((recent as Change[]).map((c) => c.revision)).toEqual([991, 992, 993, 994, 995, 996, 997, 998, 999, 1000]);
    } finally {
      await small.close();
    }
  });
});

describe('claims', () => {
  it('are unique: a claim held by another owner is refused, the holder may re-claim', async () => {
    const first = await store.transact((tx) => tx.claim('ip:s1', '10.0.0.5', 'port-a'));
    expect(first.result).toBe(true);
    const other = await store.transact((tx) => tx.claim('ip:s1', '10.0.0.5', 'port-b'));
    expect(other.result).toBe(false);
    expect(other.revision).toBe(1); // a refused claim writes nothing
    expect((await store.transact((tx) => tx.claim('ip:s1', '10.0.0.5', 'port-a'))).result).toBe(true);
    expect((await store.transact((tx) => tx.claim('ip:s2', '10.0.0.5', 'port-b'))).result).toBe(true); // other scope
    expect(store.view().claimOwner('ip:s1', '10.0.0.5')).toBe('port-a');
  });

  it('are unique inside one transaction and can move after a release', async () => {
    const res = await store.transact((tx) => {
      const a = tx.claim('mac:n', 'm1', 'a');
      const b = tx.claim('mac:n', 'm1', 'b');
      tx.release('mac:n', 'm1');
      const c = tx.claim('mac:n', 'm1', 'c');
      return [a, b, c, tx.claimOwner('mac:n', 'm1')];
    });
    expect(res.result).toEqual([true, false, true, 'c']);
    expect(store.view().claimOwner('mac:n', 'm1')).toBe('c');
    await store.transact((tx) => tx.release('mac:n', 'm1'));
    expect(store.view().claimOwner('mac:n', 'm1')).toBeUndefined();
    expect((await store.transact((tx) => tx.claim('mac:n', 'm1', 'd'))).result).toBe(true);
  });

  it('release of a claim nobody holds writes nothing', async () => {
    const res = await store.transact((tx) => tx.release('ip:s1', '10.9.9.9'));
    expect(res.revision).toBe(0);
  });
});
