import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN, ALICE, BOB, testApi, type TestApi } from '../../helpers/api.ts';

// Behaviours that Neutron's own suite (Tempest, neutron-tempest-plugin) found and our other
// tests never sent; each names the Tempest test that relies on it.

let api: TestApi;
beforeEach(async () => {
  api = await testApi();
});
afterEach(async () => api.close());

async function externalNetwork(shared = false) {
  const net = (await api.call(ADMIN, 'POST', '/v2.0/networks', { network: { name: 'ext', 'router:external': true, shared } })).body.network;
  const subnet = (await api.call(ADMIN, 'POST', '/v2.0/subnets', { subnet: { network_id: net.id, cidr: '172.24.4.0/24', ip_version: 4, enable_dhcp: false } })).body.subnet;
  return { net, subnet };
}

/** A port behind a router whose gateway is on a new external network, all made by the admin. */
async function routedPort(shared = false) {
  const { net } = await externalNetwork(shared);
  const tenant = (await api.call(ADMIN, 'POST', '/v2.0/networks', { network: { name: 'in' } })).body.network;
  const sub = (await api.call(ADMIN, 'POST', '/v2.0/subnets', { subnet: { network_id: tenant.id, cidr: '10.0.0.0/24', ip_version: 4 } })).body.subnet;
  const router = (await api.call(ADMIN, 'POST', '/v2.0/routers', { router: { external_gateway_info: { network_id: net.id } } })).body.router;
  await api.call(ADMIN, 'PUT', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: sub.id });
  const port = (await api.call(ADMIN, 'POST', '/v2.0/ports', { port: { network_id: tenant.id } })).body.port;
  return { net, router, port };
}

describe('Neutron parity', () => {
  it('takes the old .json format suffix on any path (QuotasTest.test_show_quota_details)', async () => {
    const details = await api.call(ADMIN, 'GET', `/v2.0/quotas/${ALICE.project}/details.json`);
    expect(details.status).toBe(200);
    expect(details.body.quota.network).toEqual({ limit: 100, used: 0, reserved: 0 });
    const net = await api.call(ALICE, 'POST', '/v2.0/networks.json', { network: { name: 'suffixed' } });
    expect(net.status).toBe(201);
    const listed = await api.call(ALICE, 'GET', '/v2.0/networks.json?name=suffixed');
    expect(listed.body.networks.map((n: any) => n.id)).toEqual([net.body.network.id]);
    expect((await api.call(ALICE, 'GET', `/v2.0/networks/${net.body.network.id}.json`)).body.network.name).toBe('suffixed');
  });

  it('deletes an external network with its unassociated floating IPs (test_delete_external_networks_with_floating_ip)', async () => {
    const { net, subnet } = await externalNetwork();
    const fip = (await api.call(ADMIN, 'POST', '/v2.0/floatingips', { floatingip: { floating_network_id: net.id } })).body.floatingip;
    expect((await api.call(ADMIN, 'DELETE', `/v2.0/networks/${net.id}`)).status).toBe(204);
    expect((await api.call(ADMIN, 'GET', `/v2.0/floatingips/${fip.id}`)).status).toBe(404);
    expect((await api.call(ADMIN, 'GET', `/v2.0/subnets/${subnet.id}`)).status).toBe(404);
  });

  it('keeps an external network whose floating IP is associated with a port', async () => {
    const { net, router, port } = await routedPort();
    const fip = (await api.call(ADMIN, 'POST', '/v2.0/floatingips', { floatingip: { floating_network_id: net.id, port_id: port.id } })).body.floatingip;
    await api.call(ADMIN, 'PUT', `/v2.0/routers/${router.id}`, { router: { external_gateway_info: {} } });
    const refused = await api.call(ADMIN, 'DELETE', `/v2.0/networks/${net.id}`);
    expect([refused.status, refused.body.NeutronError.type]).toEqual([409, 'NetworkInUse']);
    expect((await api.call(ADMIN, 'GET', `/v2.0/floatingips/${fip.id}`)).status).toBe(200);
  });

  it("hides the subnets of an external network that is not shared (test_external_network_visibility)", async () => {
    const { net, subnet } = await externalNetwork();
    expect((await api.call(ALICE, 'GET', `/v2.0/networks/${net.id}`)).status).toBe(200);
    expect((await api.call(ALICE, 'GET', `/v2.0/subnets?network_id=${net.id}`)).body.subnets).toEqual([]);
    expect((await api.call(ALICE, 'GET', `/v2.0/subnets/${subnet.id}`)).status).toBe(404);
  });

  it('shows the subnets of a shared network, and those of a network the caller owns', async () => {
    const sharedNet = (await api.call(ADMIN, 'POST', '/v2.0/networks', { network: { name: 'sh', shared: true } })).body.network;
    const sharedSub = (await api.call(ADMIN, 'POST', '/v2.0/subnets', { subnet: { network_id: sharedNet.id, cidr: '10.9.0.0/24', ip_version: 4 } })).body.subnet;
    expect((await api.call(BOB, 'GET', `/v2.0/subnets/${sharedSub.id}`)).status).toBe(200);
    const own = (await api.call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'own' } })).body.network;
    const byAdmin = (await api.call(ADMIN, 'POST', '/v2.0/subnets', { subnet: { network_id: own.id, cidr: '10.8.0.0/24', ip_version: 4, project_id: ADMIN.project } })).body.subnet;
    expect((await api.call(ALICE, 'GET', `/v2.0/subnets/${byAdmin.id}`)).status).toBe(200);
    expect((await api.call(BOB, 'GET', `/v2.0/subnets/${byAdmin.id}`)).status).toBe(404);
  });

  it('answers a member an empty agent list, not 403 (AgentManagementNegativeTest.test_list_agents_non_admin)', async () => {
    const res = await api.call(ALICE, 'GET', '/v2.0/agents');
    expect([res.status, res.body]).toEqual([200, { agents: [] }]);
  });
});

describe('Neutron parity: security groups', () => {
  it('answers 404 for a remote group that does not exist, whether or not its id is a UUID (test_create_security_group_rule_with_non_existent_remote_groupid)', async () => {
    const sg = (await api.call(ALICE, 'POST', '/v2.0/security-groups', { security_group: { name: 'sg' } })).body.security_group;
    for (const remote of ['bad_group_id', crypto.randomUUID()]) {
      const res = await api.call(ALICE, 'POST', '/v2.0/security-group-rules', { security_group_rule: { security_group_id: sg.id, direction: 'ingress', protocol: 'tcp', remote_group_id: remote } });
      expect([res.status, res.body.NeutronError.type], remote).toEqual([404, 'SecurityGroupNotFound']);
    }
  });
});

describe('Neutron parity: projects, filters, revisions', () => {
  it("refuses a member naming another project with Neutron's 400 (PortsNegativeTestJSON.test_add_port_with_nonexist_tenant_id)", async () => {
    const net = (await api.call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'n' } })).body.network;
    const res = await api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: net.id, project_id: crypto.randomUUID() } });
    expect([res.status, res.body.NeutronError.message]).toEqual([400, "Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges"]);
  });

  it("filters subnets on their network's shared flag, which they do not show (SharedNetworksTest.test_filtering_shared_subnets)", async () => {
    const sharedNet = (await api.call(ADMIN, 'POST', '/v2.0/networks', { network: { name: 'sh', shared: true } })).body.network;
    const shared = (await api.call(ADMIN, 'POST', '/v2.0/subnets', { subnet: { network_id: sharedNet.id, cidr: '10.9.0.0/24', ip_version: 4 } })).body.subnet;
    const own = (await api.call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'own' } })).body.network;
    const priv = (await api.call(ALICE, 'POST', '/v2.0/subnets', { subnet: { network_id: own.id, cidr: '10.8.0.0/24', ip_version: 4 } })).body.subnet;
    const ids = async (q: string) => (await api.call(ALICE, 'GET', `/v2.0/subnets?${q}`)).body.subnets.map((s: any) => s.id);
    expect(await ids('shared=True')).toEqual([shared.id]);
    expect(await ids('shared=False')).toEqual([priv.id]);
    expect(shared).not.toHaveProperty('shared');
  });

  it('bumps a network when its subnets change and a router when its interfaces do (TestRevisions)', async () => {
    const net = (await api.call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'n' } })).body.network;
    const rev = async (path: string) => Object.values((await api.call(ALICE, 'GET', path)).body as Record<string, any>)[0].revision_number as number;
    const sub = (await api.call(ALICE, 'POST', '/v2.0/subnets', { subnet: { network_id: net.id, cidr: '10.0.0.0/24', ip_version: 4 } })).body.subnet;
    const afterCreate = await rev(`/v2.0/networks/${net.id}`);
    expect(afterCreate).toBeGreaterThan(net.revision_number);
    await api.call(ALICE, 'PUT', `/v2.0/subnets/${sub.id}`, { subnet: { name: 'renamed' } });
    const afterUpdate = await rev(`/v2.0/networks/${net.id}`);
    expect(afterUpdate).toBeGreaterThan(afterCreate);
    const router = (await api.call(ALICE, 'POST', '/v2.0/routers', { router: { name: 'r' } })).body.router;
    await api.call(ALICE, 'PUT', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: sub.id });
    const afterAdd = await rev(`/v2.0/routers/${router.id}`);
    expect(afterAdd).toBeGreaterThan(router.revision_number);
    await api.call(ALICE, 'PUT', `/v2.0/routers/${router.id}/remove_router_interface`, { subnet_id: sub.id });
    expect(await rev(`/v2.0/routers/${router.id}`)).toBeGreaterThan(afterAdd);
    expect((await api.call(ALICE, 'DELETE', `/v2.0/subnets/${sub.id}`)).status).toBe(204);
    expect(await rev(`/v2.0/networks/${net.id}`)).toBeGreaterThan(afterUpdate);
  });
});

describe('Neutron parity: ports', () => {
  it('refuses the same security group twice on a port (NegativeSecGroupTest.test_assign_sec_group_twice)', async () => {
    const net = (await api.call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'n' } })).body.network;
    const port = (await api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: net.id } })).body.port;
    const sg = (await api.call(ALICE, 'POST', '/v2.0/security-groups', { security_group: { name: 'sg' } })).body.security_group;
    const res = await api.call(ALICE, 'PUT', `/v2.0/ports/${port.id}`, { port: { security_groups: [sg.id, sg.id] } });
    expect([res.status, res.body.NeutronError.message]).toEqual([400, expect.stringContaining('duplicate')]);
    expect((await api.call(ALICE, 'GET', `/v2.0/ports/${port.id}`)).body.port.security_groups).toEqual(port.security_groups);
  });
});

describe('Neutron parity: floating IPs', () => {
  it('disassociates on an empty update, and keeps the port on any other (FloatingIPTestJSON.test_blank_update_clears_association)', async () => {
    const { net, port } = await routedPort(true);
    const fip = (await api.call(ADMIN, 'POST', '/v2.0/floatingips', { floatingip: { floating_network_id: net.id, port_id: port.id } })).body.floatingip;
    const described = await api.call(ADMIN, 'PUT', `/v2.0/floatingips/${fip.id}`, { floatingip: { description: 'd2' } });
    expect(described.body.floatingip).toMatchObject({ port_id: port.id, description: 'd2' });
    const blank = await api.call(ADMIN, 'PUT', `/v2.0/floatingips/${fip.id}`, { floatingip: {} });
    expect(blank.body.floatingip).toMatchObject({ port_id: null, fixed_ip_address: null, description: 'd2' });
  });
});

describe('Neutron parity: paging', () => {
  it("walks pages as Neutron links them: a full last page links to an empty one, which links back (test_list_pagination_with_href_links)", async () => {
    for (const name of ['a', 'b', 'c']) await api.call(ALICE, 'POST', '/v2.0/networks', { network: { name } });
    const get = async (url: string) => (await api.call(ALICE, 'GET', url.replace(/^https?:\/\/[^/]+/, ''))).body;
    const rel = (body: any, r: string) => body.networks_links?.find((l: any) => l.rel === r)?.href as string | undefined;
    const seen: string[] = [];
    let body = await get('/v2.0/networks?sort_key=name&sort_dir=asc&limit=1');
    for (let i = 0; i < 3; i++) {
      seen.push(...body.networks.map((n: any) => n.name));
      expect(rel(body, 'next'), `page ${i}`).toBeDefined();
      body = await get(rel(body, 'next')!);
    }
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(body.networks).toEqual([]);
    expect(rel(body, 'next')).toBeUndefined();
    const back: string[] = [];
    for (let i = 0; i < 3; i++) {
      body = await get(rel(body, 'previous')!);
      back.unshift(...body.networks.map((n: any) => n.name));
    }
    expect(back).toEqual(['a', 'b', 'c']);
  });
});

describe('Neutron parity: quotas and forwardings', () => {
  it('counts a new group\'s egress rules against the rule quota (test_sg_creation_with_insufficient_sg_rules_quota)', async () => {
    await api.call(ALICE, 'GET', '/v2.0/security-groups'); // the default group and its rules
    await api.call(ADMIN, 'PUT', `/v2.0/quotas/${ALICE.project}`, { quota: { security_group_rule: 0 } });
    const res = await api.call(ALICE, 'POST', '/v2.0/security-groups', { security_group: { name: 'sg' } });
    expect([res.status, res.body.NeutronError.type]).toEqual([409, 'OverQuota']);
    expect((await api.call(ALICE, 'GET', '/v2.0/security-groups?name=sg')).body.security_groups).toEqual([]);
  });

  it('refuses to delete a floating IP that carries port forwardings (PortForwardingTestJSON.test_port_forwarding_life_cycle)', async () => {
    const { net, port } = await routedPort(true);
    const fip = (await api.call(ADMIN, 'POST', '/v2.0/floatingips', { floatingip: { floating_network_id: net.id } })).body.floatingip;
    const pf = await api.call(ADMIN, 'POST', `/v2.0/floatingips/${fip.id}/port_forwardings`, { port_forwarding: { internal_port_id: port.id, internal_ip_address: port.fixed_ips[0].ip_address, internal_port: 22, external_port: 2222, protocol: 'tcp' } });
    expect(pf.status).toBe(201);
    const refused = await api.call(ADMIN, 'DELETE', `/v2.0/floatingips/${fip.id}`);
    expect([refused.status, refused.body.NeutronError.type]).toEqual([409, 'FipInUseByPortForwarding']);
    await api.call(ADMIN, 'DELETE', `/v2.0/floatingips/${fip.id}/port_forwardings/${pf.body.port_forwarding.id}`);
    expect((await api.call(ADMIN, 'DELETE', `/v2.0/floatingips/${fip.id}`)).status).toBe(204);
  });
});

describe('Neutron parity: subnet pools', () => {
  it("refuses a read-only attribute before looking the pool up, even one the caller cannot see (test_update_subnetpool_not_modifiable_shared)", async () => {
    const pool = (await api.call(ADMIN, 'POST', '/v2.0/subnetpools', { subnetpool: { name: 'p', prefixes: ['10.10.0.0/16'] } })).body.subnetpool;
    const res = await api.call(ALICE, 'PUT', `/v2.0/subnetpools/${pool.id}`, { subnetpool: { shared: true } });
    expect([res.status, res.body.NeutronError.message]).toEqual([400, 'Cannot update read-only attribute shared']);
  });
});
