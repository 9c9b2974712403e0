import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chooseGatewayHost } from '../../../controller/domain/l3-scheduler.ts';
import { openStore } from '../../../controller/store/open.ts';
import type { Doc, Store } from '../../../controller/store/types.ts';
import { registerAgent } from '../../../controller/sync/agents.ts';
import { PROTOCOL_VERSION } from '../../../schemas/agent/channel.ts';
import { ADMIN, ALICE, testApi, type TestApi } from '../../helpers/api.ts';
import { FoldingAgent, hubOn } from '../sync/host-view-support.ts';

// The L3 scheduler: a router's ports all go to one gateway host, chosen among the agents that
// reach its external network, fewest routers first, ties by host name.

const agent = (host: string, tunnel: string | null, mappings: Record<string, string> = {}) => ({
  id: `agent-${host}`, host, admin_state_up: true, tunnel_ip: tunnel,
  configurations: { tunneling_ip: tunnel, bridge_mappings: mappings, datapath_type: 'netdev' },
});
const net = (id: string, type: 'flat' | 'vlan' | 'vxlan', physnet: string | null) =>
  ({ id, 'provider:network_type': type, 'provider:physical_network': physnet, 'router:external': true });
const routerPort = (id: string, router: string, host: string, owner = 'network:router_interface') =>
  ({ id, network_id: 'n', fixed_ips: [], security_groups: [], device_id: router, device_owner: owner, 'binding:host_id': host });
const router = (id: string, gw: string | null): Doc =>
  ({ id, external_gateway_info: gw ? { network_id: gw, enable_snat: true, external_fixed_ips: [] } : null });

describe('chooseGatewayHost (pure)', () => {
  let store: Store;
  beforeEach(() => { store = openStore(':memory:'); });
  afterEach(async () => store.close());

  it('flat/vlan: only agents mapping the physical network; vxlan: agents with a tunnel IP; no gateway: any', async () => {
    await store.transact((tx) => {
      tx.put('agent', agent('c', '192.0.2.3', { physnet1: 'br-ex' }));
      tx.put('agent', agent('b', null, { physnet1: 'br-ex', physnet2: 'br-2' }));
      tx.put('agent', agent('a', '192.0.2.1', {}));
      for (const n of [net('flat1', 'flat', 'physnet1'), net('vlan2', 'vlan', 'physnet2'), net('vx', 'vxlan', null), net('flat9', 'flat', 'physnet9')]) tx.put('network', n);
    });
    const v = store.view();
    expect(chooseGatewayHost(v, router('r', 'flat1'))).toBe('b'); // b and c, both empty: by name
    expect(chooseGatewayHost(v, router('r', 'vlan2'))).toBe('b');
    expect(chooseGatewayHost(v, router('r', 'vx'))).toBe('a'); // a and c have tunnel IPs
    expect(chooseGatewayHost(v, router('r', 'flat9'))).toBeUndefined(); // nobody maps physnet9
    expect(chooseGatewayHost(v, router('r', null))).toBe('a');
  });

  it('prefers the agent hosting the fewest routers (not counting the router itself); skips admin-down agents', async () => {
    await store.transact((tx) => {
      for (const h of ['a', 'b', 'c']) tx.put('agent', agent(h, '192.0.2.9'));
      tx.put('port', routerPort('p1', 'r1', 'a'));
      tx.put('port', routerPort('p2', 'r1', 'a', 'network:router_gateway'));
      tx.put('port', routerPort('p3', 'r2', 'b', 'network:router_interface_distributed'));
      tx.put('port', routerPort('p4', 'r3', 'a'));
      tx.put('port', { ...routerPort('p5', 'vm', 'c'), device_owner: 'compute:nova' }); // not a router
      tx.put('port', routerPort('p6', 'me', 'c'));
    });
    const v = store.view();
    // a: 2 routers, b: 1, c: 0 (not counting `me`)
    expect(chooseGatewayHost(v, router('me', null))).toBe('c');
    expect(chooseGatewayHost(v, router('other', null))).toBe('b'); // b: 1, c: 1 -> b by name
    await store.transact((tx) => tx.put('agent', { ...agent('b', '192.0.2.9'), admin_state_up: false }));
    expect(chooseGatewayHost(store.view(), router('other', null))).toBe('c');
  });

  it('no agent: no host', () => {
    expect(chooseGatewayHost(store.view(), router('r', null))).toBeUndefined();
  });
});

describe('router placement through the API', () => {
  let api: TestApi;
  beforeEach(async () => {
    api = await testApi({ segments: { tenantNetworkTypes: ['vxlan'], vniRanges: ['100:199'], vlanRanges: [], flatNetworks: ['*'] } });
  });
  afterEach(async () => api.close());

  async function ok(res: Promise<{ status: number; body: any }>, status = 201): Promise<any> {
    const r = await res;
    if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  }
  const register = (host: string, mappings: Record<string, string>, tunnelIp: string | null = null) =>
    api.store.transact((tx) => registerAgent(tx, { host, tunnelIp, bridgeMappings: mappings, datapath: 'netdev' }, Date.now()));
  const hostsOf = (routerId: string) =>
    api.store.view().find('port', 'device_id', routerId).map((p) => [p.device_owner, p['binding:host_id'], p['binding:vif_type']]);
  async function externalFlat() {
    const n = (await ok(api.call(ADMIN, 'POST', '/v2.0/networks', {
      network: { name: 'ext', 'router:external': true, 'provider:network_type': 'flat', 'provider:physical_network': 'physnet1' },
    }))).network;
    await ok(api.call(ADMIN, 'POST', '/v2.0/subnets', { subnet: { network_id: n.id, cidr: '203.0.113.0/24', ip_version: 4 } }));
    return n;
  }
  async function tenantSubnet(cidr: string) {
    const n = (await ok(api.call(ALICE, 'POST', '/v2.0/networks', { network: { name: cidr } }))).network;
    return (await ok(api.call(ALICE, 'POST', '/v2.0/subnets', { subnet: { network_id: n.id, cidr, ip_version: 4 } }))).subnet;
  }

  it('binds the gateway and every interface, now and later, to one host that maps the external physnet', async () => {
    await register('a-host', {}, '192.0.2.1');
    await register('z-host', { physnet1: 'br-ex' });
    const ext = await externalFlat();
    const r = (await ok(api.call(ALICE, 'POST', '/v2.0/routers', { router: { name: 'r', external_gateway_info: { network_id: ext.id } } }))).router;
    expect(hostsOf(r.id)).toEqual([['network:router_gateway', 'z-host', 'ovs']]);
    const s1 = await tenantSubnet('10.1.0.0/24');
    await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${r.id}/add_router_interface`, { subnet_id: s1.id }), 200);
    const s2 = await tenantSubnet('10.2.0.0/24');
    await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${r.id}/add_router_interface`, { subnet_id: s2.id }), 200);
    expect(hostsOf(r.id).map(([, host]) => host)).toEqual(['z-host', 'z-host', 'z-host']);
  });

  it('a router without a gateway goes to the least loaded agent; a second one elsewhere', async () => {
    await register('h1', {}, '192.0.2.1');
    await register('h2', {}, '192.0.2.2');
    const s1 = await tenantSubnet('10.1.0.0/24');
    const s2 = await tenantSubnet('10.2.0.0/24');
    const r1 = (await ok(api.call(ALICE, 'POST', '/v2.0/routers', { router: { name: 'r1' } }))).router;
    expect(hostsOf(r1.id)).toEqual([]); // no port, nothing to place
    await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${r1.id}/add_router_interface`, { subnet_id: s1.id }), 200);
    const r2 = (await ok(api.call(ALICE, 'POST', '/v2.0/routers', { router: { name: 'r2' } }))).router;
    await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${r2.id}/add_router_interface`, { subnet_id: s2.id }), 200);
    expect(hostsOf(r1.id).map(([, h]) => h)).toEqual(['h1']);
    expect(hostsOf(r2.id).map(([, h]) => h)).toEqual(['h2']);
  });

  it('an agent set admin-down gets no new routers and hands its routers to another gateway host of their external network', async () => {
    const a = await register('gw-a', { physnet1: 'br-ex' });
    const b = await register('gw-b', { physnet1: 'br-ex' });
    await register('tunnel-only', {}, '192.0.2.9'); // reaches no flat physnet1: never their gateway
    const ext = await externalFlat();
    const gatewayRouter = async (name: string, cidr: string) => {
      const r = (await ok(api.call(ALICE, 'POST', '/v2.0/routers', { router: { name, external_gateway_info: { network_id: ext.id } } }))).router;
      await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${r.id}/add_router_interface`, { subnet_id: (await tenantSubnet(cidr)).id }), 200);
      return r.id as string;
    };
    const r1 = await gatewayRouter('r1', '10.1.0.0/24');
    const r2 = await gatewayRouter('r2', '10.2.0.0/24');
    const hosts = (id: string) => hostsOf(id).map(([, h]) => h);
    expect([hosts(r1), hosts(r2)]).toEqual([['gw-a', 'gw-a'], ['gw-b', 'gw-b']]);
    // Let the ports look applied, to see them go DOWN while they move.
    await api.store.transact((tx) => {
      for (const p of [...tx.find('port', 'device_id', r1), ...tx.find('port', 'device_id', r2)]) tx.put('port', { ...p, status: 'ACTIVE' });
    });

    const down = await api.call(ADMIN, 'PUT', `/v2.0/agents/${a.result.id}`, { agent: { admin_state_up: false } });
    expect(down.status, JSON.stringify(down.body)).toBe(200);
    expect(hosts(r1)).toEqual(['gw-b', 'gw-b']);
    expect(api.store.view().find('port', 'device_id', r1).map((p) => p.status)).toEqual(['DOWN', 'DOWN']);
    expect(api.store.view().find('port', 'device_id', r2).map((p) => p.status)).toEqual(['ACTIVE', 'ACTIVE']); // untouched
    // No new router for it, though it now hosts fewer.
    const r3 = await gatewayRouter('r3', '10.3.0.0/24');
    expect(hosts(r3)).toEqual(['gw-b', 'gw-b']);

    // No other agent maps physnet1: the routers stay where they are rather than go nowhere.
    await ok(api.call(ADMIN, 'PUT', `/v2.0/agents/${b.result.id}`, { agent: { admin_state_up: false } }), 200);
    expect([hosts(r1), hosts(r2), hosts(r3)]).toEqual([['gw-b', 'gw-b'], ['gw-b', 'gw-b'], ['gw-b', 'gw-b']]);
    // Back up: nothing is taken back.
    await ok(api.call(ADMIN, 'PUT', `/v2.0/agents/${a.result.id}`, { agent: { admin_state_up: true } }), 200);
    expect(hosts(r1)).toEqual(['gw-b', 'gw-b']);
  });

  it('with no agent the ports stay unbound; the first agent to say hello gets the router', async () => {
    const ext = await externalFlat();
    const r = (await ok(api.call(ALICE, 'POST', '/v2.0/routers', { router: { name: 'r', external_gateway_info: { network_id: ext.id } } }))).router;
    const s1 = await tenantSubnet('10.1.0.0/24');
    await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${r.id}/add_router_interface`, { subnet_id: s1.id }), 200);
    expect(hostsOf(r.id).map(([, h]) => h)).toEqual(['', '']);
    const hub = hubOn(api.store);
    const hello = async (host: string, bridgeMappings: Record<string, string>) => {
      const agent = new FoldingAgent(host);
      agent.session = hub.accept(agent);
      agent.session.receive(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, host, tunnelIp: '192.0.2.1', bridgeMappings, datapath: 'netdev' }));
      for (let i = 0; i < 100 && agent.snapshots === 0; i++) await new Promise((r) => setImmediate(r));
      return agent;
    };
    try {
      // No mapping of physnet1: it cannot be the gateway host, the router waits.
      await hello('no-physnet', {});
      expect(hostsOf(r.id).map(([, h]) => h)).toEqual(['', '']);
      const agent = await hello('gw-host', { physnet1: 'br-ex' });
      expect(hostsOf(r.id).map(([, h]) => h)).toEqual(['gw-host', 'gw-host']);
      // Placed in the registration's transaction: the snapshot already holds the router.
      expect([...agent.held.keys()]).toContain(`router/${r.id}`);
    } finally {
      hub.close();
    }
  });
});
