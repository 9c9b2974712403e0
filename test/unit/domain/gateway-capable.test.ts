// Which agents are gateway hosts for BFD (controller/domain/gateway-capable.ts), kept on the agent
// documents by the transactions that can change it: the agent's own registration and admin state,
// external networks, and HA routers' gateway groups. Only the agents concerned are rewritten.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerAgent, type AgentDoc } from '../../../controller/sync/agents.ts';
import { ADMIN, ALICE, testApi, type TestApi } from '../../helpers/api.ts';

let api: TestApi;
beforeEach(async () => {
  api = await testApi({ segments: { tenantNetworkTypes: ['vxlan'], vniRanges: ['100:199'], vlanRanges: [], flatNetworks: ['*'] } });
});
afterEach(async () => api.close());

async function ok(method: 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, status = method === 'POST' ? 201 : method === 'DELETE' ? 204 : 200): Promise<any> {
  const r = await api.call(ADMIN, method, url, body);
  if (r.status !== status) throw new Error(`${method} ${url}: expected ${status}, got ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}
const register = (host: string, mappings: Record<string, string>, tunnelIp: string | null = '192.0.2.1') =>
  api.store.transact((tx) => registerAgent(tx, { host, tunnelIp, bridgeMappings: mappings, datapath: 'netdev' }, Date.now()));
const flags = () => Object.fromEntries(api.store.view().list<AgentDoc>('agent').map((a) => [a.host, a.gateway_capable]).sort());
/** The agent documents a commit wrote. */
async function agentsWritten(act: () => Promise<unknown>): Promise<string[]> {
  const written: string[] = [];
  const stop = api.store.subscribe((changes) => {
    for (const c of changes) if (c.kind === 'agent') written.push(String((c.doc ?? c.prev)!.host));
  });
  try {
    await act();
  } finally {
    stop();
  }
  return written.sort();
}
const externalFlat = async () => (await ok('POST', '/v2.0/networks', {
  network: { name: 'ext', 'router:external': true, 'provider:network_type': 'flat', 'provider:physical_network': 'physnet1' },
})).network.id as string;

describe('gateway-capable agents', () => {
  it('are the admin-up agents that map an external flat network\'s physnet; a new compute host rewrites no other agent', async () => {
    await register('g1', { physnet1: 'br-ex' });
    await register('c1', {});
    expect(flags()).toEqual({ c1: false, g1: false }); // no external network yet
    expect(await agentsWritten(externalFlat)).toEqual(['g1']);
    expect(flags()).toEqual({ c1: false, g1: true });
    expect(await agentsWritten(() => register('g2', { physnet1: 'br-ex' }))).toEqual(['g2']);
    expect(await agentsWritten(() => register('c2', {}))).toEqual(['c2']);
    expect(flags()).toEqual({ c1: false, c2: false, g1: true, g2: true });
    // A mapping added by a new hello makes c2 one; set admin-down, g2 stops being one.
    expect(await agentsWritten(() => register('c2', { physnet1: 'br-ex' }))).toEqual(['c2']);
    const g2 = api.store.view().list<AgentDoc>('agent').find((a) => a.host === 'g2')!;
    expect(await agentsWritten(() => ok('PUT', `/v2.0/agents/${g2.id}`, { agent: { admin_state_up: false } }))).toEqual(['g2']);
    expect(flags()).toEqual({ c1: false, c2: true, g1: true, g2: false });
  });

  it('follow external networks: a tunnelled one makes every agent with a tunnel IP one; its deletion undoes it', async () => {
    await register('g1', { physnet1: 'br-ex' });
    await register('c1', {});
    await register('c2', {}, null);
    const vx = (await ok('POST', '/v2.0/networks', { network: { name: 'ext-vx', 'router:external': true } })).network.id;
    expect(flags()).toEqual({ c1: true, c2: false, g1: true });
    // Renaming it changes nothing any host needs: no agent written.
    expect(await agentsWritten(() => ok('PUT', `/v2.0/networks/${vx}`, { network: { name: 'renamed' } }))).toEqual([]);
    expect(await agentsWritten(() => ok('PUT', `/v2.0/networks/${vx}`, { network: { 'router:external': false } }))).toEqual(['c1', 'g1']);
    expect(flags()).toEqual({ c1: false, c2: false, g1: false });
    await ok('PUT', `/v2.0/networks/${vx}`, { network: { 'router:external': true } });
    await ok('DELETE', `/v2.0/networks/${vx}`);
    expect(flags()).toEqual({ c1: false, c2: false, g1: false });
  });

  it('include the hosts of an HA router\'s gateway group, while they are in it', async () => {
    await register('a', {});
    await register('b', {});
    await register('c', {});
    await register('d', {});
    expect(flags()).toEqual({ a: false, b: false, c: false, d: false });
    // An HA router without an external gateway may be placed on any agent (l3-scheduler.ts).
    const net = (await api.call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'n' } })).body.network.id;
    const subnet = (await api.call(ALICE, 'POST', '/v2.0/subnets', { subnet: { network_id: net, cidr: '10.0.0.0/24', ip_version: 4 } })).body.subnet.id;
    const r = (await ok('POST', '/v2.0/routers', { router: { name: 'r', ha: true, project_id: (await api.call(ALICE, 'GET', `/v2.0/networks/${net}`)).body.network.project_id } })).router.id;
    await ok('PUT', `/v2.0/routers/${r}/add_router_interface`, { subnet_id: subnet }, 200);
    const group = api.store.view().get('router', r)!.gateway_hosts as string[];
    expect(group).toHaveLength(3);
    expect(Object.entries(flags()).filter(([, f]) => f).map(([h]) => h).sort()).toEqual([...group].sort());
    await ok('PUT', `/v2.0/routers/${r}/remove_router_interface`, { subnet_id: subnet }, 200);
    await ok('DELETE', `/v2.0/routers/${r}`);
    expect(flags()).toEqual({ a: false, b: false, c: false, d: false });
  });

  it('are set right by the next hello on a document written before the flag existed', async () => {
    await externalFlat();
    const g1 = await register('g1', { physnet1: 'br-ex' });
    await api.store.transact((tx) => {
      const { gateway_capable: _f, ...old } = tx.get<AgentDoc>('agent', g1.result.id)!;
      tx.put('agent', old);
    });
    expect(flags()).toEqual({ g1: undefined });
    await register('g1', { physnet1: 'br-ex' });
    expect(flags()).toEqual({ g1: true });
  });
});
