// The fabric at scale: a controller process, 100 simulated hosts (the agent's real channel, host
// model and flow compilers over a fake switch, in this process: test/helpers/simulated-host.ts)
// and 2 real hosts (Open vSwitch in namespaces, weft-agent processes), with a model of 10,000
// ports made through the API (test/helpers/scale-model.ts). Checked: every host converges; each
// simulated host holds exactly what concerns it (an oracle written apart from the controller's
// incremental interest, test/helpers/host-view-oracle.ts); a commit reaches only the hosts whose
// view it changes; VMs on the real hosts reach each other. Routers are highly available
// (WEFT_L3_HA): each has standby gateway hosts, which hold it in their views too (the oracle knows).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFabric, type Fabric } from '../helpers/fabric.ts';
import { expectPing, plug } from '../helpers/fabric-model.ts';
import { contentDifferences, expectedView, listModel, viewDifferences, type ListedModel } from '../helpers/host-view-oracle.ts';
import { buildScaleModel, type ScaleModel, type ScalePort } from '../helpers/scale-model.ts';
import { closeAll, simulatedHosts, type SimulatedHost } from '../helpers/simulated-host.ts';

const SIMULATED = 100;
const PORTS = 10_000;
const REAL = ['h1', 'h2'];
const WAIT = { 'x-weft-wait-dataplane': '30' };
/** Kinds whose held documents are compared field by field with the API's (an agent's view of an agent is not the API's shape). */
const COMPARED = ['port', 'network', 'subnet', 'security_group', 'security_group_rule', 'router'] as const;

let f: Fabric;
let sims: SimulatedHost[] = [];
let model: ScaleModel;

const revision = async (): Promise<number> => (await f.api('GET', '/v2.0/weft/status')).status.revision;

beforeAll(async () => {
  f = await createFabric({ hosts: REAL, controllerEnv: { WEFT_L3_HA: 'true' } });
  // Simulated hosts are a tool: on the admin's token the channel lets them speak for any host name.
  sims = simulatedHosts(SIMULATED, f.controller.url, f.controller.adminToken);
  for (const s of sims) s.start();
  await f.until('every agent registered and alive', async () => {
    const { agents } = await f.api('GET', '/v2.0/agents');
    return agents.filter((a: { alive: boolean }) => a.alive).length === SIMULATED + REAL.length;
  }, 60_000);
}, 120_000);

afterAll(async () => {
  await closeAll(sims);
  await f?.destroy();
}, 60_000);

/** Resolves once every simulated host's channel has taken in `revision` (a commit's message, or a heartbeat's answer after it). */
async function everyHostHeardOf(rev: number): Promise<void> {
  await f.until(`every simulated host at revision ${rev}`, async () => sims.every((s) => (s.channel.revision ?? -1) >= rev), 15_000);
}

describe(`${SIMULATED} simulated and ${REAL.length} real hosts, ${PORTS} ports`, () => {
  it('builds the model through the API and every host converges', async () => {
    model = await buildScaleModel(f.api, { hosts: [...REAL, ...sims.map((s) => s.host)], ports: PORTS });
    const { ports: all } = await f.api('GET', '/v2.0/ports?fields=id');
    expect(all.length).toBe(PORTS);
    // Simulated hosts plug every port bound to them; the real hosts' ports stay unplugged (DOWN).
    await f.until('every port of a simulated host ACTIVE', async () => {
      const { ports } = await f.api('GET', '/v2.0/ports?status=DOWN&fields=binding:host_id');
      return ports.every((p: ScalePort) => REAL.includes(p['binding:host_id']));
    }, 60_000);
    // Each agent, simulated or real, is in step with the controller's revision.
    const converged = await f.until('every agent in step with the controller', async () => {
      const rev = await revision();
      const { agents } = await f.api('GET', '/v2.0/agents');
      const inStep = agents.every((a: { configurations: { applied_revision: number | null } }) => a.configurations.applied_revision === rev);
      return inStep && sims.every((s) => s.appliedRevision === rev) && rev;
    }, 30_000);
    expect(converged).toBeGreaterThan(0);
    expect(sims.flatMap((s) => s.errors)).toEqual([]);

    // A write waiting for the dataplane is answered once all 102 agents applied it.
    const host = sims[7].host;
    const solo = model.soloPorts.get(host)![0];
    const res = await fetch(`${f.controller.url}/v2.0/ports`, {
      method: 'POST',
      headers: { 'x-auth-token': f.controller.adminToken, 'content-type': 'application/json', ...WAIT },
      body: JSON.stringify({ port: { network_id: solo.network_id, project_id: solo.project_id, name: 'late', 'binding:host_id': host } }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-weft-dataplane')).toBe('applied');
    const { port } = await res.json();
    expect(port.status).toBe('ACTIVE');
    expect(sims[7].dataplane.boundPorts().has(port.id)).toBe(true);
  }, 180_000);

  it('gives each simulated host exactly the part of the model that concerns it', async () => {
    const listed = await listModel(f.api);
    // Every router is HA with an active host and two standbys (maxL3AgentsPerRouter 3).
    expect(listed.router.map((r) => (r.gateway_hosts as string[] | null)?.length)).toEqual(listed.router.map(() => 3));
    const problems: Record<string, unknown> = {};
    const portViews: number[] = [];
    for (const s of sims) {
      const differences = viewDifferences(expectedView(listed, s.host), (kind) => s.held(kind));
      if (Object.keys(differences).length) problems[s.host] = differences;
      for (const kind of COMPARED) {
        const stale = contentDifferences(listed[kind as keyof ListedModel], s.dataplane.model.all(kind));
        if (stale.length) problems[`${s.host} ${kind} content`] = stale;
      }
      if (s.dataplane.engine.conflicts.size) problems[`${s.host} flow conflicts`] = [...s.dataplane.engine.conflicts];
      portViews.push(s.held('port').size);
    }
    expect(problems).toEqual({});
    // A host's view is its own part, not the model: here at most about an eighth of the ports.
    expect(Math.max(...portViews)).toBeLessThan(PORTS / 5);
    // The compilers ran: every simulated host has flows for its plugged ports.
    for (const s of sims) expect(s.switch.flows.size).toBeGreaterThan(s.dataplane.boundPorts().size);
  }, 60_000);

  it('runs BFD from a real host to the gateway hosts only, or to every other host when it is one', async () => {
    // No external network here: the gateway hosts are those of the HA routers' gateway groups.
    const listed = await listModel(f.api);
    const gateways = new Set(listed.router.flatMap((r) => (r.gateway_hosts as string[] | null) ?? []));
    const sessions: Record<string, number> = {};
    for (const h of REAL) {
      const want = listed.agent.filter((a) => a.host !== h && a.configurations.tunneling_ip && (gateways.has(h) || gateways.has(a.host)))
        .map((a) => a.host as string).sort();
      let have: string[] = [];
      await f.until(`${h}: BFD ports to its pairs`, async () => {
        const out = await f.lab.host(h).ovs.vsctl('--format=json', '--columns=external_ids', 'find', 'Interface', 'external_ids:weft-role=bfd');
        have = (JSON.parse(out).data as Array<[['map', [string, string][]]]>).map(([ids]) => Object.fromEntries(ids[1])['weft-peer-host']!).sort();
        return JSON.stringify(have) === JSON.stringify(want);
      }, 30_000).catch(() => expect(have).toEqual(want));
      if (!gateways.has(h)) expect(want.length).toBeLessThan(SIMULATED + REAL.length - 1);
      sessions[h] = have.length;
    }
    // A full mesh would be SIMULATED + REAL.length - 1 on each.
    console.log(JSON.stringify({ bfd_sessions: sessions, gateway_hosts: gateways.size, hosts: SIMULATED + REAL.length, full_mesh_per_host: SIMULATED + REAL.length - 1 }));
  }, 60_000);

  it('sends a port update only to the hosts whose view holds the port', async () => {
    const listed = await listModel(f.api);
    const holders = (portId: string) => new Set(sims.filter((s) => expectedView(listed, s.host).port.has(portId)).map((s) => s.host));
    // A solo tenant's port (its network is on one host) and a tenant's web port (held by the
    // hosts of its project's two networks and the router's gateway hosts, active and standbys).
    const solo = model.soloPorts.get(sims[42].host)![0];
    const web = model.ports.find((p) => p.network_id === model.tenants[3].web.network && p['binding:host_id'].startsWith('compute'))!;
    for (const [p, address] of [[solo, '192.168.0.250'], [web, '10.3.3.250']] as const) {
      const expected = holders(p.id);
      expect(expected.size).toBeLessThan(SIMULATED / 5);
      if (p === solo) expect([...expected]).toEqual([sims[42].host]);
      for (const s of sims) s.resetCounts();
      const before = await revision();
      const { port } = await f.api('PUT', `/v2.0/ports/${p.id}`, { port: { allowed_address_pairs: [{ ip_address: address }] } }, WAIT);
      expect(port.allowed_address_pairs).toHaveLength(1);
      const after = await revision();
      expect(after).toBe(before + 1);
      await everyHostHeardOf(after);
      for (const s of sims) {
        const concerned = expected.has(s.host);
        expect({ host: s.host, snapshots: s.counts.snapshot, changes: s.counts.changes })
          .toEqual({ host: s.host, snapshots: 0, changes: concerned ? 1 : 0 });
        // Revision messages only answer heartbeats (one may answer a heartbeat sent before the
        // counts were reset): the commit itself woke nobody else.
        expect(s.counts.revision).toBeLessThanOrEqual(s.counts.heartbeats + 1);
        if (concerned) expect(s.dataplane.model.get('port', p.id)?.allowed_address_pairs).toEqual(port.allowed_address_pairs);
      }
    }
  }, 60_000);

  it('sends nothing at all for a change outside every host view', async () => {
    for (const s of sims) s.resetCounts();
    const p = model.ports[0];
    await f.api('PUT', `/v2.0/ports/${p.id}`, { port: { description: 'renamed by the scale test' } });
    await everyHostHeardOf(await revision());
    expect(sims.filter((s) => s.counts.changes || s.counts.snapshot).map((s) => s.host)).toEqual([]);
  }, 30_000);

  it('carries traffic between VMs on the two real hosts', async () => {
    // tenant-0's web network spans both real hosts; its default group lets its members in.
    const [onH1, onH2] = REAL.map((h) => model.ports.find((p) => p.network_id === model.tenants[0].web.network && p['binding:host_id'] === h)!);
    const vm1 = await plug(f, 'h1', onH1, 'scale1', 22);
    const vm2 = await plug(f, 'h2', onH2, 'scale2', 22);
    await expectPing(f, vm1, onH2.fixed_ips[0].ip_address, true);
    await expectPing(f, vm2, onH1.fixed_ips[0].ip_address, true);
  }, 60_000);
});
