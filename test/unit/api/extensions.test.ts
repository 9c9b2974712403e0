import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXTENSIONS, availableExtensions } from '../../../controller/domain/extensions.ts';
import { ADMIN, ALICE, BOB, testApi, type TestApi } from '../../helpers/api.ts';

let api: TestApi;
beforeEach(async () => { api = await testApi(); });
afterEach(async () => api.close());

type Probe = (api: TestApi) => Promise<void>;

const net = async (caller = ALICE, body: Record<string, unknown> = {}) => {
  const res = await api.call(caller, 'POST', '/v2.0/networks', { network: body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.network;
};
const port = async (body: Record<string, unknown> = {}) => {
  const n = await net();
  const res = await api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: n.id, ...body } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.port;
};
/** An external network with a subnet, made by the admin. */
const externalNet = async () => {
  const n = await net(ADMIN, { 'router:external': true });
  const sub = await api.call(ADMIN, 'POST', '/v2.0/subnets', { subnet: { network_id: n.id, cidr: '203.0.113.0/24', ip_version: 4 } });
  expect(sub.status, JSON.stringify(sub.body)).toBe(201);
  return n;
};

/** A port forwarding with a range and a description, shown in its floating IP. */
const portForwardingProbe = async () => {
  const ext = await externalNet();
  const inner = await net();
  const sub = await api.call(ALICE, 'POST', '/v2.0/subnets', { subnet: { network_id: inner.id, cidr: '10.9.0.0/24', ip_version: 4 } });
  const router = await api.call(ALICE, 'POST', '/v2.0/routers', { router: { external_gateway_info: { network_id: ext.id } } });
  expect((await api.call(ALICE, 'PUT', `/v2.0/routers/${router.body.router.id}/add_router_interface`, { subnet_id: sub.body.subnet.id })).status).toBe(200);
  const vm = await api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: inner.id } });
  const fip = await api.call(ALICE, 'POST', '/v2.0/floatingips', { floatingip: { floating_network_id: ext.id } });
  const pf = await api.call(ALICE, 'POST', `/v2.0/floatingips/${fip.body.floatingip.id}/port_forwardings`, { port_forwarding: {
    protocol: 'tcp', internal_port_id: vm.body.port.id, internal_ip_address: vm.body.port.fixed_ips[0].ip_address,
    internal_port_range: '8000:8009', external_port_range: '9000:9009', description: 'web' } });
  expect(pf.status, JSON.stringify(pf.body)).toBe(201);
  expect(pf.body.port_forwarding).toMatchObject({ external_port_range: '9000:9009', description: 'web' });
  const shown = await api.call(ALICE, 'GET', `/v2.0/floatingips/${fip.body.floatingip.id}`);
  expect(shown.body.floatingip.port_forwardings).toEqual([{ protocol: 'tcp', internal_ip_address: vm.body.port.fixed_ips[0].ip_address,
    internal_port_range: '8000:8009', external_port_range: '9000:9009' }]);
};

/**
 * One check per extension that Weft may advertise: the feature, exercised through the API.
 * Every entry of EXTENSIONS must have one; the checks run for the extensions listed.
 */
const PROBES: Record<string, Probe> = {
  'external-net': async () => {
    const n = await net(ADMIN, { 'router:external': true });
    expect(n['router:external']).toBe(true);
    expect((await api.call(BOB, 'GET', `/v2.0/networks/${n.id}`)).status).toBe(200);
  },
  provider: async () => {
    const n = await net(ADMIN, { 'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1', 'provider:segmentation_id': 150 });
    expect(n).toMatchObject({ 'provider:network_type': 'vlan', 'provider:segmentation_id': 150 });
  },
  'net-mtu': async () => expect((await net()).mtu).toBe(1450),
  router: async () => {
    expect((await api.call(ALICE, 'GET', '/v2.0/routers')).status).toBe(200);
    const r = await api.call(ALICE, 'POST', '/v2.0/routers', { router: { name: 'r1' } });
    expect(r.status).toBe(201);
    expect(r.body.router).toMatchObject({ name: 'r1', project_id: 'alice-project' });
    expect((await api.call(ALICE, 'GET', '/v2.0/floatingips')).status).toBe(200);
  },
  extraroute: async () => {
    const r = (await api.call(ALICE, 'POST', '/v2.0/routers', { router: {} })).body.router;
    expect(r.routes).toEqual([]);
  },
  'extraroute-atomic': async () => {
    const n = await net();
    await api.call(ALICE, 'POST', '/v2.0/subnets', { subnet: { network_id: n.id, cidr: '10.7.0.0/24', ip_version: 4 } });
    const sub = (await api.call(ALICE, 'GET', `/v2.0/subnets?network_id=${n.id}`)).body.subnets[0];
    const r = (await api.call(ALICE, 'POST', '/v2.0/routers', { router: {} })).body.router;
    await api.call(ALICE, 'PUT', `/v2.0/routers/${r.id}/add_router_interface`, { subnet_id: sub.id });
    const route = { destination: '192.168.9.0/24', nexthop: '10.7.0.9' };
    const added = await api.call(ALICE, 'PUT', `/v2.0/routers/${r.id}/add_extraroutes`, { router: { routes: [route] } });
    expect(added.body.router.routes).toEqual([route]);
    const removed = await api.call(ALICE, 'PUT', `/v2.0/routers/${r.id}/remove_extraroutes`, { router: { routes: [route] } });
    expect(removed.body.router.routes).toEqual([]);
  },
  'net-mtu-writable': async () => {
    const n = await net();
    const res = await api.call(ALICE, 'PUT', `/v2.0/networks/${n.id}`, { network: { mtu: 1400 } });
    expect([res.status, res.body.network.mtu]).toEqual([200, 1400]);
  },
  'tag-ports-during-bulk-creation': async () => {
    const n = await net();
    const res = await api.call(ALICE, 'POST', '/v2.0/ports', { ports: [{ network_id: n.id, tags: ['a', 'b'] }, { network_id: n.id, tags: ['c'] }] });
    expect(res.body.ports.map((p: any) => p.tags)).toEqual([['a', 'b'], ['c']]);
  },
  'ext-gw-mode': async () => {
    const ext = await externalNet();
    const r = await api.call(ADMIN, 'POST', '/v2.0/routers', { router: { external_gateway_info: { network_id: ext.id } } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.router.external_gateway_info).toMatchObject({ network_id: ext.id, enable_snat: true });
  },
  'fip-port-details': async () => {
    const ext = await externalNet();
    const fip = await api.call(ALICE, 'POST', '/v2.0/floatingips', { floatingip: { floating_network_id: ext.id } });
    expect(fip.status, JSON.stringify(fip.body)).toBe(201);
    expect(fip.body.floatingip).toHaveProperty('port_details', null);
  },
  'floating-ip-port-forwarding': async () => portForwardingProbe(),
  'floating-ip-port-forwarding-port-ranges': async () => portForwardingProbe(),
  'floating-ip-port-forwarding-description': async () => portForwardingProbe(),
  'expose-port-forwarding-in-fip': async () => portForwardingProbe(),
  'security-group': async () => {
    const sg = await api.call(ALICE, 'POST', '/v2.0/security-groups', { security_group: { name: 'web' } });
    expect(sg.status).toBe(201);
    expect(Array.isArray(sg.body.security_group.security_group_rules)).toBe(true);
    expect((await api.call(ALICE, 'GET', '/v2.0/security-group-rules')).status).toBe(200);
  },
  quotas: async () => {
    expect((await api.call(ALICE, 'GET', '/v2.0/quotas/alice-project')).body.quota.network).toBeTypeOf('number');
    expect((await api.call(ADMIN, 'PUT', '/v2.0/quotas/alice-project', { quota: { network: 3 } })).body.quota.network).toBe(3);
  },
  quota_details: async () => {
    await net();
    expect((await api.call(ALICE, 'GET', '/v2.0/quotas/alice-project/details')).body.quota.network).toMatchObject({ used: 1, reserved: 0 });
  },
  'quota-check-limit': async () => {
    await net();
    expect((await api.call(ADMIN, 'PUT', '/v2.0/quotas/alice-project', { quota: { network: 0, check_limit: true } })).status).toBe(400);
  },
  binding: async () => {
    const p = await port();
    expect(p['binding:vnic_type']).toBe('normal');
    expect(p).not.toHaveProperty('binding:host_id'); // admin-only attribute, as in Neutron's policy
    expect((await api.call(ADMIN, 'GET', `/v2.0/ports/${p.id}`)).body.port).toMatchObject({ 'binding:host_id': '', 'binding:vnic_type': 'normal' });
    const bound = await api.call(ADMIN, 'PUT', `/v2.0/ports/${p.id}`, { port: { 'binding:host_id': 'host-1' } });
    expect(bound.status).toBe(200);
    expect(bound.body.port['binding:host_id']).toBe('host-1');
  },
  'allowed-address-pairs': async () => {
    const p = await port({ allowed_address_pairs: [{ ip_address: '10.9.9.9' }] });
    expect(p.allowed_address_pairs).toEqual([{ ip_address: '10.9.9.9', mac_address: p.mac_address }]);
  },
  'port-security': async () => {
    expect((await port()).port_security_enabled).toBe(true);
  },
  'standard-attr-revisions': async () => {
    const n = await net();
    expect(n.revision_number).toBe(1);
    expect((await api.call(ALICE, 'PUT', `/v2.0/networks/${n.id}`, { network: { name: 'x' } })).body.network.revision_number).toBe(2);
  },
  'standard-attr-timestamp': async () => {
    const n = await net();
    expect(n.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(n.updated_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  },
  'standard-attr-description': async () => expect((await net(ALICE, { description: 'about' })).description).toBe('about'),
  'standard-attr-tag': async () => {
    const n = await net();
    expect((await api.call(ALICE, 'PUT', `/v2.0/networks/${n.id}/tags/red`)).status).toBe(201);
    expect((await api.call(ALICE, 'GET', '/v2.0/networks?tags=red')).body.networks.map((x: any) => x.id)).toEqual([n.id]);
  },
  'project-id': async () => expect(await net()).toMatchObject({ project_id: 'alice-project', tenant_id: 'alice-project' }),
  pagination: async () => {
    await net(); await net();
    const page = await api.call(ALICE, 'GET', '/v2.0/networks?limit=1');
    expect(page.body.networks).toHaveLength(1);
    expect(page.body.networks_links.map((l: any) => l.rel)).toContain('next');
  },
  sorting: async () => {
    await net(ALICE, { name: 'a' }); await net(ALICE, { name: 'b' });
    const sorted = await api.call(ALICE, 'GET', '/v2.0/networks?sort_key=name&sort_dir=desc');
    expect(sorted.body.networks.map((x: any) => x.name)).toEqual(['b', 'a']);
  },
  'filter-validation': async () => {
    const bad = await api.call(ALICE, 'GET', '/v2.0/networks?colour=red');
    expect(bad.status).toBe(400);
  },
  agent: async () => {
    // Agents register over the channel (test/unit/sync); only admins see them, as in Neutron:
    // a member's list is empty and one agent is not found.
    expect((await api.call(ADMIN, 'GET', '/v2.0/agents')).body).toEqual({ agents: [] });
    expect((await api.call(ALICE, 'GET', '/v2.0/agents')).body).toEqual({ agents: [] });
    expect((await api.call(ALICE, 'GET', `/v2.0/agents/${crypto.randomUUID()}`)).body.NeutronError.type).toBe('AgentNotFound');
  },
  'l3-ha': async () => {
    // `ha` is admin-only, defaults to the config's l3Ha (false), and changes only on an admin-down router.
    expect((await api.call(ALICE, 'POST', '/v2.0/routers', { router: { ha: true } })).status).toBe(403);
    const r = (await api.call(ADMIN, 'POST', '/v2.0/routers', { router: { name: 'r-ha', ha: true } })).body.router;
    expect(r.ha).toBe(true);
    expect(r.gateway_hosts).toBeUndefined();
    expect((await api.call(ADMIN, 'POST', '/v2.0/routers', { router: { name: 'r' } })).body.router.ha).toBe(false);
    const busy = await api.call(ADMIN, 'PUT', `/v2.0/routers/${r.id}`, { router: { ha: false } });
    expect(busy.status).toBe(400);
    expect(busy.body.NeutronError).toEqual({ type: 'BadRequest', detail: '', message:
      'Bad router request: Cannot change HA attribute of active routers. Please set router admin_state_up to False prior to upgrade.' });
    const down = await api.call(ADMIN, 'PUT', `/v2.0/routers/${r.id}`, { router: { ha: false, admin_state_up: false } });
    expect(down.body.router).toMatchObject({ ha: false, admin_state_up: false });
    // Which agents host it (none here), admin-only; unknown ids are Neutron's not-found errors.
    expect((await api.call(ADMIN, 'GET', `/v2.0/routers/${r.id}/l3-agents`)).body).toEqual({ agents: [] });
    expect((await api.call(ALICE, 'GET', `/v2.0/routers/${r.id}/l3-agents`)).status).toBe(403);
    expect((await api.call(ADMIN, 'GET', `/v2.0/routers/${crypto.randomUUID()}/l3-agents`)).body.NeutronError.type).toBe('RouterNotFound');
    expect((await api.call(ADMIN, 'GET', `/v2.0/agents/${crypto.randomUUID()}/l3-routers`)).body.NeutronError.type).toBe('AgentNotFound');
  },
  fwaas_v2: async () => {
    const rule = await api.call(ALICE, 'POST', '/v2.0/fwaas/firewall_rules', { firewall_rule: { protocol: 'tcp', destination_port: '80', action: 'allow' } });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);
    const policy = await api.call(ALICE, 'POST', '/v2.0/fwaas/firewall_policies', { firewall_policy: { firewall_rules: [rule.body.firewall_rule.id] } });
    expect(policy.status, JSON.stringify(policy.body)).toBe(201);
    const group = await api.call(ALICE, 'POST', '/v2.0/fwaas/firewall_groups', { firewall_group: { ingress_firewall_policy_id: policy.body.firewall_policy.id } });
    expect(group.body.firewall_group).toMatchObject({ ports: [], status: 'INACTIVE' });
  },
  subnet_allocation: async () => {
    const pool = await api.call(ALICE, 'POST', '/v2.0/subnetpools', { subnetpool: { name: 'p', prefixes: ['10.11.12.0/24'], min_prefixlen: 28 } });
    expect(pool.status, JSON.stringify(pool.body)).toBe(201);
    const n = await net();
    const sub = await api.call(ALICE, 'POST', '/v2.0/subnets', { subnet: { network_id: n.id, ip_version: 4, subnetpool_id: pool.body.subnetpool.id, prefixlen: 29 } });
    expect(sub.status, JSON.stringify(sub.body)).toBe(201);
    expect(sub.body.subnet).toMatchObject({ cidr: '10.11.12.0/29', subnetpool_id: pool.body.subnetpool.id });
  },
  'default-subnetpools': async () => {
    const pool = await api.call(ADMIN, 'POST', '/v2.0/subnetpools', { subnetpool: { name: 'd', prefixes: ['10.0.0.0/8'], default_prefixlen: 24, is_default: true, shared: true } });
    expect(pool.body.subnetpool.is_default).toBe(true);
    const n = await net();
    const sub = await api.call(ALICE, 'POST', '/v2.0/subnets', { subnet: { network_id: n.id, ip_version: 4, use_default_subnetpool: true } });
    expect(sub.status, JSON.stringify(sub.body)).toBe(201);
    expect(sub.body.subnet).toMatchObject({ cidr: '10.0.0.0/24', subnetpool_id: pool.body.subnetpool.id });
  },
  'subnetpool-prefix-ops': async () => {
    const pool = await api.call(ALICE, 'POST', '/v2.0/subnetpools', { subnetpool: { name: 'p', prefixes: ['192.168.0.0/24'] } });
    const id = pool.body.subnetpool.id;
    expect((await api.call(ALICE, 'PUT', `/v2.0/subnetpools/${id}/add_prefixes`, { prefixes: ['192.168.1.0/24'] })).body).toEqual({ prefixes: ['192.168.0.0/23'] });
    expect((await api.call(ALICE, 'PUT', `/v2.0/subnetpools/${id}/remove_prefixes`, { prefixes: ['192.168.0.0/24'] })).body).toEqual({ prefixes: ['192.168.1.0/24'] });
  },
  'revision-if-match': async () => {
    const n = await net();
    expect((await api.call(ALICE, 'PUT', `/v2.0/networks/${n.id}`, { network: { name: 'y' } }, { 'if-match': 'revision_number=9' })).status).toBe(412);
  },
};

describe('extensions', () => {
  it('has a probe for every extension Weft may advertise', () => {
    expect(EXTENSIONS.map((e) => e.alias).filter((a) => !PROBES[a])).toEqual([]);
    expect(new Set(EXTENSIONS.map((e) => e.alias)).size).toBe(EXTENSIONS.length);
  });

  it('lists the supported extensions in Neutron form', async () => {
    const res = await api.call(ALICE, 'GET', '/v2.0/extensions');
    expect(res.status).toBe(200);
    const list = res.body.extensions as any[];
    for (const e of list) {
      expect(Object.keys(e).sort()).toEqual(['alias', 'description', 'links', 'name', 'updated']);
      expect(e.links).toEqual([]);
      expect(e.updated).toMatch(/^\d{4}-\d\d-\d\dT/);
    }
    const aliases = list.map((e) => e.alias);
    // What is served today must be listed; the rest appear once their collections exist.
    expect(aliases).toEqual(expect.arrayContaining(['external-net', 'provider', 'net-mtu', 'quotas', 'quota_details', 'standard-attr-tag', 'pagination', 'sorting', 'revision-if-match']));
    expect(aliases.includes('router')).toBe(api.app.hasRoute({ method: 'GET', url: '/v2.0/routers' }));
    expect(aliases.includes('binding')).toBe(api.app.hasRoute({ method: 'GET', url: '/v2.0/ports' }));
    expect(aliases.includes('security-group')).toBe(api.app.hasRoute({ method: 'GET', url: '/v2.0/security-groups' }));
    expect(aliases).toEqual(expect.arrayContaining(['subnet_allocation', 'default-subnetpools', 'subnetpool-prefix-ops']));
    // Address scopes are not built, so they are not advertised.
    expect(aliases).not.toContain('address-scope');
  });

  it('lists an extension only while its collections are served', () => {
    expect(availableExtensions(() => false)).toEqual([]);
    const networksOnly = availableExtensions((p) => p === 'networks').map((e) => e.alias);
    expect(networksOnly).toContain('provider');
    expect(networksOnly).not.toContain('router');
    expect(networksOnly).not.toContain('binding');
    expect(availableExtensions(() => true)).toHaveLength(EXTENSIONS.length);
  });

  it('shows one extension by alias and 404s an unknown one', async () => {
    const res = await api.call(ALICE, 'GET', '/v2.0/extensions/quotas');
    expect(res.status).toBe(200);
    expect(res.body.extension).toMatchObject({ alias: 'quotas', name: 'Quota management support' });
    const missing = await api.call(ALICE, 'GET', '/v2.0/extensions/no-such-thing');
    expect(missing.status).toBe(404);
    expect(missing.body.NeutronError.message).toContain('Extension with alias no-such-thing does not exist');
  });

  it('every listed extension works', async () => {
    const listed = (await api.call(ALICE, 'GET', '/v2.0/extensions')).body.extensions.map((e: any) => e.alias) as string[];
    expect(listed.length).toBeGreaterThan(10);
    for (const alias of listed) {
      await api.close();
      api = await testApi(); // each probe on a fresh controller
      try {
        await PROBES[alias](api);
      } catch (err) {
        throw new Error(`extension '${alias}' is listed but does not work: ${(err as Error).message}`);
      }
    }
  });
});
