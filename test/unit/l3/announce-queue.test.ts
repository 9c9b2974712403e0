// AnnouncementQueue (agent/l3/announce-queue.ts): gratuitous ARPs asked one by one, sent in batches.
import { describe, expect, it } from 'vitest';
import { AnnouncementQueue } from '../../../agent/l3/announce-queue.ts';
import type { Announcement } from '../../../agent/l3/ops.ts';

const at = (ip: string): Announcement => ({ netns: 'ns', iface: 'qg-x', ip });

describe('AnnouncementQueue', () => {
  it('sends the first at once and what comes meanwhile in one next batch, each address once', async () => {
    const batches: string[][] = [];
    const drains: Promise<void>[] = [];
    let release!: () => void;
    const q = new AnnouncementQueue(async (items) => {
      batches.push(items.map((a) => a.ip));
      if (batches.length === 1) await new Promise<void>((r) => (release = r));
    }, (work) => drains.push(work), () => undefined);
    q.add(at('192.0.2.1'));
    for (const ip of ['192.0.2.2', '192.0.2.3', '192.0.2.2']) q.add(at(ip));
    expect(batches).toEqual([['192.0.2.1']]);
    release();
    await Promise.all(drains);
    expect(batches).toEqual([['192.0.2.1'], ['192.0.2.2', '192.0.2.3']]);
    expect(drains.length).toBe(1); // one drain carried both batches
  });

  it('reports a batch that fails and goes on with the next', async () => {
    const failed: string[][] = [];
    const sent: string[][] = [];
    const drains: Promise<void>[] = [];
    const q = new AnnouncementQueue(async (items) => {
      sent.push(items.map((a) => a.ip));
      if (items.some((a) => a.ip === '192.0.2.9')) throw new Error('interface gone');
    }, (work) => drains.push(work), (_err, items) => failed.push(items.map((a) => a.ip)));
    q.add(at('192.0.2.9'));
    q.add(at('192.0.2.1'));
    await Promise.all(drains);
    expect(failed).toEqual([['192.0.2.9']]);
    expect(sent).toEqual([['192.0.2.9'], ['192.0.2.1']]);
  });
});
