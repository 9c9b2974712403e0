// FlowReconciler's queue, connection handling and failure paths, against an in-memory switch.
import { afterEach, describe, expect, it } from 'vitest';
import { OpenFlowConnection } from '../../../agent/openflow/connection.ts';
import { makeCookie } from '../../../agent/pipeline/fields.ts';
import { flow, flowKey, type Flow } from '../../../agent/pipeline/flow.ts';
import { tableId } from '../../../agent/pipeline/tables.ts';
import {
  FlowRejectedError, FlowReconciler, ReconcilerClosedError, type FlowReconcilerOptions, type SyncInfo,
} from '../../../agent/reconcile/index.ts';
import { portFlows, syntheticFlows } from '../../helpers/flowsets.ts';
import { FakeSwitch, type FakeSwitchHooks } from './fake-switch.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(hooks: FakeSwitchHooks = {}, opts: Partial<FlowReconcilerOptions> = {}) {
  const sw = await FakeSwitch.start(hooks);
  let connectCalls = 0;
  const r = new FlowReconciler({
    connect: () => {
      connectCalls++;
      return OpenFlowConnection.connect({ path: sw.path }, { echoIntervalMs: 0, requestTimeoutMs: 2000 });
    },
    generation: 9, reconnectDelayMs: [20, 100], retryDelayMs: [200, 400], ...opts,
  });
  cleanups.push(async () => {
    await r.close();
    await sw.stop();
  });
  return { sw, r, connects: () => connectCalls };
}

/** The fake switch's summary for these flows under generation 9. */
const want = (flows: readonly Flow[]) =>
  flows.map((f) => `${makeCookie(f.feature, 9, f.object).toString(16)}/${tableId(f.table)}/${f.priority}`).sort();
const asChanges = (flows: readonly Flow[], value: 'set' | 'delete' = 'set') =>
  new Map(flows.map((f) => [flowKey(f), value === 'set' ? f : null]));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('FlowReconciler (in-memory switch)', () => {
  it('a change set interrupted by a lost connection waits for the reconnect and the resync that covers it', async () => {
    let dropNextCommit = false;
    const { sw, r } = await setup({
      intercept: (m, s) => {
        if (dropNextCommit && m.type === 'bundleControl' && m.ctrlType === 'commitRequest') {
          dropNextCommit = false;
          s.destroy();
          return true;
        }
        return false;
      },
    });
    const s = syntheticFlows(9);
    await r.resync(s);
    expect(sw.summary()).toEqual(want(s));
    const disconnected = new Promise((res) => r.once('disconnected', res));
    dropNextCommit = true;
    const more = portFlows(10);
    await r.apply(asChanges(more));
    await disconnected;
    expect(sw.summary()).toEqual(want([...s, ...more]));
    expect(sw.connections).toBe(2);
    expect(r.stats.resyncs).toBe(2);
    expect(r.inSync).toBe(true);
  });

  it('the switch lost its flows (restart): the reconnect replays everything without being asked', async () => {
    const { sw, r } = await setup();
    const s = syntheticFlows(12);
    await r.resync(s);
    const synced = new Promise((res) => r.once('synced', res));
    sw.dropAll(true);
    await synced;
    expect(sw.summary()).toEqual(want(s));
  });

  it('a bundle above maxBundleMessages is split; a refused flow in a later bundle keeps the earlier ones installed', async () => {
    const bad = portFlows(7)[2];
    const { sw, r } = await setup({ reject: (fm) => fm.tableId === tableId(bad.table) && fm.match.reg7?.value === 8 },
      { maxBundleMessages: 4, retryDelayMs: [60_000, 60_000] });
    await r.resync([]);
    const flows = syntheticFlows(12, 5); // ports 5..8: the bad flow is #8 of 12, in the third bundle
    const err = await r.apply(asChanges(flows)).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(FlowRejectedError);
    expect((err as FlowRejectedError).rejected.map((x) => x.flow)).toEqual([bad]);
    expect(sw.commits).toBe(2); // the empty resync sent no bundle; two bundles of 4 committed, the third discarded
    expect(sw.summary()).toEqual(want(flows.slice(0, 8)));
    expect([...r.installed.keys()]).toEqual(flows.slice(0, 8).map(flowKey));
    expect(r.inSync).toBe(false); // a resync is due (in 60 s here)
  });

  it('a flow that cannot be encoded is refused like one the switch rejects: apply fails, resync leaves it out', async () => {
    const { sw, r } = await setup({}, { retryDelayMs: [50, 50] });
    await r.resync(syntheticFlows(3));
    const broken = flow('l2', 'port-x', 'output', { priority: 9, match: { reg7: { value: 2 ** 33 } }, actions: [] });
    const good = portFlows(5);
    const synced = new Promise<SyncInfo>((res) => r.once('synced', res));
    const err = await r.apply(asChanges([...good, broken])).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(FlowRejectedError);
    expect((err as FlowRejectedError).rejected.map((x) => [x.flow, x.error])).toEqual([
      [broken, 'UNENCODABLE (value 8589934592 does not fit in 4 bytes)'],
    ]);
    const info = await synced;
    expect(info.rejected.map((x) => x.flow)).toEqual([broken]);
    expect(sw.summary()).toEqual(want([...syntheticFlows(3), ...good]));
  });

  it('other failures hold the next attempt back instead of looping hot, then recover', async () => {
    let answerDumps = false;
    const { sw, r } = await setup({
      intercept: (m) => m.type === 'flowStatsRequest' && !answerDumps,
    }, { retryDelayMs: [150, 300] });
    const errors: Error[] = [];
    r.on('error', (e) => errors.push(e));
    const done = r.resync(syntheticFlows(3));
    await sleep(2500 + 700);
    // Each attempt waits 2 s for the dump reply, then 150/300 ms: two or three attempts, not hundreds.
    const attempts = sw.received.filter((m) => m.type === 'flowStatsRequest').length;
    expect(attempts).toBeGreaterThanOrEqual(1);
    expect(attempts).toBeLessThanOrEqual(3);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    answerDumps = true;
    await done;
    expect(sw.summary()).toEqual(want(syntheticFlows(3)));
    expect(r.stats.failures).toBe(errors.length);
  }, 20_000);

  it('close() rejects waiting work and stops reconnecting', async () => {
    const { sw, r, connects } = await setup();
    await sw.stop();
    const pending = r.resync(syntheticFlows(3));
    const applying = r.apply(asChanges(portFlows(4)));
    await sleep(150);
    expect(connects()).toBeGreaterThanOrEqual(2);
    await r.close();
    await expect(pending).rejects.toBeInstanceOf(ReconcilerClosedError);
    await expect(applying).rejects.toBeInstanceOf(ReconcilerClosedError);
    const n = connects();
    await sleep(300);
    expect(connects()).toBe(n);
    await expect(r.apply(new Map())).rejects.toBeInstanceOf(ReconcilerClosedError);
  });

  it('applies before the first resync wait for it and are absorbed by it; nothing is written before', async () => {
    const { sw, r, connects } = await setup();
    const early = r.apply(asChanges(portFlows(1)));
    await sleep(100);
    expect(connects()).toBe(0);
    const s = syntheticFlows(6);
    await Promise.all([r.resync(s), early]);
    expect(sw.summary()).toEqual(want(s));
    expect(r.desired.size).toBe(6);
  });

  it('a resync asked for during another one runs after it, with the newer flows', async () => {
    const { sw, r } = await setup();
    const first = r.resync(syntheticFlows(30));
    const second = r.resync(syntheticFlows(6, 40));
    await Promise.all([first, second]);
    expect(sw.summary()).toEqual(want(syntheticFlows(6, 40)));
  });
});
