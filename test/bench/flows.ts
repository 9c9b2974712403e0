import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../agent/host/exec.ts';
import type { LocalOvs } from '../../agent/host/local-ovs.ts';
import { OpenFlowConnection } from '../../agent/openflow/connection.ts';
import { toOfctlText } from '../../agent/openflow/render.ts';
import { flowKey, type Flow } from '../../agent/pipeline/flow.ts';
import { addMod, CookieJar } from '../../agent/reconcile/plan.ts';
import { FlowReconciler, type SyncInfo } from '../../agent/reconcile/reconciler.ts';
import { FLOWS_PER_PORT, syntheticFlows } from '../helpers/flowsets.ts';
import { PRIVATE_BRIDGE, withPrivateSwitch } from './private-switch.ts';

// Flow installation figures against a private ovs-vswitchd (userspace datapath, in its own netns):
// N distinct flows pushed (a) by FlowReconciler.apply as one change set and (b) by
// `ovs-ofctl -O OpenFlow13 --bundle add-flows` from a file of the same flows, each timed from start
// until the flows are installed (apply resolved / ovs-ofctl exited), the bridge emptied with
// del-flows in between (a benchmark may flush; the agent never does). Then the restart protocol:
// a new generation resyncs to a set that overlaps half of the installed one (replay N, delete N/2).
// WEFT_BENCH_FLOWS=20000,100000 picks the sizes; WEFT_BENCH_ROUNDS the rounds per method (best kept).

const SIZES = (process.env.WEFT_BENCH_FLOWS ?? '20000,100000').split(',').map(Number).filter((n) => n > 0);
const ROUNDS = Number(process.env.WEFT_BENCH_ROUNDS ?? 3);
const BRIDGE = PRIVATE_BRIDGE;

const rate = (n: number, ms: number) => `${Math.round(n / (ms / 1000)).toLocaleString('en-US')} flows/s`;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function flowCount(ovs: LocalOvs): Promise<number> {
  const out = await ovs.ofctl('dump-aggregate', BRIDGE);
  const m = /flow_count=(\d+)/.exec(out);
  if (!m) throw new Error(`dump-aggregate: ${out}`);
  return Number(m[1]);
}

async function expectCount(ovs: LocalOvs, n: number, what: string): Promise<void> {
  const got = await flowCount(ovs);
  if (got !== n) throw new Error(`${what}: the switch holds ${got} flows, expected ${n}`);
}

function reconciler(ovs: LocalOvs, generation: number): FlowReconciler {
  const path = ovs.mgmtSocket(BRIDGE);
  return new FlowReconciler({ connect: () => OpenFlowConnection.connect({ path }, { requestTimeoutMs: 120_000 }), generation });
}

async function timeOfctl(ovs: LocalOvs, file: string, n: number): Promise<number> {
  await ovs.ofctl('del-flows', BRIDGE);
  const t0 = performance.now();
  await run('ovs-ofctl', ['-O', 'OpenFlow13', '--bundle', 'add-flows', `unix:${ovs.mgmtSocket(BRIDGE)}`, file], { timeoutMs: 300_000 });
  const ms = performance.now() - t0;
  await expectCount(ovs, n, 'ovs-ofctl --bundle add-flows');
  return ms;
}

async function timeApply(ovs: LocalOvs, flows: readonly Flow[]): Promise<number> {
  await ovs.ofctl('del-flows', BRIDGE);
  const r = reconciler(ovs, 1);
  try {
    await r.resync([]); // connects; the bridge is empty
    const changes = new Map(flows.map((f) => [flowKey(f), f]));
    const t0 = performance.now();
    await r.apply(changes);
    const ms = performance.now() - t0;
    await expectCount(ovs, flows.length, 'FlowReconciler.apply');
    return ms;
  } finally {
    await r.close();
  }
}

async function benchSize(n: number): Promise<void> {
  await withPrivateSwitch('secure', async ({ ovs, dir }) => {
    const flows = syntheticFlows(n);
    const jar = new CookieJar(1);
    const file = join(dir, 'flows.txt');
    writeFileSync(file, `${flows.map((f) => toOfctlText(addMod(f, jar.cookieOf(f)))).join('\n')}\n`);
    const ofctl: number[] = [];
    const ours: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      ofctl.push(await timeOfctl(ovs, file, n));
      ours.push(await timeApply(ovs, flows));
    }
    const a = Math.min(...ours);
    const b = Math.min(...ofctl);
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    console.log(`flows: ${n} flows, one change set, best of ${ROUNDS} (interleaved): FlowReconciler.apply ${secs(a)} = ${rate(n, a)}; `
      + `ovs-ofctl --bundle add-flows ${secs(b)} = ${rate(n, b)}; ours/ovs-ofctl = ${Math.round((b / a) * 100)} % `
      + `(medians ${secs(median(ours))} vs ${secs(median(ofctl))}: ${Math.round((median(ofctl) / median(ours)) * 100)} %)`);

    // Restart protocol: generation 1 holds the flows of ports 0.., generation 2 wants ports shifted by half.
    await ovs.ofctl('del-flows', BRIDGE);
    const old = reconciler(ovs, 1);
    await old.resync(flows);
    await old.close();
    const shift = Math.floor(n / FLOWS_PER_PORT / 2);
    const next = syntheticFlows(n, shift);
    const b2 = reconciler(ovs, 2);
    try {
      const synced = new Promise<SyncInfo>((resolve) => b2.once('synced', resolve));
      const t0 = performance.now();
      await b2.resync(next);
      const ms = performance.now() - t0;
      const info = await synced;
      await expectCount(ovs, n, 'resync');
      console.log(`flows: resync of ${n} flows by a new generation over ${n} old ones (${info.deleted} leftovers): `
        + `${secs(ms)} (flow keys + connect ${secs(ms - info.durationMs)}, replay ${secs(info.replayMs)}, dump of ${info.dumped} `
        + `${secs(info.dumpMs)}, delete ${secs(info.durationMs - info.replayMs - info.dumpMs)})`);
    } finally {
      await b2.close();
    }
  });
}

export async function flowsBench(): Promise<void> {
  for (const n of SIZES) await benchSize(n);
}
