import { describe, expect, it, vi } from 'vitest';
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

  it('tells a watcher the keys under its prefix, then their changes in order, until it stops', async () => {
    const shared = new MemorySharedState();
    await shared.put('p/a', '1');
    await shared.put('q/x', 'other prefix');
    const heard: Array<[string, string | undefined]> = [];
    const watch = await shared.watch('p/', (key, value) => heard.push([key, value]));
    expect(heard).toEqual([['p/a', '1']]);
    await shared.put('p/b', '2');
    await shared.put('p/a', '3');
    await shared.take('p/b');
    await shared.take('p/missing');
    await shared.put('q/y', 'not heard');
    await Promise.resolve();
    expect(heard).toEqual([['p/a', '1'], ['p/b', '2'], ['p/a', '3'], ['p/b', undefined]]);
    await watch.stop();
    await shared.put('p/c', 'after stop');
    await Promise.resolve();
    expect(heard).toHaveLength(4);
  });

  it("keeps a lease's keys until it is released, then for its time to live, and tells watchers when they go", async () => {
    vi.useFakeTimers();
    try {
      const shared = new MemorySharedState({ replicated: true });
      expect(shared.replicated).toBe(true);
      expect(new MemorySharedState().replicated).toBe(false);
      const heard: Array<[string, string | undefined]> = [];
      await shared.watch('held/', (key, value) => heard.push([key, value]));
      const lease = shared.lease(500);
      await lease.put('held/a', 'x');
      await lease.put('held/b', 'y');
      await shared.put('held/b', 'taken over by a plain put');
      await vi.advanceTimersByTimeAsync(10_000);
      expect(await shared.get('held/a')).toBe('x');
      await lease.release();
      await expect(lease.put('held/c', 'z')).rejects.toThrow(/released/);
      await vi.advanceTimersByTimeAsync(499);
      expect(await shared.get('held/a')).toBe('x');
      await vi.advanceTimersByTimeAsync(1);
      expect(await shared.get('held/a')).toBeUndefined();
      expect(await shared.get('held/b')).toBe('taken over by a plain put');
      expect(heard).toEqual([['held/a', 'x'], ['held/b', 'y'], ['held/b', 'taken over by a plain put'], ['held/a', undefined]]);
    } finally {
      vi.useRealTimers();
    }
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
