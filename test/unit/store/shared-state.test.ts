import { describe, expect, it } from 'vitest';
import { MemorySharedState } from '../../../controller/store/shared-state.ts';
import { openStore, sharedStateOf } from '../../../controller/store/open.ts';

// The shared state of a lone controller (memory); the etcd one has the same contract, tested
// against a real cluster in test/integration/etcd-shared-state.test.ts.

describe('MemorySharedState', () => {
  it('keeps the first of several put-if-absent and answers it to all', async () => {
    const shared = new MemorySharedState();
    expect(await shared.get('auth/tokens')).toBeUndefined();
    expect(await shared.putIfAbsent('auth/tokens', 'first')).toBe('first');
    expect(await shared.putIfAbsent('auth/tokens', 'second')).toBe('first');
    expect(await shared.get('auth/tokens')).toBe('first');
  });

  it('takes a value once', async () => {
    const shared = new MemorySharedState();
    await shared.put('tickets/a', 'one');
    expect(await Promise.all([shared.take('tickets/a'), shared.take('tickets/a')])).toEqual(['one', undefined]);
    expect(await shared.get('tickets/a')).toBeUndefined();
  });

  it('forgets a value after its time to live, and a put without one keeps it', async () => {
    let now = 0;
    const shared = new MemorySharedState({ now: () => now });
    await shared.put('k', 'short', { ttlMs: 100 });
    now = 99;
    expect(await shared.get('k')).toBe('short');
    now = 100;
    expect(await shared.get('k')).toBeUndefined();
    expect(await shared.putIfAbsent('k', 'again')).toBe('again');
    await shared.put('t', 'brief', { ttlMs: 10 });
    await shared.put('t', 'kept');
    now = 1_000_000;
    expect(await shared.take('t')).toBe('kept');
    expect(await shared.take('k')).toBe('again');
  });

  it('holds at most maxExpiring values with a time to live, dropping the oldest, and sweeps expired ones', async () => {
    let now = 0;
    const shared = new MemorySharedState({ now: () => now, maxExpiring: 3 });
    await shared.putIfAbsent('lasting', 'x');
    for (const key of ['a', 'b', 'c', 'd']) await shared.put(key, key, { ttlMs: 50 });
    expect(await shared.get('a')).toBeUndefined();
    expect(await shared.get('b')).toBe('b');
    expect(shared.size).toBe(4);
    now = 50;
    await shared.put('e', 'e', { ttlMs: 50 });
    expect(shared.size).toBe(2);
    expect(await shared.get('lasting')).toBe('x');
  });

  it('refuses empty and absolute keys', async () => {
    const shared = new MemorySharedState();
    await expect(shared.put('', 'v')).rejects.toThrow(/not a shared-state key/);
    await expect(shared.putIfAbsent('/abs', 'v')).rejects.toThrow(/not a shared-state key/);
  });
});

describe('sharedStateOf', () => {
  it("gives a SQLite store's controller its own memory", async () => {
    const store = openStore(':memory:');
    try {
      expect(sharedStateOf(store)).toBeInstanceOf(MemorySharedState);
    } finally {
      await store.close();
    }
  });
});
