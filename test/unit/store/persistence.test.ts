import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MODEL_INDEXES } from '../../../controller/domain/indexes.ts';
import { openStore } from '../../../controller/store/open.ts';
import { SqliteStore } from '../../../controller/store/sqlite/sqlite-store.ts';
import type { Change, Doc } from '../../../controller/store/types.ts';

// A file-backed store survives close and reopen: documents, claims, revision, change log, indexes.

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'weft-store-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const net = (id: string, extra: Record<string, unknown> = {}): Doc => ({ id, project_id: 'p1', name: id, tags: ['t'], nested: { a: [1, 'two', null] }, ...extra });

describe('persistence', () => {
  it('reopens with the same documents, claims, revision and change log', async () => {
    const s1 = openStore(dir);
    await s1.transact((tx) => {
      tx.put('network', net('n1'));
      tx.put('network', net('n2'));
      tx.claim('vni', '1000', 'n1');
      tx.claim('vni', '1001', 'n2');
    });
    await s1.transact((tx) => {
      tx.put('network', net('n1', { name: 'renamed', unicode: 'ünïcødé ☃ 🚀' }));
      tx.remove('network', 'n2');
      tx.release('vni', '1001');
      tx.claim('ip:s1', '10.0.0.2', 'port1');
    });
    await s1.transact((tx) => tx.get('network', 'n1')); // read-only: no revision
    const log = await s1.changesSince(0);
    expect(s1.revision).toBe(2);
    await s1.close();

    const s2 = openStore(dir);
    try {
      expect(s2.revision).toBe(2);
      const v = s2.view();
      expect(v.list('network')).toEqual([net('n1', { name: 'renamed', unicode: 'ünïcødé ☃ 🚀' })]);
      expect(v.get('network', 'n2')).toBeUndefined();
      expect(v.claimOwner('vni', '1000')).toBe('n1');
      expect(v.claimOwner('vni', '1001')).toBeUndefined();
      expect(v.claimOwner('ip:s1', '10.0.0.2')).toBe('port1');
      expect(v.find('network', 'project_id', 'p1').map((d) => d.id)).toEqual(['n1']);
      expect(await s2.changesSince(0)).toEqual(log);
      // the revision continues where it stopped
      const next = await s2.transact((tx) => tx.put('network', net('n3')));
      expect(next.revision).toBe(3);
      expect((await s2.changesSince(2) as Change[]).map((c) => [c.revision, c.id, c.op])).toEqual([[3, 'n3', 'create']]);
      // claims survive as unique
      expect((await s2.transact((tx) => tx.claim('vni', '1000', 'n3'))).result).toBe(false);
    } finally {
      await s2.close();
    }
  });

  it('a failed transaction leaves nothing on disk', async () => {
    const s1 = openStore(dir);
    await s1.transact((tx) => tx.put('network', net('n1')));
    await expect(s1.transact((tx) => { tx.put('network', net('n2')); tx.claim('vni', '7', 'n2'); throw new Error('no'); })).rejects.toThrow('no');
    await s1.close();
    const s2 = openStore(dir);
    try {
      expect(s2.revision).toBe(1);
      expect(s2.view().list('network').map((d) => d.id)).toEqual(['n1']);
      expect(s2.view().claimOwner('vni', '7')).toBeUndefined();
    } finally {
      await s2.close();
    }
  });

  it('keeps the compaction point across reopen', async () => {
    const path = join(dir, 'c.db');
    const s1 = new SqliteStore({ path, indexes: MODEL_INDEXES, changeLogRevisions: 5 });
    for (let i = 0; i < 1000; i++) await s1.transact((tx) => tx.put('network', net(`n${i % 3}`, { i })));
    expect(await s1.changesSince(10)).toBe('compacted');
    await s1.close();
    const s2 = new SqliteStore({ path, indexes: MODEL_INDEXES, changeLogRevisions: 5 });
    try {
      expect(s2.revision).toBe(1000);
      expect(await s2.changesSince(10)).toBe('compacted');
      expect((await s2.changesSince(997) as Change[]).map((c) => c.revision)).toEqual([998, 999, 1000]);
      expect(s2.view().count('network')).toBe(3);
    } finally {
      await s2.close();
    }
  });

  it('two stores never share state: in-memory stores are independent', async () => {
    const a = openStore(':memory:');
    const b = openStore(':memory:');
    await a.transact((tx) => tx.put('network', net('n1')));
    expect(b.revision).toBe(0);
    expect(b.view().count('network')).toBe(0);
    await a.close();
    await b.close();
  });
});

describe('single writer', () => {
  it('refuses a second store on the same file while the first is open, and allows it after close', async () => {
    const path = join(dir, 'weft.db');
    const first = new SqliteStore({ path, indexes: MODEL_INDEXES });
    await first.transact((tx) => tx.put('network', net('n1')));
    expect(() => new SqliteStore({ path, indexes: MODEL_INDEXES, lockTimeoutMs: 50 })).toThrow(/in use by another process/);
    await first.close();
    const second = new SqliteStore({ path, indexes: MODEL_INDEXES, lockTimeoutMs: 50 });
    try {
      expect(second.view().get('network', 'n1')).toBeDefined();
      expect(second.revision).toBe(1);
    } finally {
      await second.close();
    }
  });
});
