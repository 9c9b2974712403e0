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
async function err(res: Promise<{ status: number; body: any }>, status: number, type: string): Promise<any> {
  const r = await res;
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.NeutronError.type).toBe(type);
  return r.body.NeutronError;
}

async function network(caller: Caller, cidr: string, extra: Record<string, unknown> = {}) {
  const net = (await ok(api.call(caller, 'POST', '/v2.0/networks', { network: { ...extra } }))).network;
  const subnet = (await ok(api.call(caller, 'POST', '/v2.0/subnets', { subnet: { network_id: net.id, cidr, ip_version: 4 } }))).subnet;
  return { net, subnet };
}

/** External network, Alice's network behind her router, a VM port, and an unassociated floating IP. */
async function topology() {
  const ext = await network(ADMIN, '203.0.113.0/24', { 'router:external': true });
  const inner = await network(ALICE, '10.0.0.0/24');
  const router = (await ok(api.call(ALICE, 'POST', '/v2.0/routers', { router: { external_gateway_info: { network_id: ext.net.id } } }))).router;
  await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: inner.subnet.id }), 200);
  const vm = (await ok(api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: inner.net.id } }))).port;
  const fip = (await ok(api.call(ALICE, 'POST', '/v2.0/floatingips', { floatingip: { floating_network_id: ext.net.id } }))).floatingip;
  return { ext, inner, router, vm, fip, vmIp: vm.fixed_ips[0].ip_address as string };
}

const pfs = (fipId: string) => `/v2.0/floatingips/${fipId}/port_forwardings`;
const create = (caller: Caller, fipId: string, body: Record<string, unknown>) =>
  api.call(caller, 'POST', pfs(fipId), { port_forwarding: body });

describe('floating IP port forwardings', () => {
  it('creates, lists, shows, updates and deletes, and sets the floating IP router', async () => {
    const t = await topology();
    expect(t.fip.router_id).toBeNull();
    expect(t.fip.port_forwardings).toEqual([]);
    const pf = (await ok(create(ALICE, t.fip.id, { protocol: 'tcp', internal_port_id: t.vm.id, internal_ip_address: t.vmIp, internal_port: 22, external_port: 2222, description: 'ssh' }))).port_forwarding;
    expect(pf).toMatchObject({ protocol: 'tcp', internal_port_id: t.vm.id, internal_ip_address: t.vmIp, internal_port: 22, external_port: 2222,
      internal_port_range: '22:22', external_port_range: '2222:2222', description: 'ssh' });
    expect(pf.id).toMatch(/^[0-9a-f-]{36}$/);

    const fip = (await ok(api.call(ALICE, 'GET', `/v2.0/floatingips/${t.fip.id}`), 200)).floatingip;
    expect(fip.router_id).toBe(t.router.id);
    expect(fip.port_id).toBeNull();
    expect(fip.port_forwardings).toEqual([{ protocol: 'tcp', internal_ip_address: t.vmIp, internal_port: 22, external_port: 2222 }]);

    const list = (await ok(api.call(ALICE, 'GET', pfs(t.fip.id)), 200)).port_forwardings;
    expect(list).toEqual([pf]);
    expect((await ok(api.call(ALICE, 'GET', `${pfs(t.fip.id)}?external_port=9`), 200)).port_forwardings).toEqual([]);
    expect((await ok(api.call(ALICE, 'GET', `${pfs(t.fip.id)}?fields=id&fields=protocol`), 200)).port_forwardings).toEqual([{ id: pf.id, protocol: 'tcp' }]);
    expect((await ok(api.call(ALICE, 'GET', `${pfs(t.fip.id)}/${pf.id}`), 200)).port_forwarding).toEqual(pf);

    const updated = (await ok(api.call(ALICE, 'PUT', `${pfs(t.fip.id)}/${pf.id}`, { port_forwarding: { external_port: 2200, protocol: 'udp' } }), 200)).port_forwarding;
    expect(updated).toMatchObject({ id: pf.id, protocol: 'udp', external_port: 2200, internal_port: 22, description: 'ssh' });

    expect((await api.call(ALICE, 'DELETE', `${pfs(t.fip.id)}/${pf.id}`)).status).toBe(204);
    await err(api.call(ALICE, 'GET', `${pfs(t.fip.id)}/${pf.id}`), 404, 'PortForwardingNotFound');
    const after = (await ok(api.call(ALICE, 'GET', `/v2.0/floatingips/${t.fip.id}`), 200)).floatingip;
    expect(after).toMatchObject({ router_id: null, port_forwardings: [] });
  });

  it('takes port ranges of equal size, or many external ports onto one internal port', async () => {
    const t = await topology();
    const base = { protocol: 'tcp', internal_port_id: t.vm.id, internal_ip_address: t.vmIp };
    const r = (await ok(create(ALICE, t.fip.id, { ...base, internal_port_range: '8000:8009', external_port_range: '9000:9009' }))).port_forwarding;
    expect(r).toMatchObject({ internal_port: null, external_port: null, internal_port_range: '8000:8009', external_port_range: '9000:9009' });
    await ok(create(ALICE, t.fip.id, { ...base, internal_port_range: '80', external_port_range: '100:110' }));
    await err(create(ALICE, t.fip.id, { ...base, internal_port_range: '80:82', external_port_range: '200:210' }), 400, 'BadRequest');
    await err(create(ALICE, t.fip.id, { ...base, internal_port: 80, external_port_range: '300:310' }), 400, 'BadRequest');
    await err(create(ALICE, t.fip.id, { ...base, internal_port: 80 }), 400, 'BadRequest');
    await err(create(ALICE, t.fip.id, { ...base, internal_port_range: '90:80', external_port_range: '400:410' }), 400, 'HTTPBadRequest');
  });

  it('validates the body and the internal port like Neutron', async () => {
    const t = await topology();
    const base = { protocol: 'tcp', internal_port_id: t.vm.id, internal_ip_address: t.vmIp, internal_port: 22, external_port: 2222 };
    await err(create(ALICE, t.fip.id, { ...base, protocol: 'icmp' }), 400, 'HTTPBadRequest');
    await err(create(ALICE, t.fip.id, { ...base, external_port: 70000 }), 400, 'HTTPBadRequest');
    await err(create(ALICE, t.fip.id, { ...base, bogus: 1 }), 400, 'HTTPBadRequest');
    await err(create(ALICE, t.fip.id, { ...base, internal_ip_address: '10.0.0.250' }), 400, 'BadRequest');
    await err(create(ALICE, t.fip.id, { ...base, internal_port_id: '00000000-0000-0000-0000-000000000000' }), 404, 'PortNotFound');
    await err(create(ALICE, '00000000-0000-0000-0000-000000000000', base), 404, 'FloatingIPNotFound');
    // A port on a network no router of the external network reaches.
    const lonely = await network(ALICE, '10.1.0.0/24');
    const p = (await ok(api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: lonely.net.id } }))).port;
    await err(create(ALICE, t.fip.id, { ...base, internal_port_id: p.id, internal_ip_address: p.fixed_ips[0].ip_address }), 404, 'ExternalGatewayForFloatingIPNotFound');
  });

  it('conflicts: duplicate external port, associated floating IP, association while forwarding', async () => {
    const t = await topology();
    const base = { protocol: 'tcp', internal_port_id: t.vm.id, internal_ip_address: t.vmIp, internal_port: 22, external_port: 2222 };
    await ok(create(ALICE, t.fip.id, base));
    // Neutron turns the duplicate entry into a 400 BadRequest (PortForwardingNegativeTestJSON).
    await err(create(ALICE, t.fip.id, { ...base, internal_port: 23 }), 400, 'BadRequest');
    await err(create(ALICE, t.fip.id, { ...base, external_port: 2223 }), 400, 'BadRequest');
    await ok(create(ALICE, t.fip.id, { ...base, protocol: 'udp' }));
    // The floating IP cannot be associated with a port while it forwards.
    await err(api.call(ALICE, 'PUT', `/v2.0/floatingips/${t.fip.id}`, { floatingip: { port_id: t.vm.id } }), 409, 'FipInUseByPortForwarding');
    // A description change keeps the router.
    const f = (await ok(api.call(ALICE, 'PUT', `/v2.0/floatingips/${t.fip.id}`, { floatingip: { description: 'x' } }), 200)).floatingip;
    expect(f.router_id).toBe(t.router.id);
    // A floating IP associated with a port takes no port forwarding.
    const other = (await ok(api.call(ALICE, 'POST', '/v2.0/floatingips', { floatingip: { floating_network_id: t.ext.net.id } }))).floatingip;
    const vm2 = (await ok(api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: t.inner.net.id } }))).port;
    await ok(api.call(ALICE, 'PUT', `/v2.0/floatingips/${other.id}`, { floatingip: { port_id: vm2.id } }), 200);
    await err(create(ALICE, other.id, { ...base, internal_port_id: t.vm.id }), 409, 'FipInUse');
    // A fixed IP that has a floating IP of its own cannot be a target.
    const third = (await ok(api.call(ALICE, 'POST', '/v2.0/floatingips', { floatingip: { floating_network_id: t.ext.net.id } }))).floatingip;
    await err(create(ALICE, third.id, { ...base, internal_port_id: vm2.id, internal_ip_address: vm2.fixed_ips[0].ip_address }), 409, 'PortHasBindingFloatingIP');
  });

  it('goes away with its internal port', async () => {
    const t = await topology();
    await ok(create(ALICE, t.fip.id, { protocol: 'tcp', internal_port_id: t.vm.id, internal_ip_address: t.vmIp, internal_port: 22, external_port: 2222 }));
    expect((await api.call(ALICE, 'DELETE', `/v2.0/ports/${t.vm.id}`)).status).toBe(204);
    const f = (await ok(api.call(ALICE, 'GET', `/v2.0/floatingips/${t.fip.id}`), 200)).floatingip;
    expect(f).toMatchObject({ port_forwardings: [], router_id: null });
  });

  it('keeps the router interface whose subnet a port forwarding forwards to (RouterInterfaceInUseByFloatingIP)', async () => {
    const t = await topology();
    // Two more subnets of the same network on the same router (Neutron's functional test does this).
    const sub = async (cidr: string) => (await ok(api.call(ALICE, 'POST', '/v2.0/subnets', { subnet: { network_id: t.inner.net.id, cidr, ip_version: 4 } }))).subnet;
    const s2 = await sub('10.0.2.0/24');
    const s3 = await sub('10.0.3.0/24');
    const if2 = await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${t.router.id}/add_router_interface`, { subnet_id: s2.id }), 200);
    await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${t.router.id}/add_router_interface`, { subnet_id: s3.id }), 200);
    const pf = (await ok(create(ALICE, t.fip.id, { protocol: 'tcp', internal_port_id: t.vm.id, internal_ip_address: t.vmIp, internal_port: 22, external_port: 2222 }))).port_forwarding;
    const removeIf = (body: Record<string, unknown>) => api.call(ALICE, 'PUT', `/v2.0/routers/${t.router.id}/remove_router_interface`, body);
    const refused = await err(removeIf({ subnet_id: t.inner.subnet.id }), 409, 'RouterInterfaceInUseByFloatingIP');
    expect(refused.message).toBe(`Router interface for subnet ${t.inner.subnet.id} on router ${t.router.id} cannot be deleted, as it is required by one or more floating IPs.`);
    // By port, too: the interface port of the subnet (it holds the subnet's gateway IP).
    const ifPort = (await ok(api.call(ADMIN, 'GET', `/v2.0/ports?device_id=${t.router.id}&fixed_ips=subnet_id=${t.inner.subnet.id}`), 200)).ports;
    expect(ifPort).toHaveLength(1);
    await err(removeIf({ port_id: ifPort[0].id }), 409, 'RouterInterfaceInUseByFloatingIP');
    // An admin is refused the same way (the check is not about visibility).
    await err(api.call(ADMIN, 'PUT', `/v2.0/routers/${t.router.id}/remove_router_interface`, { subnet_id: t.inner.subnet.id }), 409, 'RouterInterfaceInUseByFloatingIP');
    // Nothing was removed, and the forwarding is intact.
    const f = (await ok(api.call(ALICE, 'GET', `/v2.0/floatingips/${t.fip.id}`), 200)).floatingip;
    expect(f).toMatchObject({ router_id: t.router.id, port_forwardings: [{ protocol: 'tcp', internal_ip_address: t.vmIp, internal_port: 22, external_port: 2222 }] });
    expect((await ok(api.call(ADMIN, 'GET', `/v2.0/ports?device_id=${t.router.id}&device_owner=network:router_interface`), 200)).ports).toHaveLength(3);
    // Interfaces on the subnets nothing forwards to come off.
    await ok(removeIf({ port_id: if2.port_id }), 200);
    await ok(removeIf({ subnet_id: s3.id }), 200);
    // Once the port forwarding is gone, so can the interface.
    expect((await api.call(ALICE, 'DELETE', `${pfs(t.fip.id)}/${pf.id}`)).status).toBe(204);
    await ok(removeIf({ subnet_id: t.inner.subnet.id }), 200);
  });

  it('does not hold an interface for a port forwarding to an address on another subnet of the router', async () => {
    const t = await topology();
    const other = await network(ALICE, '10.9.0.0/24');
    await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${t.router.id}/add_router_interface`, { subnet_id: other.subnet.id }), 200);
    const vm2 = (await ok(api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: other.net.id } }))).port;
    await ok(create(ALICE, t.fip.id, { protocol: 'udp', internal_port_id: vm2.id, internal_ip_address: vm2.fixed_ips[0].ip_address, internal_port: 53, external_port: 5353 }));
    // The forwarding needs 10.9.0.0/24, not 10.0.0.0/24.
    await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${t.router.id}/remove_router_interface`, { subnet_id: t.inner.subnet.id }), 200);
    await err(api.call(ALICE, 'PUT', `/v2.0/routers/${t.router.id}/remove_router_interface`, { subnet_id: other.subnet.id }), 409, 'RouterInterfaceInUseByFloatingIP');
  });

  it('policy: members act on their own project only; admins on any', async () => {
    const t = await topology();
    const base = { protocol: 'tcp', internal_port_id: t.vm.id, internal_ip_address: t.vmIp, internal_port: 22, external_port: 2222 };
    await err(create(BOB, t.fip.id, base), 404, 'FloatingIPNotFound');
    const pf = (await ok(create(ALICE, t.fip.id, base))).port_forwarding;
    await err(api.call(BOB, 'GET', pfs(t.fip.id)), 404, 'FloatingIPNotFound');
    await err(api.call(BOB, 'GET', `${pfs(t.fip.id)}/${pf.id}`), 404, 'FloatingIPNotFound');
    await err(api.call(BOB, 'PUT', `${pfs(t.fip.id)}/${pf.id}`, { port_forwarding: { external_port: 1 } }), 404, 'FloatingIPNotFound');
    await err(api.call(BOB, 'DELETE', `${pfs(t.fip.id)}/${pf.id}`), 404, 'FloatingIPNotFound');
    // Bob's own floating IP cannot forward to Alice's port.
    const bobFip = (await ok(api.call(BOB, 'POST', '/v2.0/floatingips', { floatingip: { floating_network_id: t.ext.net.id } }))).floatingip;
    await err(create(BOB, bobFip.id, { ...base, external_port: 3000 }), 404, 'PortNotFound');
    expect((await ok(api.call(ADMIN, 'GET', pfs(t.fip.id)), 200)).port_forwardings).toHaveLength(1);
    expect((await api.call(ADMIN, 'DELETE', `${pfs(t.fip.id)}/${pf.id}`)).status).toBe(204);
  });
});
