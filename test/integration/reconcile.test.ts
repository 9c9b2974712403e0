// FlowReconciler against a real Open vSwitch (private ovsdb-server + ovs-vswitchd in a test netns,
// br-int netdev, fail-mode secure): change sets, refused flows, the restart protocol of a new
// generation, and a restarted ovs-vswitchd. What the switch holds is read with ovs-ofctl.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startLocalOvs, type LocalOvs } from '../../agent/host/local-ovs.ts';
import { createNetns, deleteNetns } from '../../agent/host/netns.ts';
import { OFPP } from '../../agent/openflow/actions.ts';
import { OpenFlowConnection } from '../../agent/openflow/connection.ts';
import { parseDumpFlows, toOfctlText } from '../../agent/openflow/render.ts';
import { makeCookie } from '../../agent/pipeline/fields.ts';
import { flow, flowKey, type Flow } from '../../agent/pipeline/flow.ts';
import { FlowRejectedError, FlowReconciler, type FlowReconcilerOptions, type SyncInfo } from '../../agent/reconcile/index.ts';
import { addMod } from '../../agent/reconcile/plan.ts';
import { portFlows, syntheticFlows } from '../helpers/flowsets.ts';

const BRIDGE = 'br-int';
const HAVE_OVS = (process.env.PATH ?? '').split(':').some((d) => existsSync(join(d, 'ovs-vswitchd')));
if (!HAVE_OVS) console.warn('reconcile: ovs-vswitchd not found on PATH, suite skipped');

const dir = mkdtempSync(join(tmpdir(), 'wrc-'));
const ns = `wrc${randomBytes(4).toString('hex')}`;
let ovs: LocalOvs;
const open: FlowReconciler[] = [];

beforeAll(async () => {
  if (!HAVE_OVS) return;
  await createNetns(ns);
  ovs = await startLocalOvs({ runDir: dir, netns: ns });
  await ovs.vsctl('add-br', BRIDGE, '--', 'set', 'bridge', BRIDGE, 'datapath_type=netdev', 'fail-mode=secure');
});

afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

afterAll(async () => {
  try {
    if (HAVE_OVS) await ovs?.stop();
  } finally {
    await deleteNetns(ns).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

function reconciler(generation: number, opts: Partial<FlowReconcilerOptions> = {}): FlowReconciler {
  const path = ovs.mgmtSocket(BRIDGE);
  const r = new FlowReconciler({
    connect: () => OpenFlowConnection.connect({ path }, { requestTimeoutMs: 10_000, echoIntervalMs: 0 }),
    generation, reconnectDelayMs: [50, 500], ...opts,
  });
  open.push(r);
  return r;
}

/** What ovs-ofctl prints for these flows under this generation (sorted, statistics stripped). */
const expected = (flows: Iterable<Flow>, generation: number) =>
  [...flows].map((f) => toOfctlText(addMod(f, makeCookie(f.feature, generation, f.object)))).sort();

async function switchFlows(): Promise<string[]> {
  return parseDumpFlows(await ovs.ofctl('dump-flows', BRIDGE, '--no-names')).sort();
}

/** The dump-flows line of the flow with this cookie prefix and table, with its statistics. */
async function rawLine(match: RegExp): Promise<string> {
  const line = (await ovs.ofctl('dump-flows', BRIDGE, '--no-names')).split('\n').find((l) => match.test(l));
  if (!line) throw new Error(`no flow matches ${match}`);
  return line;
}
const stat = (line: string, name: string) => Number(new RegExp(`${name}=([0-9.]+)`).exec(line)![1]);

async function until(what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const changes = (entries: [Flow, Flow | null][]) => new Map(entries.map(([k, f]) => [flowKey(k), f]));

/** A flow hit by a PACKET_OUT to TABLE from CONTROLLER (ethertype 0x88b5), to watch its counters. */
const probe = (actions: Flow['actions'] = []) =>
  flow('base', 'probe', 'classify', { priority: 5, match: { ethType: 0x88b5 }, actions });

async function sendProbePackets(n: number): Promise<void> {
  const c = await OpenFlowConnection.connect({ path: ovs.mgmtSocket(BRIDGE) }, { echoIntervalMs: 0 });
  try {
    const frame = Buffer.from(`${'ffffffffffff'}${'fa163e000001'}88b5${'00'.repeat(46)}`, 'hex');
    for (let i = 0; i < n; i++) await c.packetOut([{ type: 'output', port: OFPP.TABLE }], frame);
  } finally {
    c.close();
  }
}

describe.skipIf(!HAVE_OVS)('FlowReconciler on a real switch', () => {
  it('writes nothing before the first resync; resync empties a bridge of strangers; apply adds, changes (in place) and deletes', async () => {
    await ovs.ofctl('add-flow', BRIDGE, 'cookie=0x77,table=0,priority=1,actions=drop');
    await ovs.ofctl('add-flow', BRIDGE, 'table=200,priority=7,ip,actions=drop');
    const r = reconciler(11);
    const early = r.apply(changes([[portFlows(99)[0], portFlows(99)[0]]]));
    await new Promise((res) => setTimeout(res, 200));
    expect(r.stats.connects).toBe(0);
    expect(await switchFlows()).toHaveLength(2);

    await r.resync([]);
    await early; // absorbed by the resync, which is newer
    expect(await switchFlows()).toEqual([]);

    const s1 = [...syntheticFlows(12), probe()];
    await r.apply(new Map(s1.map((f) => [flowKey(f), f])));
    expect(await switchFlows()).toEqual(expected(s1, 11));
    expect([...r.installed.keys()].sort()).toEqual(s1.map(flowKey).sort());

    // Counters of the probe flow, to show that an add replacing a flow keeps it (no gap, no reset).
    await sendProbePackets(3);
    const before = await rawLine(/priority=5,dl_type=0x88b5/);
    expect(stat(before, 'n_packets')).toBe(3);

    const changed = portFlows(1, { variant: 7 }); // same identities as port 1's flows, other actions
    const fresh = portFlows(20);
    const newProbe = probe([{ type: 'output', port: 42 }]);
    const s2 = [...s1.filter((f) => !['port-1', 'port-2'].includes(f.object) && f !== s1[12]), ...changed, ...fresh, newProbe];
    await r.apply(changes([
      ...changed.map((f): [Flow, Flow] => [f, f]),
      ...fresh.map((f): [Flow, Flow] => [f, f]),
      ...portFlows(2).map((f): [Flow, null] => [f, null]),
      [newProbe, newProbe],
    ]));
    expect(await switchFlows()).toEqual(expected(s2, 11));
    expect([...r.installed.keys()].sort()).toEqual(s2.map(flowKey).sort());
    const after = await rawLine(/priority=5,dl_type=0x88b5/);
    expect(after).toMatch(/actions=output:42/);
    // OVS carries the statistics of a replaced flow over (its duration restarts, though).
    expect(stat(after, 'n_packets')).toBe(3);
    expect(r.stats.flowsInstalled).toBe(s2.length);
  });

  it('coalesces change sets queued together (last writer wins) and splits big ones into bounded bundles', async () => {
    const r = reconciler(12, { maxBundleMessages: 5 });
    await r.resync([]);
    const base = syntheticFlows(12);
    const applies0 = r.stats.applies;
    const bundles0 = r.stats.bundlesSent;
    const a = r.apply(new Map(base.map((f) => [flowKey(f), f])));
    const b = r.apply(changes(portFlows(0).map((f) => [f, null])));
    const c = r.apply(changes(portFlows(0, { variant: 3 }).slice(0, 1).map((f) => [f, f])));
    await Promise.all([a, b, c]);
    expect(r.stats.applies - applies0).toBe(1);
    const want = [portFlows(0, { variant: 3 })[0], ...base.slice(3)];
    expect(r.stats.bundlesSent - bundles0).toBe(Math.ceil(want.length / 5));
    expect(await switchFlows()).toEqual(expected(want, 12));
  });

  it('a refused flow leaves the switch and `installed` untouched; a later resync installs the rest', async () => {
    const r = reconciler(13, { retryDelayMs: [300, 1000] });
    const s = syntheticFlows(6);
    await r.resync(s);
    const installed = new Map(r.installed);
    const dump = await switchFlows();
    // ct(commit) without an IP prerequisite: BAD_ACTION.MATCH_INCONSISTENT at BUNDLE_ADD time.
    const bad = flow('security_groups', 'rule-x', 'egress_ct', { priority: 10, match: {}, actions: [{ type: 'ct', commit: true, zone: 1 }] });
    const good = portFlows(30);
    const errors: Error[] = [];
    r.on('error', (e) => errors.push(e));
    const synced = new Promise<SyncInfo>((res) => r.once('synced', res));
    const err = await r.apply(changes([...good.map((f): [Flow, Flow] => [f, f]), [bad, bad], [s[0], null]]))
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(FlowRejectedError);
    const rejected = (err as FlowRejectedError).rejected;
    expect(rejected.map((x) => x.error)).toEqual(['BAD_ACTION.MATCH_INCONSISTENT']);
    expect(rejected[0].rendered).toBe('table=egress_ct, priority=10 actions=ct(commit,zone=1) [security_groups rule-x]');
    expect((err as Error).message).toContain('table=egress_ct, priority=10 actions=ct(commit,zone=1)');
    expect(new Map(r.installed)).toEqual(installed);
    expect(await switchFlows()).toEqual(dump);
    expect(errors).toHaveLength(1);

    // The scheduled resync installs everything but the bad flow.
    const info = await synced;
    expect(info.rejected.map((x) => x.rendered)).toEqual([rejected[0].rendered]);
    const want = [...s.slice(1), ...good];
    expect(await switchFlows()).toEqual(expected(want, 13));
    expect([...r.installed.keys()].sort()).toEqual(want.map(flowKey).sort());
    expect(r.stats.failures).toBe(1);
  });

  it('restart protocol: a new generation replays (old and new flows side by side), then only its own remain', async () => {
    await ovs.ofctl('del-flows', BRIDGE);
    const s1 = [...syntheticFlows(30), probe()];
    const a = reconciler(1);
    await a.resync(s1);
    expect(await switchFlows()).toEqual(expected(s1, 1));
    await a.close();
    await sendProbePackets(2);
    const probeBefore = await rawLine(/priority=5,dl_type=0x88b5/);

    // S2 overlaps S1: ports 5..9 as they were, ports 0..4 gone, ports 10..14 new, port 6 changed.
    const s2 = [
      ...syntheticFlows(15, 5).filter((f) => f.object !== 'port-6'), ...portFlows(6, { variant: 1 }),
      ...syntheticFlows(15, 10), probe(),
    ];
    const s2Keys = new Set(s2.map(flowKey));
    let midway: string[] = [];
    const b = reconciler(2, { afterReplay: async () => { midway = await switchFlows(); } });
    await b.resync(s2);
    // After the replay and before the clean-up: every S2 flow under generation 2, and every S1 flow
    // that S2 does not replace still there under generation 1. Nothing of S1 ∩ S2 was ever absent.
    expect(midway).toEqual([...expected(s2, 2), ...expected(s1.filter((f) => !s2Keys.has(flowKey(f))), 1)].sort());
    expect(await switchFlows()).toEqual(expected(s2, 2));
    const probeAfter = await rawLine(/priority=5,dl_type=0x88b5/);
    expect(probeBefore).toContain(`cookie=0x${makeCookie('base', 1, 'probe').toString(16)},`);
    expect(probeAfter).toContain(`cookie=0x${makeCookie('base', 2, 'probe').toString(16)},`);
    expect(stat(probeAfter, 'n_packets')).toBe(2);
  });

  it('a restarted ovs-vswitchd: the reconciler reconnects by itself and re-installs everything', async () => {
    await ovs.ofctl('del-flows', BRIDGE);
    const r = reconciler(3);
    const s = syntheticFlows(24);
    await r.resync(s);
    const reconnected = new Promise<void>((res) => r.once('reconnected', res));
    const resynced = new Promise<SyncInfo>((res) => r.once('synced', res));
    await ovs.restartVswitchd();
    await reconnected;
    const info = await resynced;
    expect(info.flows).toBe(s.length);
    await until('the flows to be back', 20_000, async () => {
      const got = await switchFlows().catch(() => []);
      return got.length === s.length && JSON.stringify(got) === JSON.stringify(expected(s, 3));
    });
    expect(r.stats.connects).toBeGreaterThanOrEqual(2);
    // And it goes on applying change sets on the new connection.
    const more = portFlows(40);
    await r.apply(changes(more.map((f) => [f, f])));
    expect(await switchFlows()).toEqual(expected([...s, ...more], 3));
  }, 60_000);
});
