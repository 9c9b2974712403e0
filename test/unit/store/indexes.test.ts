import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MODEL_INDEXES } from '../../../controller/domain/indexes.ts';
import { ModelCache, Transaction } from '../../../controller/store/model-cache.ts';
import { SqliteStore } from '../../../controller/store/sqlite/sqlite-store.ts';
import type { Doc, IndexSpec, ReadView } from '../../../controller/store/types.ts';

// Secondary indexes stay right across put / replace / remove, for scalar and
// array-valued keys, in the committed cache and in a transaction's overlay.

const INDEXES: IndexSpec = {
  thing: { colour: (d) => d.colour, tags: (d) => d.tags, maybe: (d) => d.maybe ?? undefined },
};

let store: SqliteStore;
beforeEach(() => { store = new SqliteStore({ path: ':memory:', indexes: INDEXES }); });
afterEach(async () => store.close());

const ids = (docs: Doc[]) => docs.map((d) => d.id).sort();

describe('indexes in the committed model', () => {
  it('follow put, replace and remove of scalar keys', async () => {
    await store.transact((tx) => {
      tx.put('thing', { id: 'a', colour: 'red', tags: [] });
      tx.put('thing', { id: 'b', colour: 'red', tags: [] });
    });
    expect(ids(store.view().find('thing', 'colour', 'red'))).toEqual(['a', 'b']);
    await store.transact((tx) => tx.put('thing', { id: 'a', colour: 'blue', tags: [] }));
    expect(ids(store.view().find('thing', 'colour', 'red'))).toEqual(['b']);
    expect(ids(store.view().find('thing', 'colour', 'blue'))).toEqual(['a']);
    await store.transact((tx) => tx.remove('thing', 'b'));
    expect(store.view().find('thing', 'colour', 'red')).toEqual([]);
    expect(store.view().find('thing', 'colour', 'green')).toEqual([]);
  });

  it('file a document under every element of an array-valued key', async () => {
    await store.transact((tx) => tx.put('thing', { id: 'a', colour: 'red', tags: ['x', 'y'] }));
    await store.transact((tx) => tx.put('thing', { id: 'b', colour: 'red', tags: ['y', 'z'] }));
    const v = store.view();
    expect(ids(v.find('thing', 'tags', 'x'))).toEqual(['a']);
    expect(ids(v.find('thing', 'tags', 'y'))).toEqual(['a', 'b']);
    await store.transact((tx) => tx.put('thing', { id: 'a', colour: 'red', tags: ['z'] }));
    expect(v.find('thing', 'tags', 'x')).toEqual([]);
    expect(ids(v.find('thing', 'tags', 'y'))).toEqual(['b']);
    expect(ids(v.find('thing', 'tags', 'z'))).toEqual(['a', 'b']);
    await store.transact((tx) => tx.remove('thing', 'b'));
    expect(ids(v.find('thing', 'tags', 'z'))).toEqual(['a']);
    expect(v.find('thing', 'tags', 'y')).toEqual([]);
  });

  it('skip null and undefined keys', async () => {
    await store.transact((tx) => {
      tx.put('thing', { id: 'a', colour: 'red', tags: [], maybe: null });
      tx.put('thing', { id: 'b', colour: 'red', tags: [], maybe: 'm' });
    });
    expect(store.view().find('thing', 'maybe', null)).toEqual([]);
    expect(store.view().find('thing', 'maybe', undefined)).toEqual([]);
    expect(ids(store.view().find('thing', 'maybe', 'm'))).toEqual(['b']);
  });

  it('find on an undeclared index scans the field', async () => {
    await store.transact((tx) => {
      tx.put('other', { id: 'a', size: 3 });
      tx.put('other', { id: 'b', size: 4 });
    });
    expect(ids(store.view().find('other', 'size', 3))).toEqual(['a']);
  });

  it('MODEL_INDEXES: ports are found by every subnet of their fixed_ips', async () => {
    const db = new SqliteStore({ path: ':memory:', indexes: MODEL_INDEXES });
    try {
      const port = (fixed: string[]) => ({
        id: 'p1', project_id: 'p', network_id: 'n', device_id: '', security_groups: ['sg1'], 'binding:host_id': '',
        fixed_ips: fixed.map((s, i) => ({ subnet_id: s, ip_address: `10.0.${i}.5` })),
      });
      await db.transact((tx) => tx.put('port', port(['s1', 's2'])));
      expect(ids(db.view().find('port', 'subnet_id', 's2'))).toEqual(['p1']);
      expect(db.view().find('port', 'device_id', '')).toEqual([]);
      await db.transact((tx) => tx.put('port', port(['s2'])));
      expect(db.view().find('port', 'subnet_id', 's1')).toEqual([]);
      expect(ids(db.view().find('port', 'subnet_id', 's2'))).toEqual(['p1']);
      expect(ids(db.view().find('port', 'security_group', 'sg1'))).toEqual(['p1']);
    } finally {
      await db.close();
    }
  });
});

describe('overlay reads inside a transaction', () => {
  it('find, list, count and get see the transaction\'s own writes', async () => {
    await store.transact((tx) => {
      tx.put('thing', { id: 'a', colour: 'red', tags: ['x'] });
      tx.put('thing', { id: 'b', colour: 'red', tags: ['x'] });
      tx.put('thing', { id: 'c', colour: 'blue', tags: [] });
    });
    await store.transact((tx) => {
      tx.put('thing', { id: 'd', colour: 'red', tags: ['x', 'y'] }); // new
      tx.put('thing', { id: 'a', colour: 'blue', tags: ['y'] }); // moved
      tx.remove('thing', 'b'); // removed
      expect(ids(tx.find('thing', 'colour', 'red'))).toEqual(['d']);
      expect(ids(tx.find('thing', 'colour', 'blue'))).toEqual(['a', 'c']);
      expect(ids(tx.find('thing', 'tags', 'x'))).toEqual(['d']);
      expect(ids(tx.find('thing', 'tags', 'y'))).toEqual(['a', 'd']);
      expect(ids(tx.list('thing'))).toEqual(['a', 'c', 'd']);
      expect(tx.count('thing')).toBe(3);
      expect(tx.get('thing', 'b')).toBeUndefined();
      expect(tx.get('thing', 'a')).toMatchObject({ colour: 'blue' });
      // ...while the committed model is untouched until commit
      expect(ids(store.view().find('thing', 'colour', 'red'))).toEqual(['a', 'b']);
      expect(store.view().count('thing')).toBe(3);
      tx.remove('thing', 'd');
      tx.put('thing', { id: 'b', colour: 'red', tags: [] }); // re-created
      expect(tx.count('thing')).toBe(3);
      expect(ids(tx.find('thing', 'colour', 'red'))).toEqual(['b']);
    });
    expect(ids(store.view().find('thing', 'colour', 'red'))).toEqual(['b']);
    expect(ids(store.view().find('thing', 'tags', 'y'))).toEqual(['a']);
    expect(store.view().count('thing')).toBe(3);
  });

  it('claims read through the overlay', async () => {
    await store.transact((tx) => tx.claim('ip:s', '10.0.0.2', 'p1'));
    await store.transact((tx) => {
      tx.release('ip:s', '10.0.0.2');
      expect(tx.claimOwner('ip:s', '10.0.0.2')).toBeUndefined();
      expect(store.view().claimOwner('ip:s', '10.0.0.2')).toBe('p1');
      expect(tx.claim('ip:s', '10.0.0.2', 'p2')).toBe(true);
    });
    expect(store.view().claimOwner('ip:s', '10.0.0.2')).toBe('p2');
  });
});

// Property: after any sequence of transactions of put/remove, every index answers
// exactly what a full scan of the documents answers, in the cache and in an overlay.
const KEYS = ['k0', 'k1', 'k2', 'k3'];
const op = fc.oneof(
  fc.record({ put: fc.constantFrom('a', 'b', 'c', 'd', 'e'), colour: fc.constantFrom(...KEYS), tags: fc.subarray(KEYS) }),
  fc.record({ remove: fc.constantFrom('a', 'b', 'c', 'd', 'e') }),
);

function checkAgainstScan(view: ReadView): void {
  const all = view.list('thing');
  expect(view.count('thing')).toBe(all.length);
  for (const key of KEYS) {
    expect(ids(view.find('thing', 'colour', key))).toEqual(ids(all.filter((d) => d.colour === key)));
    expect(ids(view.find('thing', 'tags', key))).toEqual(ids(all.filter((d) => (d.tags as string[]).includes(key))));
  }
}

describe('index property', () => {
  it('indexes equal a full scan after random transactions (cache and overlay)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(op, { maxLength: 6 }), { maxLength: 12 }), fc.array(op, { maxLength: 6 }), (txs, pending) => {
        const cache = new ModelCache(INDEXES);
        let rev = 0;
        for (const ops of txs) {
          const tx = new Transaction(cache);
          for (const o of ops) {
            if ('put' in o) tx.put('thing', { id: o.put, colour: o.colour, tags: o.tags });
            else tx.remove('thing', o.remove);
          }
          tx.applyTo(cache, ++rev);
          checkAgainstScan(cache);
        }
        const tx = new Transaction(cache);
        for (const o of pending) {
          if ('put' in o) tx.put('thing', { id: o.put, colour: o.colour, tags: o.tags });
          else tx.remove('thing', o.remove);
          checkAgainstScan(tx);
        }
      }),
      { numRuns: 100 },
    );
  });
});
