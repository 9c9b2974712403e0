import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN, ALICE, BOB, testApi, type Caller, type TestApi } from '../../helpers/api.ts';

let api: TestApi;
beforeEach(async () => { api = await testApi({ segments: { tenantNetworkTypes: ['vxlan'], vniRanges: ['100:199'], vlanRanges: [], flatNetworks: ['*'] } }); });
afterEach(async () => api.close());

async function ok(res: Promise<{ status: number; body: any }>, status = 201): Promise<any> {
  const r = await res;
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

async function network(caller: Caller, cidrs: string[], extra: Record<string, unknown> = {}) {
  const net = (await ok(api.call(caller, 'POST', '/v2.0/networks', { network: { ...extra } }))).network;
  const subnets = [];
  for (const cidr of cidrs) subnets.push((await ok(api.call(caller, 'POST', '/v2.0/subnets', { subnet: { network_id: net.id, cidr, ip_version: 4 } }))).subnet);
  return { net, subnet: subnets[0], subnets };
}
const port = async (caller: Caller, networkId: string, body: Record<string, unknown> = {}) =>
  (await ok(api.call(caller, 'POST', '/v2.0/ports', { port: { network_id: networkId, ...body } }))).port;
const fip = (caller: Caller, body: Record<string, unknown>) => api.call(caller, 'POST', '/v2.0/floatingips', { floatingip: body });

/** An external network, and Alice's network behind a router with its gateway on it. */
async function topology() {
  const ext = await network(ADMIN, ['203.0.113.0/24'], { 'router:external': true });
  const inner = await network(ALICE, ['10.0.0.0/24']);
  const router = (await ok(api.call(ALICE, 'POST', '/v2.0/routers', { router: { external_gateway_info: { network_id: ext.net.id } } }))).router;
  await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: inner.subnet.id }), 200);
  return { ext, inner, router };
}

describe('floating IPs', () => {
  it('allocates an address from the external network with Neutron fields', async () => {
    const ext = await network(ADMIN, ['203.0.113.0/24'], { 'router:external': true });
    const res = await fip(ALICE, { floating_network_id: ext.net.id, description: 'web' });
    expect(res.status).toBe(201);
    const f = res.body.floatingip;
    expect(f).toMatchObject({ floating_network_id: ext.net.id, port_id: null, fixed_ip_address: null, router_id: null, status: 'DOWN',
      port_details: null, description: 'web', project_id: 'alice-project', tenant_id: 'alice-project', tags: [], qos_policy_id: null, revision_number: 1 });
    expect(f.floating_ip_address).toMatch(/^203\.0\.113\.\d+$/);
    expect(f.floating_subnet_id).toBeUndefined();
    const second = (await ok(fip(ALICE, { floating_network_id: ext.net.id }))).floatingip;
    expect(second.floating_ip_address).not.toBe(f.floating_ip_address);
    // A port on the external network can never get a floating address.
    const p = await port(ADMIN, ext.net.id);
    expect([f.floating_ip_address, second.floating_ip_address]).not.toContain(p.fixed_ips[0].ip_address);
  });

  it('takes a requested address once (admin only) and frees it on delete', async () => {
    const ext = await network(ADMIN, ['203.0.113.0/24'], { 'router:external': true });
    const member = await fip(ALICE, { floating_network_id: ext.net.id, floating_ip_address: '203.0.113.50' });
    expect(member.status).toBe(403);
    const f = (await ok(fip(ADMIN, { floating_network_id: ext.net.id, floating_ip_address: '203.0.113.50', project_id: 'alice-project' }))).floatingip;
    expect(f).toMatchObject({ floating_ip_address: '203.0.113.50', project_id: 'alice-project' });
    const dup = await fip(ADMIN, { floating_network_id: ext.net.id, floating_ip_address: '203.0.113.50' });
    expect(dup.status).toBe(409);
    expect(dup.body.NeutronError.type).toBe('IpAddressAlreadyAllocated');
    const outside = await fip(ADMIN, { floating_network_id: ext.net.id, floating_ip_address: '198.51.100.7' });
    expect(outside.status).toBe(400);
    expect(outside.body.NeutronError.type).toBe('InvalidIpForNetwork');
    expect((await api.call(ALICE, 'DELETE', `/v2.0/floatingips/${f.id}`)).status).toBe(204);
    expect((await fip(ADMIN, { floating_network_id: ext.net.id, floating_ip_address: '203.0.113.50' })).status).toBe(201);
  });

  it('picks from a requested subnet of the external network', async () => {
    const ext = await network(ADMIN, ['203.0.113.0/24', '198.51.100.0/24'], { 'router:external': true });
    const f = (await ok(fip(ALICE, { floating_network_id: ext.net.id, subnet_id: ext.subnets[1].id }))).floatingip;
    expect(f.floating_ip_address).toMatch(/^198\.51\.100\./);
  });

  it('refuses a network that is not external', async () => {
    const inner = await network(ALICE, ['10.0.0.0/24']);
    const before = api.store.revision;
    const res = await fip(ALICE, { floating_network_id: inner.net.id });
    expect(res.status).toBe(400);
    expect(res.body.NeutronError).toMatchObject({ type: 'BadRequest', message: `Bad floatingip request: Network ${inner.net.id} is not a valid external network.` });
    expect(api.store.revision).toBe(before);
  });

  it('associates with a port behind a router, shows port details, moves and disassociates', async () => {
    const { ext, inner, router } = await topology();
    const p1 = await port(ALICE, inner.net.id, { name: 'vm1', device_id: 'vm-1', device_owner: 'compute:nova' });
    const f = (await ok(fip(ALICE, { floating_network_id: ext.net.id, port_id: p1.id }))).floatingip;
    expect(f).toMatchObject({ port_id: p1.id, fixed_ip_address: p1.fixed_ips[0].ip_address, router_id: router.id, status: 'DOWN' });
    expect(f.port_details).toEqual({ name: 'vm1', network_id: inner.net.id, mac_address: p1.mac_address, admin_state_up: true,
      status: p1.status, device_id: 'vm-1', device_owner: 'compute:nova' });

    // Move to a port behind another router on the same external network: router_id follows.
    const other = await network(ALICE, ['10.5.0.0/24']);
    const r2 = (await ok(api.call(ALICE, 'POST', '/v2.0/routers', { router: { external_gateway_info: { network_id: ext.net.id } } }))).router;
    await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${r2.id}/add_router_interface`, { subnet_id: other.subnet.id }), 200);
    const p2 = await port(ALICE, other.net.id);
    const moved = (await ok(api.call(ALICE, 'PUT', `/v2.0/floatingips/${f.id}`, { floatingip: { port_id: p2.id } }), 200)).floatingip;
    expect(moved).toMatchObject({ port_id: p2.id, fixed_ip_address: p2.fixed_ips[0].ip_address, router_id: r2.id, floating_ip_address: f.floating_ip_address });
    expect((await ok(api.call(ALICE, 'GET', `/v2.0/floatingips?router_id=${router.id}`), 200)).floatingips).toEqual([]);
    const byPort = (await ok(api.call(ALICE, 'GET', `/v2.0/floatingips?port_id=${p2.id}`), 200)).floatingips;
    expect(byPort.map((x: any) => x.id)).toEqual([f.id]);
    const byAddr = (await ok(api.call(ALICE, 'GET', `/v2.0/floatingips?floating_ip_address=${f.floating_ip_address}`), 200)).floatingips;
    expect(byAddr).toHaveLength(1);

    // Updating only the description keeps the association.
    const described = (await ok(api.call(ALICE, 'PUT', `/v2.0/floatingips/${f.id}`, { floatingip: { description: 'x' } }), 200)).floatingip;
    expect(described).toMatchObject({ port_id: p2.id, router_id: r2.id, description: 'x' });

    const off = (await ok(api.call(ALICE, 'PUT', `/v2.0/floatingips/${f.id}`, { floatingip: { port_id: null } }), 200)).floatingip;
    expect(off).toMatchObject({ port_id: null, fixed_ip_address: null, router_id: null, port_details: null });
    expect(off.revision_number).toBeGreaterThan(f.revision_number);

    // Deleting an associated port leaves the floating IP, unassociated.
    await ok(api.call(ALICE, 'PUT', `/v2.0/floatingips/${f.id}`, { floatingip: { port_id: p1.id } }), 200);
    expect((await api.call(ALICE, 'DELETE', `/v2.0/ports/${p1.id}`)).status).toBe(204);
    const orphan = (await ok(api.call(ALICE, 'GET', `/v2.0/floatingips/${f.id}`), 200)).floatingip;
    expect(orphan).toMatchObject({ port_id: null, fixed_ip_address: null, router_id: null, floating_ip_address: f.floating_ip_address });
  });

  it('needs a router between the port subnet and the external network', async () => {
    const ext = await network(ADMIN, ['203.0.113.0/24'], { 'router:external': true });
    const lonely = await network(ALICE, ['10.7.0.0/24']);
    const p = await port(ALICE, lonely.net.id);
    const before = api.store.revision;
    const res = await fip(ALICE, { floating_network_id: ext.net.id, port_id: p.id });
    expect(res.status).toBe(404);
    expect(res.body.NeutronError).toMatchObject({
      type: 'ExternalGatewayForFloatingIPNotFound',
      message: `External network ${ext.net.id} is not reachable from subnet ${lonely.subnet.id}.  Therefore, cannot associate Port ${p.id} with a Floating IP.`,
    });
    expect(api.store.revision).toBe(before);
  });

  it('allows one floating IP per fixed IP and requires fixed_ip_address for several IPv4 addresses', async () => {
    const { ext, inner } = await topology();
    const p = await port(ALICE, inner.net.id);
    const f1 = (await ok(fip(ALICE, { floating_network_id: ext.net.id, port_id: p.id }))).floatingip;
    const dup = await fip(ALICE, { floating_network_id: ext.net.id, port_id: p.id });
    expect(dup.status).toBe(409);
    expect(dup.body.NeutronError.type).toBe('FloatingIPPortAlreadyAssociated');
    expect(dup.body.NeutronError.message).toContain(`using fixed IP ${p.fixed_ips[0].ip_address}, as that fixed IP already has a floating IP on external network ${ext.net.id}.`);
    const f2 = (await ok(fip(ALICE, { floating_network_id: ext.net.id }))).floatingip;
    const steal = await api.call(ALICE, 'PUT', `/v2.0/floatingips/${f2.id}`, { floatingip: { port_id: p.id } });
    expect(steal.status).toBe(409);
    expect(steal.body.NeutronError.message).toContain(`Cannot associate floating IP ${f2.floating_ip_address} (${f2.id}) with port ${p.id}`);
    expect(f1.port_id).toBe(p.id);

    const two = await port(ALICE, inner.net.id, { fixed_ips: [{ subnet_id: inner.subnet.id }, { subnet_id: inner.subnet.id }] });
    expect(two.fixed_ips).toHaveLength(2);
    const ambiguous = await api.call(ALICE, 'PUT', `/v2.0/floatingips/${f2.id}`, { floatingip: { port_id: two.id } });
    expect(ambiguous.status).toBe(400);
    expect(ambiguous.body.NeutronError.message).toContain('has multiple fixed IPv4 addresses');
    const chosen = await ok(api.call(ALICE, 'PUT', `/v2.0/floatingips/${f2.id}`, { floatingip: { port_id: two.id, fixed_ip_address: two.fixed_ips[1].ip_address } }), 200);
    expect(chosen.floatingip.fixed_ip_address).toBe(two.fixed_ips[1].ip_address);
    const notOnPort = await api.call(ALICE, 'PUT', `/v2.0/floatingips/${f2.id}`, { floatingip: { port_id: two.id, fixed_ip_address: '10.0.0.250' } });
    expect(notOnPort.status).toBe(400);
    const noPort = await api.call(ALICE, 'PUT', `/v2.0/floatingips/${f2.id}`, { floatingip: { fixed_ip_address: '10.0.0.250' } });
    expect(noPort.status).toBe(400);
    expect(noPort.body.NeutronError.message).toContain('fixed_ip_address cannot be specified without a port_id');
  });

  it('keeps the gateway and the interface a floating IP depends on', async () => {
    const { ext, inner, router } = await topology();
    const p = await port(ALICE, inner.net.id);
    const f = (await ok(fip(ALICE, { floating_network_id: ext.net.id, port_id: p.id }))).floatingip;
    const gw = await api.call(ALICE, 'PUT', `/v2.0/routers/${router.id}`, { router: { external_gateway_info: null } });
    expect(gw.status).toBe(409);
    expect(gw.body.NeutronError.type).toBe('RouterExternalGatewayInUseByFloatingIp');
    const iface = await api.call(ALICE, 'PUT', `/v2.0/routers/${router.id}/remove_router_interface`, { subnet_id: inner.subnet.id });
    expect(iface.status).toBe(409);
    expect(iface.body.NeutronError.type).toBe('RouterInterfaceInUseByFloatingIP');
    await ok(api.call(ALICE, 'PUT', `/v2.0/floatingips/${f.id}`, { floatingip: { port_id: null } }), 200);
    await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${router.id}/remove_router_interface`, { subnet_id: inner.subnet.id }), 200);
    const cleared = await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${router.id}`, { router: { external_gateway_info: null } }), 200);
    expect(cleared.router.external_gateway_info).toBeNull();
  });

  it('holds only the interface of the subnet the floating IP maps to, by subnet and by port, with Neutron\'s message', async () => {
    const { ext, inner, router } = await topology();
    const b = await network(ALICE, ['10.7.0.0/24']);
    const ifB = await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: b.subnet.id }), 200);
    const pb = await port(ALICE, b.net.id);
    const f = (await ok(fip(ALICE, { floating_network_id: ext.net.id, port_id: pb.id }))).floatingip;
    expect(f.router_id).toBe(router.id);
    const bySubnet = await api.call(ALICE, 'PUT', `/v2.0/routers/${router.id}/remove_router_interface`, { subnet_id: b.subnet.id });
    expect(bySubnet.status).toBe(409);
    expect(bySubnet.body.NeutronError).toMatchObject({
      type: 'RouterInterfaceInUseByFloatingIP',
      message: `Router interface for subnet ${b.subnet.id} on router ${router.id} cannot be deleted, as it is required by one or more floating IPs.`,
    });
    const byPort = await api.call(ALICE, 'PUT', `/v2.0/routers/${router.id}/remove_router_interface`, { port_id: ifB.port_id });
    expect(byPort.status).toBe(409);
    expect(byPort.body.NeutronError.type).toBe('RouterInterfaceInUseByFloatingIP');
    // The other subnet's interface is not needed by that floating IP.
    await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${router.id}/remove_router_interface`, { subnet_id: inner.subnet.id }), 200);
    // Deleting the floating IP frees the interface.
    expect((await api.call(ALICE, 'DELETE', `/v2.0/floatingips/${f.id}`)).status).toBe(204);
    await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${router.id}/remove_router_interface`, { port_id: ifB.port_id }), 200);
  });

  it('keeps projects apart', async () => {
    const { ext, inner } = await topology();
    const alicePort = await port(ALICE, inner.net.id);
    const af = (await ok(fip(ALICE, { floating_network_id: ext.net.id }))).floatingip;
    expect((await api.call(BOB, 'GET', `/v2.0/floatingips/${af.id}`)).status).toBe(404);
    expect((await api.call(BOB, 'GET', '/v2.0/floatingips')).body.floatingips).toEqual([]);
    expect((await api.call(BOB, 'PUT', `/v2.0/floatingips/${af.id}`, { floatingip: { port_id: null } })).status).toBe(404);
    const bf = (await ok(fip(BOB, { floating_network_id: ext.net.id }))).floatingip;
    const steal = await api.call(BOB, 'PUT', `/v2.0/floatingips/${bf.id}`, { floatingip: { port_id: alicePort.id } });
    expect(steal.status).toBe(404);
    expect(steal.body.NeutronError.type).toBe('PortNotFound');
    const other = await fip(BOB, { floating_network_id: ext.net.id, project_id: 'alice-project' });
    expect(other.status).toBe(400); // Neutron: naming another project requires admin privileges
  });

  it('counts floating IPs against the floatingip quota', async () => {
    const ext = await network(ADMIN, ['203.0.113.0/24'], { 'router:external': true });
    await ok(api.call(ADMIN, 'PUT', '/v2.0/quotas/alice-project', { quota: { floatingip: 1 } }), 200);
    await ok(fip(ALICE, { floating_network_id: ext.net.id }));
    const over = await fip(ALICE, { floating_network_id: ext.net.id });
    expect(over.status).toBe(409);
    expect(over.body.NeutronError.type).toBe('OverQuota');
  });
});
