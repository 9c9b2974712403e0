// HA routers when the active gateway's underlay link is cut (its agent still hears the controller
// over the management network, and the external network still reaches it over the provider trunk):
// two gateway hosts (g1 active, g2 standby) and a compute host (c1) with a VM behind an HA router,
// a floating IP probed from outside and SNAT from the VM every 10 ms. Hosts run BFD between pairs
// where one is a gateway host (agent/underlay): g1 and g2 to every other host, c1 to g1 and g2 (with
// one compute host that is every pair; test/integration/bfd-ports.test.ts shows a pair of compute
// hosts without a session). g1's underlay port on the fabric is set down: g2 and c1 report
// g1 lost, the controller moves the router to g2, and g1, which lost both its peers, silences its
// legs itself. The probes resume within a second; the two gateways never have their legs up
// together. The link comes back: no second outage, g2 stays active.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ip } from '../../agent/host/netns.ts';
import { BFD_TUNNEL_KEY, bfdPortName } from '../../agent/underlay/bfd-plan.ts';
import type { ExternalHost } from '../../lab/lab-external.ts';
import type { LabProcess, LabVm } from '../../lab/lab.ts';
import { PROBE, type Fabric } from '../helpers/fabric.ts';
import { haRouterFabric, l3AgentsOf } from '../helpers/ha-fabric.ts';
import { legsUpOn } from '../helpers/router-legs.ts';
import { outage, replies } from '../helpers/probe-log.ts';

const P = 'project-l3-ha-underlay';
const OUTSIDE = '172.31.202.100';
const HOSTS = ['g1', 'g2', 'c1'];
let f: Fabric;
let ext: ExternalHost;
let routerId = '';
let fipAddress = '';
let vm: LabVm;
let tmp = '';
let legs: string[] = [];
let tenantVni = 0;
const procs: LabProcess[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const l3Agents = async () => JSON.stringify((await l3AgentsOf(f, routerId)).map((x) => [x.host, x.ha_state, x.alive]));

/** Whether any of the router's legs is up on `host`. */
const legsUp = async (host: string): Promise<boolean> => (await legsUpOn(f.lab.host(host), legs)) > 0;

/** The BFD ports of a host's br-int: name -> [remote_ip, key, BFD state]. */
async function bfdPorts(host: string): Promise<Record<string, [string, string, string]>> {
  const out = await f.lab.host(host).ovs.vsctl('--format=json', '--columns=name,options,bfd_status', 'find', 'Interface', 'external_ids:weft-role=bfd');
  const rows = JSON.parse(out).data as Array<[string, ['map', [string, string][]], ['map', [string, string][]]]>;
  return Object.fromEntries(rows.map(([name, opts, status]): [string, [string, string, string]] => {
    const o = Object.fromEntries(opts[1]);
    return [name, [o.remote_ip!, o.key!, Object.fromEntries(status[1]).state ?? '-']];
  }).sort(([a], [b]) => a.localeCompare(b)));
}

/** Samples both gateways' legs for `ms`: the states seen in order, and the moments both were up. */
async function sampleLegs(since: number, ms: number): Promise<{ seen: string[]; both: number[] }> {
  const seen: string[] = [];
  const both: number[] = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const [a, b] = await Promise.all([legsUp('g1'), legsUp('g2')]);
    const state = `${a ? 'g1' : '-'}/${b ? 'g2' : '-'}`;
    if (seen.at(-1)?.split('@')[0] !== state) seen.push(`${state}@${Date.now() - since}ms`);
    if (a && b) both.push(Date.now() - since);
  }
  return { seen, both };
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'weft-l3hau-'));
  // c1 is admin-down (no routers there), yet it still runs BFD and reports: admin state is about
  // placement, not about probing.
  let netId = '';
  ({ f, ext, vm, fipAddress, legs, tenantNetworkId: netId, router: { id: routerId } } = await haRouterFabric({
    project: P, routerName: 'r-ha-underlay', outsidePrefix: '172.31.202', tenantPrefix: '10.31.0', controllerEnv: { WEFT_LOG_LEVEL: 'info' },
  }));
  tenantVni = (await f.api('GET', `/v2.0/networks/${netId}`)).network['provider:segmentation_id'];
}, 240_000);

afterAll(async () => {
  for (const p of procs) await p.stop('SIGKILL').catch(() => undefined);
  await f?.destroy();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 60_000);

describe('HA routers: underlay failure of the active gateway', () => {
  it('the gateway hosts run a BFD session to every other VTEP, c1 to the gateway hosts, on key-0 ports, and they come up', async () => {
    // g1 and g2 map the external network's physnet; c1 is admin-down (no routers there), so it is
    // no gateway host, yet it still probes the gateways and reports: admin state is about placement.
    const peers: Record<string, string[]> = { g1: ['g2', 'c1'], g2: ['g1', 'c1'], c1: ['g1', 'g2'] };
    for (const h of HOSTS) {
      const want = Object.fromEntries(peers[h]!.map((o): [string, string[]] => {
        const peerIp = f.lab.host(o).tunnelIp;
        return [bfdPortName(peerIp), [peerIp, String(BFD_TUNNEL_KEY), 'up']];
      }).sort(([a], [b]) => a.localeCompare(b)));
      await f.until(`BFD sessions of ${h} up`, async () => JSON.stringify(await bfdPorts(h)) === JSON.stringify(want), 30_000);
    }
    await f.until('g1 active, g2 standby', async () => (await l3Agents()) === JSON.stringify([['g1', 'active', true], ['g2', 'standby', true]]), 60_000);
    await f.until('g1 legs up, g2 legs down', async () => (await legsUp('g1')) && !(await legsUp('g2')), 60_000);
  }, 120_000);

  it('fails over to the standby within a second when g1\'s underlay link is cut; g1 silences itself; no second outage when it is back', async () => {
    const vmServer = vm.spawn([process.execPath, PROBE, 'serve-udp-tag', '7001', 'vm']);
    const extServer = ext.spawn([process.execPath, PROBE, 'serve-udp-tag', '7002', 'ext']);
    procs.push(vmServer, extServer);
    await f.until('servers listening', async () => [vmServer, extServer].every((s) => s.output().includes('listening')));
    const fipFile = join(tmp, 'fip.txt');
    const snatFile = join(tmp, 'snat.txt');
    const fipProbe = ext.spawn([process.execPath, PROBE, 'udp-probe', fipAddress, '7001', '40031', '10', fipFile]);
    const snatProbe = vm.spawn([process.execPath, PROBE, 'udp-probe', OUTSIDE, '7002', '40032', '10', snatFile]);
    procs.push(fipProbe, snatProbe);
    // Tenant traffic crosses the tunnels between c1 and g1 while the BFD ports to the same peers
    // exist: they do not capture it (a fixed key only takes packets with that key).
    await f.until('both probes answered', async () => replies(fipFile).length > 50 && replies(snatFile).length > 50, 60_000);
    for (const h of ['g1', 'c1']) {
      // The tenant network's packets from the other host came in on vxlan0 (its classify flow counted
      // them). A reinstalled flow starts counting from 0 again, so this waits for the count to pass 50.
      let classify: string | undefined;
      const counted = async () => {
        const flows = await f.lab.host(h).ovs.ofctl('dump-flows', 'br-int');
        classify = flows.split('\n').find((l) => new RegExp(`tun_id=0x${tenantVni.toString(16)}\\b`).test(l) && /in_port=(60000|vxlan0)\b/.test(l));
        return Number(/n_packets=(\d+)/.exec(classify ?? '')?.[1] ?? 0) > 50;
      };
      await f.until(`${h}: tenant packets counted on vxlan0`, counted, 10_000).catch(() => {
        throw new Error(`${h}: vxlan0's classify flow did not count 50 tenant packets: ${classify}`);
      });
    }

    // Cut g1's underlay: its port on the fabric bridge goes down. Management and provider stay up.
    const g1 = f.lab.host('g1');
    const cutAt = Date.now();
    await ip(f.lab.fabricNetns, ['link', 'set', `u${g1.index}`, 'down']);
    const { seen, both } = await sampleLegs(cutAt, 3000);
    await f.until('both probes answered again', async () => {
      const after = (file: string) => replies(file).filter((r) => r.sent > cutAt + 100).length > 20;
      return after(fipFile) && after(snatFile);
    }, 30_000);
    await sleep(1000);
    const fip = outage(replies(fipFile), cutAt - 1000, Date.now() - 500);
    const snat = outage(replies(snatFile), cutAt - 1000, Date.now() - 500);
    const logs: Array<[string, string]> = [...HOSTS.map((h): [string, string] => [h, f.agents.get(h)!.output()]), ['controller', f.controller.output()]];
    const timeline = logs.flatMap(([who, text]) => text.split('\n').map((l) => {
      if (!/BFD peer state|underlay|fenced|legs switched|failed over/.test(l)) return '';
      try {
        const j = JSON.parse(l);
        return j.time >= cutAt ? `+${j.time - cutAt}ms ${who}: ${j.msg}${j.peer ? ` ${j.peer} ${j.reach}` : who === 'controller' ? ` (${j.host}${j.after ? `, after ${j.after}, ${j.ms} ms` : ''})` : ''}` : '';
      } catch {
        return '';
      }
    })).filter(Boolean).sort((a, b) => parseInt(a.slice(1)) - parseInt(b.slice(1)));
    console.log(`HA underlay cut of g1, what happened when:\n${timeline.join('\n')}`);
    console.log(`HA failover on an underlay cut of g1: legs up over time ${seen.join(' -> ')}; floating IP outage ${fip.ms} ms (${fip.lost} probes lost), `
      + `SNAT outage ${snat.ms} ms (${snat.lost} probes lost); probes every 10 ms`);
    expect(fip.ms).toBeLessThan(1000);
    expect(snat.ms).toBeLessThan(1000);
    expect(both, 'moments (ms after the cut) when both gateways had their legs up').toEqual([]);
    expect(seen.at(-1)).toMatch(/^-\/g2@/);
    // g1's agent still hears the controller: it is alive, a standby, and it fenced itself.
    expect(await l3Agents()).toBe(JSON.stringify([['g2', 'active', true], ['g1', 'standby', true]]));
    expect(await legsUp('g1')).toBe(false);
    expect(f.agents.get('g1')!.output()).toMatch(/cut off from the underlay: HA routers silenced/);
    expect(f.agents.get('g2')!.output()).not.toMatch(/cut off from the underlay/);

    // The link comes back: BFD comes up again, g1 stays a standby, no probe is lost.
    const backAt = Date.now();
    await ip(f.lab.fabricNetns, ['link', 'set', `u${g1.index}`, 'up']);
    await f.until('g1 follows its view again', async () => /underlay reachable again/.test(f.agents.get('g1')!.output()), 30_000);
    await f.until('g1\'s BFD sessions up', async () => Object.values(await bfdPorts('g1')).every((p) => p[2] === 'up'), 30_000);
    await sleep(2000);
    const doneAt = Date.now() - 500;
    const fipBack = outage(replies(fipFile), backAt, doneAt);
    const snatBack = outage(replies(snatFile), backAt, doneAt);
    console.log(`HA underlay of g1 back (${Math.round((doneAt - backAt) / 1000)} s watched): floating IP ${fipBack.lost} probes lost (longest gap ${fipBack.ms} ms), `
      + `SNAT ${snatBack.lost} probes lost (longest gap ${snatBack.ms} ms)`);
    expect(fipBack.lost).toBe(0);
    expect(snatBack.lost).toBe(0);
    expect(await l3Agents()).toBe(JSON.stringify([['g2', 'active', true], ['g1', 'standby', true]]));
    expect(await legsUp('g1')).toBe(false);
    expect(await legsUp('g2')).toBe(true);
    for (const p of [fipProbe, snatProbe]) await p.stop('SIGTERM');
  }, 180_000);
});
