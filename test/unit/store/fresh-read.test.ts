import { describe, expect, it } from 'vitest';
import { FreshRead } from '../../../controller/store/etcd/fresh-read.ts';

/** A read whose answers the test releases by hand; each answer is the read's number. */
function manualReads() {
  const pending: Array<{ n: number; done: (v: number) => void; fail: (e: Error) => void }> = [];
  let sent = 0;
  const read = () => new Promise<number>((done, fail) => pending.push({ n: ++sent, done, fail }));
  const answer = async (ok = true) => {
    const r = pending.shift()!;
    if (ok) r.done(r.n);
    else r.fail(new Error(`read ${r.n} failed`));
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { read, answer, sent: () => sent, pending };
}

describe('FreshRead', () => {
  it('shares the read on the wire only with callers that came before it was sent', async () => {
    const m = manualReads();
    const fresh = new FreshRead(m.read);
    const first = fresh.get();
    expect(m.sent()).toBe(1);
    // These come while read 1 is on the wire: they must not take its answer.
    const later = Array.from({ length: 10 }, () => fresh.get());
    expect(m.sent()).toBe(1);
    await m.answer();
    expect(await first).toBe(1);
    expect(m.sent()).toBe(2);
    await m.answer();
    expect(await Promise.all(later)).toEqual(Array(10).fill(2));
    expect(m.sent()).toBe(2);
  });

  it('sends anew for a caller after the last read returned', async () => {
    const m = manualReads();
    const fresh = new FreshRead(m.read);
    const a = fresh.get();
    await m.answer();
    expect(await a).toBe(1);
    const b = fresh.get();
    expect(m.sent()).toBe(2);
    await m.answer();
    expect(await b).toBe(2);
  });

  it('gives a failed read to the callers that waited on it, and sends the following one anyway', async () => {
    const m = manualReads();
    const fresh = new FreshRead(m.read);
    const first = fresh.get();
    const later = fresh.get();
    await m.answer(false);
    await expect(first).rejects.toThrow('read 1 failed');
    expect(m.sent()).toBe(2);
    await m.answer();
    expect(await later).toBe(2);
  });
});
