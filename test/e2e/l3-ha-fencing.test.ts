// The L3 dead-man switch on real Open vSwitch hosts (agent/l3/dead-man.ts): an HA router active on
// g1 with g2 its standby, a floating IP probed from outside every 10 ms. g1's agent alone is killed
// (-9): its Open vSwitch and the router's namespace stay, so without the switch g1's legs would stay
// up and answer next to g2's. Its watcher sets them down within milliseconds, before the controller
// promotes g2 (l3FenceMs + margin, 400 ms after the channel closed): both hosts' legs are sampled
// throughout and are never up together; the floating IP is back within a second. The watcher then
// confirms to the controller (with g1's credential) that the legs are down, which moves the router
// at once rather than at the end of the 400 ms (printed: the confirmation's and the failover's
// times). Then g1's agent comes back: an alive standby, no probe lost. Last, a clean stop (SIGTERM)
// of the new active gateway's agent (g2): it silences its legs, tells the controller it is leaving,
// which hands the router over at once (agent/l3/handover.ts): never both active, back within 1 s.
// The replies/outage helpers are shared with l3-ha.test.ts's copy in test/helpers/probe-log.ts.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROBE, type Fabric } from '../helpers/fabric.ts';
import { haRouterFabric, l3AgentsOf } from '../helpers/ha-fabric.ts';
import { outage, replies } from '../helpers/probe-log.ts';
import type { ExternalHost } from '../../lab/lab-external.ts';
import type { LabProcess, LabVm } from '../../lab/lab.ts';
import { WATCHER_NAME } from '../../agent/l3/dead-man.ts';
import { run } from '../../agent/host/exec.ts';
import { processAlive } from '../../agent/host/local-ovs.ts';
import { legsUpOn } from '../helpers/router-legs.ts';

const P = 'project-l3-ha-fencing';
let f: Fabric;
let ext: ExternalHost;
let routerId = '';
let fipAddress = '';
let vm: LabVm;
let tmp = '';
/** The router's legs as the gateway hosts' switches see them (host-side veth ends tr-<port id[:11]>). */
let legs: string[] = [];
const procs: LabProcess[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A process's JSON log lines with message `msg` (pino's and the watcher's). */
const logged = (output: string, msg: string): Array<Record<string, any>> => output.split('\n')
  .filter((l) => l.startsWith('{') && l.includes(`"${msg}"`)).map((l) => JSON.parse(l)).filter((l) => l.msg === msg);

/** When each controller log line of a failover came, ms after t0 (the controller logs JSON lines). */
function controllerFailovers(t0: number): string {
  const out = f.controller.output();
  const confirmations = logged(out, 'dead-man watcher: HA legs down').filter((l) => l.time > t0).map((l) => `confirmation (${l.action}) at ${l.time - t0} ms`);
  const moves = logged(out, 'HA routers failed over from a lost gateway host').filter((l) => l.time > t0).map((l) => `failover (after: ${l.after}, ${l.ms} ms in the store) logged at ${l.time - t0} ms`);
  return [...confirmations, ...moves].join(', ') || 'none';
}

const l3Agents = () => l3AgentsOf(f, routerId);

const roles = async () => JSON.stringify((await l3Agents()).map((x) => [x.host, x.ha_state, x.alive]));

/** How many of the router's legs are up on a host (`ip -j link show` in its namespace). */
const legsUp = (host: string): Promise<number> => legsUpOn(f.lab.host(host), legs);

/** Every watcher pid seen (none may outlive the test). */
const watcherPids = new Set<number>();

/** Pids of dead-man watchers running in a host's namespace. */
async function watchers(host: string): Promise<number[]> {
  const { stdout } = await run('ip', ['netns', 'pids', f.lab.host(host).netns]);
  const found = stdout.split('\n').filter(Boolean).map(Number).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(WATCHER_NAME);
    } catch {
      return false; // exited meanwhile
    }
  });
  for (const pid of found) watcherPids.add(pid);
  return found;
}

/**
 * Samples both gateways' legs for `ms` after t0 (as the partition test in l3-ha.test.ts does): the
 * states seen with when they began, the moments both had legs up, when `from` first had all its
 * legs down and `to` all of its legs up (ms after t0).
 */
async function sampleLegs(t0: number, ms: number, from: string, to: string) {
  const both: number[] = [];
  const seen: string[] = [];
  let downAt: number | undefined;
  let upAt: number | undefined;
  while (Date.now() - t0 < ms) {
    const [a, b] = await Promise.all([legsUp(from), legsUp(to)]);
    const at = Date.now() - t0;
    const state = `${from}:${a}/${to}:${b}`;
    if (seen.at(-1)?.split('@')[0] !== state) seen.push(`${state}@${at}ms`);
    if (a > 0 && b > 0) both.push(at);
    if (a === 0) downAt ??= at;
    if (b === legs.length) upAt ??= at;
  }
  return { both, seen, downAt, upAt };
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'weft-l3haf-'));
  ({ f, ext, vm, fipAddress, legs, router: { id: routerId } } = await haRouterFabric({
    project: P, routerName: 'r-ha-fencing', outsidePrefix: '172.31.202', tenantPrefix: '10.31.0',
    // The controller's failover and confirmation lines are printed (controllerFailovers).
    controllerEnv: { WEFT_LOG_LEVEL: 'info' },
  }));
}, 240_000);

afterAll(async () => {
  for (const p of procs) await p.stop('SIGKILL').catch(() => undefined);
  await f?.destroy();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  // Nothing of ours outlives the lab: every watcher seen is gone.
  expect([...watcherPids].filter(processAlive)).toEqual([]);
}, 60_000);

describe('HA router fencing when the gateway agent dies but its switch runs on', () => {
  const fipFile = () => join(tmp, 'fip.txt');

  it('the dead agent\'s legs go down before the standby\'s come up; the floating IP is back within a second', async () => {
    await f.until('g1 active, g2 standby, both alive', async () => (await roles()) === JSON.stringify([['g1', 'active', true], ['g2', 'standby', true]]), 60_000);
    await f.until('g2 applied the router as a standby', async () => /"role":"standby","legs":"silent"/.test(f.agents.get('g2')!.output()), 60_000);
    await f.until('g1 legs up, g2 legs down', async () => (await legsUp('g1')) === legs.length && (await legsUp('g2')) === 0, 30_000);
    // Each gateway's agent keeps a watcher (the standby's guards nothing yet: a promotion only writes it a line).
    expect(await watchers('g1')).toHaveLength(1);
    expect(await watchers('g2')).toHaveLength(1);

    const server = vm.spawn([process.execPath, PROBE, 'serve-udp-tag', '7001', 'vm']);
    procs.push(server);
    await f.until('server listening', async () => server.output().includes('listening'));
    const probe = ext.spawn([process.execPath, PROBE, 'udp-probe', fipAddress, '7001', '40031', '10', fipFile()]);
    procs.push(probe);
    await f.until('the floating IP answers', async () => replies(fipFile()).length > 50, 60_000);

    // g1's agent dies (kill -9); its Open vSwitch and the router's namespace stay.
    const g1 = f.agents.get('g1')!;
    const vswitchd = f.lab.host('g1').ovs.vswitchdPid();
    const killAt = Date.now();
    const killed = g1.kill('SIGKILL');
    const { both, seen, downAt: g1DownAt, upAt: g2UpAt } = await sampleLegs(killAt, 3000, 'g1', 'g2');
    await killed;
    await f.until('the floating IP answers again', async () => replies(fipFile()).filter((r) => r.sent > killAt + 100).length > 20, 30_000);
    await sleep(500);
    const cut = outage(replies(fipFile()), killAt - 1000, Date.now() - 500);
    const watcherLine = g1.output().split('\n').find((l) => l.includes('agent gone: HA router legs set down'));
    const watcherLog = watcherLine ? (JSON.parse(watcherLine) as { time: number; eof: number; confirmAnswered: number; confirmStatus: string }) : undefined;
    // When g2's agent logged its legs switched active (just after `ip` brought them up).
    const switched = f.agents.get('g2')!.output().split('\n').filter((l) => l.includes('"router legs switched"') && l.includes('"legs":"active"'))
      .map((l) => JSON.parse(l).time as number).find((t) => t > killAt);
    console.log(`HA fencing (kill -9 of g1's agent, its Open vSwitch running): legs up over time ${seen.join(' -> ')}; `
      + `g1's watcher saw the pipe close ${watcherLog && watcherLog.eof - killAt} ms after the kill and had set its legs down at ${watcherLog && watcherLog.time - killAt} ms (its log), `
      + `g2's agent logged its legs switched active at ${switched && switched - killAt} ms; first sample with g1 down at ${g1DownAt} ms, `
      + `g2 all up at ${g2UpAt} ms; floating IP outage ${cut.ms} ms (${cut.lost} probes lost), probes every 10 ms; `
      + `the watcher's confirmation answered ${watcherLog?.confirmStatus} at ${watcherLog && watcherLog.confirmAnswered - killAt} ms; `
      + `the controller: ${controllerFailovers(killAt)}`);

    expect(f.lab.host('g1').ovs.vswitchdPid()).toBe(vswitchd); // its switch ran on throughout
    expect(f.lab.host('g1').ovs.vswitchdRunning()).toBe(true);
    expect(watcherLine, 'the watcher logged its action into the agent\'s output').toBeDefined();
    expect(watcherLog!.confirmStatus, 'the controller took the watcher\'s confirmation').toBe('202');
    expect(both, 'moments (ms after the kill) when both gateways had legs up').toEqual([]);
    expect(g1DownAt).toBeDefined();
    expect(g2UpAt).toBeDefined();
    expect(g1DownAt!).toBeLessThan(g2UpAt!);
    expect(seen.at(-1)).toMatch(new RegExp(`^g1:0/g2:${legs.length}@`));
    expect(cut.ms).toBeLessThan(1000);
    // The watcher has exited; g1's router namespace is still there (only its legs are down).
    expect(await watchers('g1')).toEqual([]);
    expect((await f.lab.host('g1').exec(['ip', 'link', 'show', legs[0]!])).code).toBe(0);
    await f.until('g2 active, g1 standby (not alive)', async () => (await roles()) === JSON.stringify([['g2', 'active', true], ['g1', 'standby', false]]));
  }, 180_000);

  it('g1\'s agent comes back as an alive standby, and no probe is lost', async () => {
    const g1 = f.agents.get('g1')!;
    const backAt = Date.now();
    g1.start();
    await f.until('g1 back as an alive standby', async () => (await roles()) === JSON.stringify([['g2', 'active', true], ['g1', 'standby', true]]), 60_000);
    await f.until('g1 applied the router as a standby', async () => /"role":"standby","legs":"silent"/.test(g1.output()), 60_000);
    await sleep(2000);
    const doneAt = Date.now() - 500;
    const back = outage(replies(fipFile()), backAt, doneAt);
    console.log(`HA fencing, return of g1's agent (${Math.round((doneAt - backAt) / 1000)} s watched): floating IP ${back.lost} probes lost (longest gap ${back.ms} ms)`);
    expect(back.lost).toBe(0);
    expect(await legsUp('g1')).toBe(0);
    expect(await legsUp('g2')).toBe(legs.length);
    // One watcher per agent: the dead agent's is long gone, the new one has its own.
    expect(await watchers('g1')).toHaveLength(1);
    expect(await watchers('g2')).toHaveLength(1);
  }, 120_000);

  it('a clean stop (SIGTERM) of the active gateway\'s agent hands the router over at once: never both active, back within a second', async () => {
    const g2 = f.agents.get('g2')!;
    const before = g2.output().length;
    const stopAt = Date.now();
    const stopped = g2.kill('SIGTERM');
    const { both, seen, downAt, upAt } = await sampleLegs(stopAt, 3000, 'g2', 'g1');
    await stopped;
    await f.until('the floating IP answers again', async () => replies(fipFile()).filter((r) => r.sent > stopAt + 100).length > 20, 30_000);
    await sleep(500);
    const cut = outage(replies(fipFile()), stopAt - 1000, Date.now() - 500);
    const out = g2.output().slice(before);
    const at = (msg: string) => logged(out, msg).map((l) => l.time - stopAt)[0];
    const g1Active = logged(f.agents.get('g1')!.output(), 'router legs switched').filter((l) => l.legs === 'active' && l.time > stopAt).map((l) => l.time - stopAt)[0];
    console.log(`HA fencing, clean stop (SIGTERM) of g2's agent: legs up over time ${seen.join(' -> ')}; `
      + `g2 down at ${downAt} ms, g1 all up at ${upAt} ms (samples); g2 silenced its routers and told the controller at ${at('stopping: HA routers silenced, the controller told to hand them over')} ms, `
      + `saw them handed over at ${at('stopping: the HA routers were handed over')} ms; the controller: ${controllerFailovers(stopAt)}; `
      + `g1's agent logged its legs switched active at ${g1Active} ms; floating IP outage ${cut.ms} ms (${cut.lost} probes lost)`);
    expect(out).toMatch(/stopping: the HA routers were handed over/);
    expect(logged(f.controller.output(), 'HA routers failed over from a lost gateway host').some((l) => l.after === 'leaving' && l.host === 'g2')).toBe(true);
    expect(both, 'moments (ms after SIGTERM) when both gateways had legs up').toEqual([]);
    expect(seen.at(-1)).toMatch(new RegExp(`^g2:0/g1:${legs.length}@`));
    expect(cut.ms).toBeLessThan(1000);
    expect(await watchers('g2')).toEqual([]);
    await f.until('g1 active, g2 standby (not alive)', async () => (await roles()) === JSON.stringify([['g1', 'active', true], ['g2', 'standby', false]]));
  }, 120_000);
});
