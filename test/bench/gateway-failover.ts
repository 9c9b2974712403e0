import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFabric, PROBE, type Fabric } from '../helpers/fabric.ts';
import { network, port, portStatus, subnet } from '../helpers/fabric-model.ts';
import { outage, replies, type Outage } from '../helpers/probe-log.ts';
import { attachExternal, type ExternalHost } from '../../lab/lab-external.ts';
import type { LabProcess } from '../../lab/lab.ts';
import { median } from './stats.ts';

// HA router failover of a whole gateway host (issue 13): two gateway hosts g1 and g2, a compute
// host c1 (its agent admin-down, so it carries no router) and an outside host on the flat external
// network. Every HA router is active on the same gateway, each with an external gateway (SNAT), an
// internal subnet on its own network and a floating IP. The probed routers (the first and the last
// by id: the order in which the controller moves them and the new gateway promotes them) have a VM
// on c1 behind them; a UDP probe every 10 ms goes from outside to the VM's floating IP, and one from
// the VM to the outside (SNAT). Each failover kills -9 the active gateway's agent and stops its Open
// vSwitch; the outage is read from the probes' timestamps (test/helpers/probe-log.ts). The old
// gateway then comes back (its agent restarted, which starts its switch) and, once it is an alive
// standby with every router applied, the next failover goes the other way (ping-pong).
// Target (issue 13): median <= 500 ms, max <= 1 s, with 1 router and with 100. Prints JSON lines:
// one per failover (outages, probes lost, and where the time went from the logs), one summary per
// probed router and scenario. WEFT_BENCH_GWF_ROUTERS (default "1,100"), WEFT_BENCH_GWF_FAILOVERS
// (default 10; or one count per scenario, "10,3"), WEFT_BENCH_GWF_LOGS=DIR keeps the processes' logs.

const P = 'bench-gwf';
const OUTSIDE = '172.29.0.1';
const PROBE_MS = 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const UNDERLAY_FAILED_OVER = 'HA routers failed over from a gateway host cut off from the underlay';
/** The controller's log messages for a move of a gateway's HA routers. */
const FAILED_OVER = new Set(['HA routers failed over from a lost gateway host', UNDERLAY_FAILED_OVER]);
const line = (o: object) => console.log(JSON.stringify({ bench: 'gateway-failover', ...o }));

interface Probed { router: string; position: number; fip: string; fipFile: string; snatFile: string }
interface LogLine { msg: string; time: number; router?: string; role?: string; legs?: string; routers?: Record<string, string> }

/** The JSON log lines in `text` (the agents' and the controller's pino output). */
function logLines(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const l of text.split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      out.push(JSON.parse(l));
    } catch { /* a line cut by a read in the middle */ }
  }
  return out;
}

/** The routers an agent's output shows applied as `role`. */
function appliedAs(text: string, role: 'active' | 'standby'): Set<string> {
  return new Set(logLines(text).filter((l) => l.msg === 'router applied' && l.role === role).map((l) => l.router!));
}

async function build(f: Fabric, ext: ExternalHost, routers: number, tmp: string): Promise<{ probed: Probed[]; procs: LabProcess[] }> {
  // Every agent admin-down while the model is made: no router is placed, so each gateway builds
  // each router once, in full, when it is let in, instead of after every step. g1 is let in first,
  // so every router is placed there (active), then g2 (standby). c1 stays down: it carries no router.
  const { agents } = await f.api('GET', '/v2.0/agents');
  const adminState = (host: string, up: boolean) => f.api('PUT', `/v2.0/agents/${agents.find((a: any) => a.host === host).id}`, { agent: { admin_state_up: up } });
  for (const h of ['c1', 'g1', 'g2']) await adminState(h, false);
  await f.api('PUT', `/v2.0/quotas/${P}`, { quota: { network: -1, subnet: -1, port: -1, router: -1, floatingip: -1 } });
  const extNet = await network(f, 'admin-project', { 'router:external': true, 'provider:network_type': 'flat', 'provider:physical_network': 'physnet1' });
  await subnet(f, 'admin-project', extNet, '172.29.0.0/16', { gateway_ip: OUTSIDE, allocation_pools: [{ start: '172.29.1.1', end: '172.29.3.254' }] });
  const made: Array<{ router: string; net: string; sub: string; i: number }> = [];
  for (let i = 0; i < routers; i++) {
    const net = await network(f, P);
    const sub = await subnet(f, P, net, `10.40.${i}.0/24`, { gateway_ip: `10.40.${i}.1` });
    const { router } = await f.api('POST', '/v2.0/routers', { router: { name: `r${i}`, project_id: P, ha: true, external_gateway_info: { network_id: extNet } } });
    await f.api('PUT', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: sub });
    made.push({ router: router.id, net, sub, i });
  }
  // The controller moves a gateway's routers in id order, and the new gateway promotes them in that order.
  made.sort((a, b) => (a.router < b.router ? -1 : 1));
  const probedAt = new Set(routers === 1 ? [0] : [0, routers - 1]);
  const probed: Probed[] = [];
  const procs: LabProcess[] = [];
  let sgRule = false;
  for (const [position, m] of made.entries()) {
    const ip = `10.40.${m.i}.5`;
    if (!probedAt.has(position)) {
      // Not probed: a floating IP on an unplugged port, so the router has what a probed one has.
      const p = await port(f, P, m.net, '', { fixed_ips: [{ ip_address: ip }] });
      await f.api('POST', '/v2.0/floatingips', { floatingip: { floating_network_id: extNet, project_id: P, port_id: p.id } });
      continue;
    }
    const p = await port(f, P, m.net, 'c1', { name: `vm${m.i}`, fixed_ips: [{ ip_address: ip }] });
    const vm = await f.lab.plug('c1', { name: `vm${m.i}`, portId: p.id, mac: p.mac_address, ip: `${ip}/24`, gateway: `10.40.${m.i}.1` });
    await f.until(`vm${m.i} ACTIVE`, async () => (await portStatus(f, p.id)) === 'ACTIVE', 60_000);
    if (!sgRule) {
      sgRule = true;
      await f.api('POST', '/v2.0/security-group-rules', { security_group_rule: {
        security_group_id: p.security_groups[0], direction: 'ingress', ethertype: 'IPv4', protocol: 'udp', port_range_min: 7001, port_range_max: 7001, remote_ip_prefix: '0.0.0.0/0',
      } });
    }
    const { floatingip } = await f.api('POST', '/v2.0/floatingips', { floatingip: { floating_network_id: extNet, project_id: P, port_id: p.id } });
    const server = vm.spawn([process.execPath, PROBE, 'serve-udp-tag', '7001', `vm${m.i}`]);
    procs.push(server);
    await f.until('server listening', async () => server.output().includes('listening'));
    const fipFile = join(tmp, `fip-${position}.txt`);
    const snatFile = join(tmp, `snat-${position}.txt`);
    procs.push(ext.spawn([process.execPath, PROBE, 'udp-probe', floatingip.floating_ip_address, '7001', String(40100 + position), String(PROBE_MS), fipFile]));
    procs.push(vm.spawn([process.execPath, PROBE, 'udp-probe', OUTSIDE, '7002', String(40100 + position), String(PROBE_MS), snatFile]));
    probed.push({ router: m.router, position, fip: floatingip.floating_ip_address, fipFile, snatFile });
  }
  await adminState('g1', true);
  await adminState('g2', true);
  return { probed, procs };
}

async function l3Agents(f: Fabric, router: string): Promise<string> {
  const { agents } = await f.api('GET', `/v2.0/routers/${router}/l3-agents`);
  return JSON.stringify(agents.map((a: any) => [a.host, a.ha_state, a.alive]));
}

/** Until `active` has every router active and `standby` (its output from `since`) every router applied as a standby. */
async function settled(f: Fabric, routers: number, probed: Probed[], active: string, standby: string, since: number, timeoutMs: number): Promise<void> {
  const want = JSON.stringify([[active, 'active', true], [standby, 'standby', true]]);
  await f.until(`${active} active, ${standby} an alive standby`, async () => {
    for (const p of probed) if ((await l3Agents(f, p.router)) !== want) return false;
    return true;
  }, timeoutMs);
  await f.until(`${standby} applied its ${routers} routers as a standby`, async () =>
    appliedAs(f.agents.get(standby)!.output().slice(since), 'standby').size >= routers, timeoutMs);
}

const stats = (xs: Outage[]) => ({
  medianMs: median(xs.map((o) => o.ms)), maxMs: Math.max(...xs.map((o) => o.ms)),
  lostTotal: xs.reduce((s, o) => s + o.lost, 0), lostPerFailover: xs.map((o) => o.lost),
});

async function scenario(routers: number, failovers: number): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'weft-gwf-'));
  // The controller at info: it logs when it moved the routers (the failover decision's time).
  const f = await createFabric({ hosts: ['g1', 'g2', 'c1'], provider: true, controllerEnv: { WEFT_LOG_LEVEL: 'info' } });
  const procs: LabProcess[] = [];
  try {
    const setupAt = Date.now();
    const ext = await attachExternal(f.lab, `${OUTSIDE}/16`);
    const server = ext.spawn([process.execPath, PROBE, 'serve-udp-tag', '7002', 'ext']);
    procs.push(server);
    await f.until('outside server listening', async () => server.output().includes('listening'));
    const built = await build(f, ext, routers, tmp);
    procs.push(...built.procs);
    const { probed } = built;
    await settled(f, routers, probed, 'g1', 'g2', 0, 600_000);
    await f.until('every probe answered', async () => probed.every((p) => replies(p.fipFile).length > 50 && replies(p.snatFile).length > 50), 60_000);
    line({ routers, event: 'ready', setupSeconds: Math.round((Date.now() - setupAt) / 1000), probedPositions: probed.map((p) => p.position + 1),
      eachRouter: 'HA (2 gateway hosts), external gateway with SNAT, one internal subnet on its own network, one floating IP' });

    const results: Array<{ fip: Outage[]; snat: Outage[] }> = probed.map(() => ({ fip: [], snat: [] }));
    let active = 'g1';
    let standby = 'g2';
    for (let n = 1; n <= failovers; n++) {
      const failing = f.agents.get(active)!;
      const promotedSince = f.agents.get(standby)!.output().length;
      const controllerSince = f.controller.output().length;
      const failAt = Date.now();
      await failing.kill('SIGKILL');
      const killedMs = Date.now() - failAt;
      await f.lab.host(active).ovs.stop();
      const ovsStoppedMs = Date.now() - failAt;
      // Only the probe files are watched until the traffic is back: no API calls in the way.
      const back = (file: string) => replies(file).filter((r) => r.sent > failAt + 100).length > 20;
      await f.until('every probe answered again', async () => probed.every((p) => back(p.fipFile) && back(p.snatFile)), 60_000);
      await sleep(1000);
      const to = Date.now() - 500;
      const fip = probed.map((p, k) => { const o = outage(replies(p.fipFile), failAt - 1000, to); results[k].fip.push(o); return o; });
      const snat = probed.map((p, k) => { const o = outage(replies(p.snatFile), failAt - 1000, to); results[k].snat.push(o); return o; });
      // Where the time went: the controller's move, the new gateway's flows for the ports it now
      // carries (its slow 'changes applied') and leg switches (first and last router).
      const controllerLog = logLines(f.controller.output().slice(controllerSince));
      // The first move: for the lost agent (gateway-failover.ts) or for the host cut off from the underlay (underlay-failover.ts, BFD).
      const moved = controllerLog.find((l) => FAILED_OVER.has(l.msg));
      const disconnected = controllerLog.find((l) => l.msg === 'agent disconnected');
      const promotedLog = logLines(f.agents.get(standby)!.output().slice(promotedSince));
      const together = promotedLog.find((l) => l.msg === 'router legs switched together') as (LogLine & { ms: number }) | undefined;
      const flows = promotedLog.find((l) => l.msg === 'changes applied' && l.time > failAt && (l as { ms?: number }).ms! >= 100) as
        (LogLine & { ms: number; modelMs?: number; compileMs?: number; switchMs?: number; flowChanges?: number }) | undefined;
      const switched = promotedLog
        .filter((l) => (l.msg === 'router legs switched' || l.msg === 'router applied') && l.role === 'active').map((l) => ({ router: l.router!, ms: l.time - failAt }));
      const order = [...new Map(switched.map((s) => [s.router, s.ms])).keys()];
      line({
        routers, failover: n, from: active, to: standby,
        fip: fip.map((o, k) => ({ position: probed[k].position + 1, ms: o.ms, lost: o.lost })),
        snat: snat.map((o, k) => ({ position: probed[k].position + 1, ms: o.ms, lost: o.lost })),
        killedMs, ovsStoppedMs, controllerSawCloseMs: disconnected ? disconnected.time - failAt : null, controllerMovedMs: moved ? moved.time - failAt : null, routersMoved: moved?.routers ? Object.keys(moved.routers).length : null,
        movedFor: moved ? (moved.msg === UNDERLAY_FAILED_OVER ? 'underlay' : 'agent lost') : null,
        legsFirstMs: switched.length ? Math.min(...switched.map((s) => s.ms)) : null, legsLastMs: switched.length ? Math.max(...switched.map((s) => s.ms)) : null,
        probedPromotedAt: probed.map((p) => order.indexOf(p.router) + 1),
        // One `ip -batch` for every router (agent/l3/legs.ts): when it started and how long it took.
        ...(together ? { legsBatchStartMs: together.time - together.ms - failAt, legsBatchMs: together.ms } : {}),
        ...(flows ? { flowsBatchStartMs: flows.time - flows.ms - failAt, flowsBatchMs: flows.ms } : {}),
        // Where the flows batch went (agent.ts 'changes applied'): model + L3 replan, compile, switch (bundle commit).
        ...(flows?.compileMs !== undefined ? { flowsBatch: { modelMs: flows.modelMs, compileMs: flows.compileMs, switchMs: flows.switchMs, flowChanges: flows.flowChanges } } : {}),
      });
      // The old primary comes back as a standby; the next failover goes the other way.
      const restartedSince = failing.output().length;
      const controllerBefore = f.controller.output().length;
      const restartAt = Date.now();
      failing.start();
      await settled(f, routers, probed, standby, active, restartedSince, 600_000);
      // Any other failover meanwhile (the new active gateway's agent lost, e.g. starved of CPU) is a finding.
      const unexpected = logLines(f.controller.output().slice(controllerBefore)).filter((l) => FAILED_OVER.has(l.msg)).length;
      line({ routers, failover: n, event: 'standby back', seconds: Math.round((Date.now() - restartAt) / 1000), unexpectedFailovers: unexpected });
      [active, standby] = [standby, active];
      // The new active gateway's activation announcements (three, a second apart) are over.
      await sleep(3000);
    }
    for (const [k, p] of probed.entries()) {
      line({ routers, summary: true, probedPosition: p.position + 1, failovers, probeEveryMs: PROBE_MS, routersOnFailingGateway: routers,
        fip: stats(results[k].fip), snat: stats(results[k].snat) });
    }
    // The scenario as a whole: every probed router's outage in every failover.
    line({ routers, summary: 'scenario', probedPositions: probed.map((p) => p.position + 1), failovers, probeEveryMs: PROBE_MS, routersOnFailingGateway: routers,
      fip: { ...stats(results.flatMap((r) => r.fip)), lostPerFailover: undefined }, snat: { ...stats(results.flatMap((r) => r.snat)), lostPerFailover: undefined },
      target: 'median <= 500 ms, max <= 1000 ms' });
  } finally {
    // WEFT_BENCH_GWF_LOGS=DIR: every agent's and the controller's output is kept there (profiling).
    const logs = process.env.WEFT_BENCH_GWF_LOGS;
    if (logs) {
      mkdirSync(logs, { recursive: true });
      for (const [host, a] of f.agents) writeFileSync(join(logs, `${routers}-${host}.log`), a.output());
      writeFileSync(join(logs, `${routers}-controller.log`), f.controller.output());
    }
    for (const p of procs) await p.stop('SIGKILL').catch(() => undefined);
    await f.destroy();
    rmSync(tmp, { recursive: true, force: true });
  }
}

export async function gatewayFailoverBench(): Promise<void> {
  // WEFT_BENCH_GWF_FAILOVERS: one count for every scenario, or one per scenario ("10,3").
  const counts = (process.env.WEFT_BENCH_GWF_FAILOVERS ?? '10').split(',').map(Number);
  const sizes = (process.env.WEFT_BENCH_GWF_ROUTERS ?? '1,100').split(',').map(Number);
  for (const [k, routers] of sizes.entries()) await scenario(routers, counts[Math.min(k, counts.length - 1)]!);
}
