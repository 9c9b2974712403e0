import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { failoverGroup, nextGatewayGroup } from '../../../controller/domain/l3-ha.ts';
import { failoverGatewayHost, scheduleUnplacedRouters } from '../../../controller/domain/l3-scheduler.ts';
import { registerAgent, updateAgentAndPlacement, agentByHost, deleteAgentAndCredential } from '../../../controller/sync/agents.ts';
import { ADMIN, ALICE, testApi, type TestApi } from '../../helpers/api.ts';
import { projectDoc } from '../../../controller/api/topology/view.ts';
import { makeContext } from '../../../controller/auth/context.ts';

// HA routers (controller/domain/l3-ha.ts): the gateway group, active first; failover to the first
// live standby with the lost host last (no preemption when it returns); evacuation.

describe('gateway groups (pure)', () => {
  it('keeps eligible standbys in order, then fills up from the ranking, up to the wanted size', () => {
    expect(nextGatewayGroup('a', [], ['a', 'b', 'c', 'd'], 3)).toEqual(['a', 'b', 'c']);
    expect(nextGatewayGroup('a', ['a', 'd', 'b'], ['b', 'c', 'a', 'd'], 3)).toEqual(['a', 'd', 'b']);
    expect(nextGatewayGroup('a', ['a', 'x', 'b'], ['b', 'c', 'a'], 3)).toEqual(['a', 'b', 'c']); // x no longer eligible
    expect(nextGatewayGroup('c', ['a', 'b', 'c'], ['a', 'b', 'c'], 3)).toEqual(['c', 'a', 'b']);
    expect(nextGatewayGroup('a', [], ['a'], 3)).toEqual(['a']);
    expect(nextGatewayGroup('a', [], ['a', 'b'], 1)).toEqual(['a']);
  });

  it('fails over to the first live standby and puts the lost host last', () => {
    expect(failoverGroup(['a', 'b', 'c'], 'a', () => true)).toEqual(['b', 'c', 'a']);
    expect(failoverGroup(['a', 'b', 'c'], 'a', (h) => h === 'c')).toEqual(['c', 'b', 'a']);
    expect(failoverGroup(['a', 'b'], 'a', () => false)).toBeUndefined();
    // Applied again by a second replica, the result is the same.
    expect(failoverGroup(['b', 'c', 'a'], 'a', () => true)).toEqual(['b', 'c', 'a']);
  });
});

describe('HA routers through the API', () => {
  let api: TestApi;
  beforeEach(async () => {
    api = await testApi({ maxL3AgentsPerRouter: 3 });
  });
  afterEach(async () => api.close());

  async function ok(res: Promise<{ status: number; body: any }>, status = 201): Promise<any> {
    const r = await res;
    if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  }
  const register = (host: string, mappings: Record<string, string> = { physnet1: 'br-ex' }) =>
    // As the hub registers an agent (hub.ts): routers waiting for gateway hosts get them in the same transaction.
    api.store.transact((tx) => {
      registerAgent(tx, { host, tunnelIp: null, bridgeMappings: mappings, datapath: 'netdev' }, Date.now());
      scheduleUnplacedRouters(tx);
    });
  const routerDoc = (id: string) => api.store.view().get('router', id)!;
  const hostsOf = (id: string) => [...new Set(api.store.view().find('port', 'device_id', id).map((p) => p['binding:host_id']))];
  async function haRouter(): Promise<string> {
    const ext = (await ok(api.call(ADMIN, 'POST', '/v2.0/networks', {
      network: { name: 'ext', 'router:external': true, 'provider:network_type': 'flat', 'provider:physical_network': 'physnet1' },
    }))).network;
    await ok(api.call(ADMIN, 'POST', '/v2.0/subnets', { subnet: { network_id: ext.id, cidr: '203.0.113.0/24', ip_version: 4 } }));
    const net = (await ok(api.call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'n' } }))).network;
    const sub = (await ok(api.call(ALICE, 'POST', '/v2.0/subnets', { subnet: { network_id: net.id, cidr: '10.1.0.0/24', ip_version: 4 } }))).subnet;
    const r = (await ok(api.call(ADMIN, 'POST', '/v2.0/routers', { router: { name: 'r', ha: true, project_id: ALICE.project, external_gateway_info: { network_id: ext.id } } }))).router;
    await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${r.id}/add_router_interface`, { subnet_id: sub.id }), 200);
    return r.id;
  }

  it('an HA router gets standbys among the agents that reach its external network; agents that register later join', async () => {
    await register('g1');
    await register('compute', {}); // no physnet1: never a gateway of this router
    const id = await haRouter();
    expect(hostsOf(id)).toEqual(['g1']);
    expect(routerDoc(id).gateway_hosts).toEqual(['g1']);
    await register('g2');
    expect(routerDoc(id).gateway_hosts).toEqual(['g1', 'g2']);
    await register('g3');
    await register('g4');
    expect(routerDoc(id).gateway_hosts).toEqual(['g1', 'g2', 'g3']); // maxL3AgentsPerRouter
    expect(hostsOf(id)).toEqual(['g1']);
    const shown = await ok(api.call(ADMIN, 'GET', `/v2.0/routers/${id}/l3-agents`), 200);
    expect(shown.agents.map((a: any) => [a.host, a.ha_state])).toEqual([['g1', 'active'], ['g2', 'standby'], ['g3', 'standby']]);
    // The dashboard's topology shows admins the gateway group (active first); members do not see it.
    expect(projectDoc('router', makeContext('admin-project', ['admin']), routerDoc(id))).toMatchObject({ ha: true, gateway_hosts: ['g1', 'g2', 'g3'] });
    expect(projectDoc('router', makeContext(ALICE.project, ['member']), routerDoc(id)).gateway_hosts).toBeUndefined();
    const g2 = agentByHost(api.store.view(), 'g2')!;
    const routers = await ok(api.call(ADMIN, 'GET', `/v2.0/agents/${g2.id}/l3-routers`), 200);
    expect(routers.routers.map((r: any) => r.id)).toEqual([id]);
  });

  it('fails over to the first live standby, the lost host last; idempotent; admin-down evacuates to a standby', async () => {
    for (const h of ['g1', 'g2', 'g3']) await register(h);
    const id = await haRouter();
    expect(routerDoc(id).gateway_hosts).toEqual(['g1', 'g2', 'g3']);
    const live = (h: string) => h !== 'g1' && h !== 'g2';
    const first = await api.store.transact((tx) => failoverGatewayHost(tx, 'g1', live));
    expect([...first.result]).toEqual([[id, 'g3']]);
    expect(hostsOf(id)).toEqual(['g3']);
    expect(routerDoc(id).gateway_hosts).toEqual(['g3', 'g2', 'g1']);
    const again = await api.store.transact((tx) => failoverGatewayHost(tx, 'g1', live));
    expect(again.result.size).toBe(0);
    expect(again.changes).toEqual([]);
    // Admin-down of the active host: the first standby takes over; the host leaves the group.
    const g3 = agentByHost(api.store.view(), 'g3')!;
    await api.store.transact((tx) => updateAgentAndPlacement(tx, g3.id, { admin_state_up: false }));
    expect(hostsOf(id)).toEqual(['g2']);
    expect(routerDoc(id).gateway_hosts).toEqual(['g2', 'g1']);
  });

  it('a deleted agent leaves the gateway groups it is a standby of; another host takes its place', async () => {
    for (const h of ['g1', 'g2', 'g3']) await register(h);
    const id = await haRouter();
    expect(routerDoc(id).gateway_hosts).toEqual(['g1', 'g2', 'g3']);
    await register('g4');
    const g2 = agentByHost(api.store.view(), 'g2')!;
    await api.store.transact((tx) => deleteAgentAndCredential(tx, g2.id));
    expect(routerDoc(id).gateway_hosts).toEqual(['g1', 'g3', 'g4']);
    expect(hostsOf(id)).toEqual(['g1']);
  });

  it('a router without HA has no standby and does not fail over', async () => {
    for (const h of ['g1', 'g2']) await register(h);
    const id = await haRouter();
    await ok(api.call(ADMIN, 'PUT', `/v2.0/routers/${id}`, { router: { admin_state_up: false, ha: false } }), 200);
    expect(routerDoc(id).gateway_hosts).toBeUndefined();
    const moved = await api.store.transact((tx) => failoverGatewayHost(tx, 'g1', () => true));
    expect(moved.result.size).toBe(0);
    await ok(api.call(ADMIN, 'PUT', `/v2.0/routers/${id}`, { router: { ha: true } }), 200);
    expect(routerDoc(id).gateway_hosts).toEqual(['g1', 'g2']);
  });
});
