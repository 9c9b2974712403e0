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

async function network(caller: Caller, cidr: string, extra: Record<string, unknown> = {}, subnetExtra: Record<string, unknown> = {}) {
  const net = (await ok(api.call(caller, 'POST', '/v2.0/networks', { network: { name: `net-${cidr}`, ...extra } }))).network;
  const subnet = (await ok(api.call(caller, 'POST', '/v2.0/subnets', { subnet: { network_id: net.id, cidr, ip_version: 4, ...subnetExtra } }))).subnet;
  return { net, subnet };
}
const external = () => network(ADMIN, '203.0.113.0/24', { 'router:external': true });
const router = async (caller: Caller, body: Record<string, unknown> = {}) =>
  (await ok(api.call(caller, 'POST', '/v2.0/routers', { router: { name: 'r', ...body } }))).router;
const addIf = (caller: Caller, id: string, body: unknown) => api.call(caller, 'PUT', `/v2.0/routers/${id}/add_router_interface`, body);
const removeIf = (caller: Caller, id: string, body: unknown) => api.call(caller, 'PUT', `/v2.0/routers/${id}/remove_router_interface`, body);
const portsOf = async (deviceId: string) => (await ok(api.call(ADMIN, 'GET', `/v2.0/ports?device_id=${deviceId}`), 200)).ports;

describe('routers: gateway', () => {
  it('creates a router with a gateway port on the external network and Neutron fields', async () => {
    const ext = await external();
    const r = await router(ALICE, { external_gateway_info: { network_id: ext.net.id } });
    expect(r).toMatchObject({ name: 'r', status: 'ACTIVE', admin_state_up: true, routes: [], project_id: 'alice-project', flavor_id: null, revision_number: 1 });
    expect(r.distributed).toBeUndefined(); // admin-only to read
    expect(r.gw_port_id).toBeUndefined();
    expect(r.external_gateway_info.network_id).toBe(ext.net.id);
    expect(r.external_gateway_info.enable_snat).toBe(true);
    expect(r.external_gateway_info.external_fixed_ips).toHaveLength(1);
    expect(r.external_gateway_info.external_fixed_ips[0].subnet_id).toBe(ext.subnet.id);
    expect(r.external_gateway_info.external_fixed_ips[0].ip_address).toMatch(/^203\.0\.113\./);
    const ports = await portsOf(r.id);
    expect(ports).toHaveLength(1);
    expect(ports[0]).toMatchObject({ device_owner: 'network:router_gateway', network_id: ext.net.id });
    expect(ports[0].fixed_ips[0].ip_address).toBe(r.external_gateway_info.external_fixed_ips[0].ip_address);
    const asAdmin = (await ok(api.call(ADMIN, 'GET', `/v2.0/routers/${r.id}`), 200)).router;
    expect(asAdmin).toMatchObject({ distributed: false, ha: false });
    // The gateway port belongs to no project: Alice does not see it and cannot delete it.
    expect(ports[0].project_id).toBe('');
    expect((await ok(api.call(ALICE, 'GET', `/v2.0/ports?device_id=${r.id}`), 200)).ports).toEqual([]);
    const del = await api.call(ADMIN, 'DELETE', `/v2.0/ports/${ports[0].id}`);
    expect(del.status).toBe(409);
    expect(del.body.NeutronError.type).toBe('ServicePortInUse');
  });

  it('moves the gateway to another external network and changes its address on the same one', async () => {
    const ext = await external();
    const ext2 = await network(ADMIN, '198.51.100.0/24', { 'router:external': true });
    const r = await router(ADMIN, { external_gateway_info: { network_id: ext.net.id } });
    const moved = (await ok(api.call(ADMIN, 'PUT', `/v2.0/routers/${r.id}`, { router: { external_gateway_info: { network_id: ext2.net.id } } }), 200)).router;
    expect(moved.external_gateway_info.network_id).toBe(ext2.net.id);
    expect(moved.external_gateway_info.external_fixed_ips[0].ip_address).toMatch(/^198\.51\.100\./);
    const ports = await portsOf(r.id);
    expect(ports.map((p: any) => p.network_id)).toEqual([ext2.net.id]);
    const readdr = (await ok(api.call(ADMIN, 'PUT', `/v2.0/routers/${r.id}`, { router: { external_gateway_info: { network_id: ext2.net.id, external_fixed_ips: [{ ip_address: '198.51.100.77' }] } } }), 200)).router;
    expect(readdr.external_gateway_info.external_fixed_ips).toEqual([{ subnet_id: ext2.subnet.id, ip_address: '198.51.100.77' }]);
    expect((await portsOf(r.id)).flatMap((p: any) => p.fixed_ips.map((f: any) => f.ip_address))).toEqual(['198.51.100.77']);
    const gwIp = await api.call(ADMIN, 'PUT', `/v2.0/routers/${r.id}`, { router: { external_gateway_info: { network_id: ext2.net.id, external_fixed_ips: [{ ip_address: '198.51.100.1' }] } } });
    expect(gwIp.status).toBe(400);
    expect(gwIp.body.NeutronError.message).toContain('is the same as the gateway IP');
  });

  it('rejects a gateway on a network that is not external and admin-only gateway fields', async () => {
    const inner = await network(ALICE, '10.0.0.0/24');
    const before = api.store.revision;
    const bad = await api.call(ALICE, 'POST', '/v2.0/routers', { router: { external_gateway_info: { network_id: inner.net.id } } });
    expect(bad.status).toBe(400);
    expect(bad.body.NeutronError).toMatchObject({ type: 'BadRequest', message: `Bad router request: Network ${inner.net.id} is not an external network.` });
    expect(api.store.revision).toBe(before);
    const ext = await external();
    const snat = await api.call(ALICE, 'POST', '/v2.0/routers', { router: { external_gateway_info: { network_id: ext.net.id, enable_snat: false } } });
    expect(snat.status).toBe(403);
    const ips = await api.call(ALICE, 'POST', '/v2.0/routers', { router: { external_gateway_info: { network_id: ext.net.id, external_fixed_ips: [{ ip_address: '203.0.113.9' }] } } });
    expect(ips.status).toBe(403);
    const noNet = await api.call(ALICE, 'POST', '/v2.0/routers', { router: { external_gateway_info: { enable_snat: true } } });
    expect(noNet.status).toBe(400);
  });

  it('takes a requested gateway address once, and sets and clears the gateway by update', async () => {
    const ext = await external();
    const r1 = await router(ADMIN, { external_gateway_info: { network_id: ext.net.id, enable_snat: false, external_fixed_ips: [{ ip_address: '203.0.113.9' }] } });
    expect(r1.external_gateway_info).toEqual({ network_id: ext.net.id, enable_snat: false, external_fixed_ips: [{ subnet_id: ext.subnet.id, ip_address: '203.0.113.9' }] });
    const r2 = await router(ADMIN);
    expect(r2.external_gateway_info).toBeNull();
    const taken = await api.call(ADMIN, 'PUT', `/v2.0/routers/${r2.id}`, { router: { external_gateway_info: { network_id: ext.net.id, external_fixed_ips: [{ ip_address: '203.0.113.9' }] } } });
    expect(taken.status).toBe(409);
    expect(taken.body.NeutronError.type).toBe('IpAddressAlreadyAllocated');
    const cleared = await ok(api.call(ADMIN, 'PUT', `/v2.0/routers/${r1.id}`, { router: { external_gateway_info: {} } }), 200);
    expect(cleared.router.external_gateway_info).toBeNull();
    expect(await portsOf(r1.id)).toEqual([]);
    const now = await ok(api.call(ADMIN, 'PUT', `/v2.0/routers/${r2.id}`, { router: { external_gateway_info: { network_id: ext.net.id, external_fixed_ips: [{ ip_address: '203.0.113.9' }] } } }), 200);
    expect(now.router.external_gateway_info.external_fixed_ips[0].ip_address).toBe('203.0.113.9');
    const noGw = await ok(api.call(ADMIN, 'PUT', `/v2.0/routers/${r2.id}`, { router: { external_gateway_info: null } }), 200);
    expect(noGw.router.external_gateway_info).toBeNull();
  });
});

describe('routers: interfaces', () => {
  it('adds an interface by subnet on the gateway IP and refuses duplicates, overlaps and gatewayless subnets', async () => {
    const a = await network(ALICE, '10.0.0.0/24');
    const r = await router(ALICE);
    const res = await addIf(ALICE, r.id, { subnet_id: a.subnet.id });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['id', 'network_id', 'port_id', 'project_id', 'subnet_id', 'subnet_ids', 'tenant_id']);
    expect(res.body).toMatchObject({ id: r.id, subnet_id: a.subnet.id, subnet_ids: [a.subnet.id], network_id: a.net.id, tenant_id: 'alice-project', project_id: 'alice-project' });
    const port = (await ok(api.call(ALICE, 'GET', `/v2.0/ports/${res.body.port_id}`), 200)).port;
    expect(port).toMatchObject({ device_id: r.id, device_owner: 'network:router_interface', fixed_ips: [{ subnet_id: a.subnet.id, ip_address: '10.0.0.1' }] });
    expect(port.security_groups).toEqual([]);
    const direct = await api.call(ALICE, 'DELETE', `/v2.0/ports/${port.id}`);
    expect(direct.status).toBe(409);
    expect(direct.body.NeutronError.type).toBe('ServicePortInUse');

    const again = await addIf(ALICE, r.id, { subnet_id: a.subnet.id });
    expect(again.status).toBe(400);
    expect(again.body.NeutronError.message).toBe(`Bad router request: Router already has a port on subnet ${a.subnet.id}.`);
    const overlapping = await network(ALICE, '10.0.0.0/25');
    const ov = await addIf(ALICE, r.id, { subnet_id: overlapping.subnet.id });
    expect(ov.status).toBe(400);
    expect(ov.body.NeutronError.message).toContain('overlaps with cidr 10.0.0.0/24');
    const nogw = await network(ALICE, '10.9.0.0/24', {}, { gateway_ip: null });
    const ng = await addIf(ALICE, r.id, { subnet_id: nogw.subnet.id });
    expect(ng.status).toBe(400);
    expect(ng.body.NeutronError.message).toContain('must have a gateway IP');
    expect((await addIf(ALICE, r.id, {})).status).toBe(400);
    expect((await addIf(ALICE, r.id, { subnet_id: a.subnet.id, port_id: res.body.port_id })).status).toBe(400);
  });

  it('adds an interface by an unbound port and refuses a port in use', async () => {
    const b = await network(ALICE, '10.1.0.0/24');
    const r = await router(ALICE);
    const port = (await ok(api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: b.net.id } }))).port;
    const res = await addIf(ALICE, r.id, { port_id: port.id });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ port_id: port.id, subnet_id: b.subnet.id, network_id: b.net.id });
    const after = (await ok(api.call(ALICE, 'GET', `/v2.0/ports/${port.id}`), 200)).port;
    expect(after).toMatchObject({ device_id: r.id, device_owner: 'network:router_interface' });

    const c = await network(ALICE, '10.2.0.0/24');
    const busy = (await ok(api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: c.net.id, device_id: 'vm-1' } }))).port;
    const inUse = await addIf(ALICE, r.id, { port_id: busy.id });
    expect(inUse.status).toBe(409);
    expect(inUse.body.NeutronError.type).toBe('PortInUse');
  });

  it("adds an interface by a port made with the subnet's gateway address (openstacksdk, OSC: port create, then router add port)", async () => {
    // Neutron's IPAM gives a port any free address of the subnet it asks for, the gateway's
    // too (only the pools leave the gateway out); a second holder is refused.
    const b = await network(ALICE, '10.1.0.0/24');
    const leg = (await ok(api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: b.net.id, fixed_ips: [{ subnet_id: b.subnet.id, ip_address: '10.1.0.1' }] } }))).port;
    expect(leg.fixed_ips).toEqual([{ subnet_id: b.subnet.id, ip_address: '10.1.0.1' }]);
    const second = await api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: b.net.id, fixed_ips: [{ ip_address: '10.1.0.1' }] } });
    expect([second.status, second.body.NeutronError.type]).toEqual([409, 'IpAddressAlreadyAllocated']);
    const r = await router(ALICE);
    const res = await addIf(ALICE, r.id, { port_id: leg.id });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: r.id, port_id: leg.id, subnet_id: b.subnet.id, network_id: b.net.id });
    // The gateway is taken now, so an interface by subnet (on another router) cannot have it.
    const r2 = await router(ALICE);
    const bySubnet = await addIf(ALICE, r2.id, { subnet_id: b.subnet.id });
    expect([bySubnet.status, bySubnet.body.NeutronError.type]).toEqual([409, 'IpAddressAlreadyAllocated']);
    // An existing port may move onto the gateway address by update too.
    const c = await network(ALICE, '10.2.0.0/24');
    const vm = (await ok(api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: c.net.id } }))).port;
    const moved = await api.call(ALICE, 'PUT', `/v2.0/ports/${vm.id}`, { port: { fixed_ips: [{ ip_address: '10.2.0.1' }] } });
    expect(moved.status).toBe(200);
    expect(moved.body.port.fixed_ips).toEqual([{ subnet_id: c.subnet.id, ip_address: '10.2.0.1' }]);
  });

  it('removes interfaces by subnet and by port, deleting the port, with Neutron 404s', async () => {
    const a = await network(ALICE, '10.0.0.0/24');
    const b = await network(ALICE, '10.1.0.0/24');
    const r = await router(ALICE);
    const ia = (await addIf(ALICE, r.id, { subnet_id: a.subnet.id })).body;
    const ib = (await addIf(ALICE, r.id, { subnet_id: b.subnet.id })).body;
    const rem = await removeIf(ALICE, r.id, { subnet_id: a.subnet.id });
    expect(rem.status).toBe(200);
    expect(rem.body).toMatchObject({ id: r.id, port_id: ia.port_id, subnet_id: a.subnet.id });
    expect((await api.call(ALICE, 'GET', `/v2.0/ports/${ia.port_id}`)).status).toBe(404);
    const twice = await removeIf(ALICE, r.id, { subnet_id: a.subnet.id });
    expect(twice.status).toBe(404);
    expect(twice.body.NeutronError.type).toBe('RouterInterfaceNotFoundForSubnet');
    const wrong = await removeIf(ALICE, r.id, { port_id: ia.port_id });
    expect(wrong.status).toBe(404);
    expect(wrong.body.NeutronError.type).toBe('RouterInterfaceNotFound');
    expect((await removeIf(ALICE, r.id, { port_id: ib.port_id })).status).toBe(200);
    expect(await portsOf(r.id)).toEqual([]);
    // The gateway address of the subnet is free again.
    expect((await addIf(ALICE, r.id, { subnet_id: a.subnet.id })).status).toBe(200);
  });

  it('refuses to delete a router that still has interfaces and deletes its gateway port with it', async () => {
    const ext = await external();
    const a = await network(ALICE, '10.0.0.0/24');
    const r = await router(ALICE, { external_gateway_info: { network_id: ext.net.id } });
    const iface = (await addIf(ALICE, r.id, { subnet_id: a.subnet.id })).body;
    const del = await api.call(ALICE, 'DELETE', `/v2.0/routers/${r.id}`);
    expect(del.status).toBe(409);
    expect(del.body.NeutronError.type).toBe('RouterInUse');
    expect(del.body.NeutronError.message).toContain(iface.port_id);
    await ok(removeIf(ALICE, r.id, { subnet_id: a.subnet.id }), 200);
    expect((await api.call(ALICE, 'DELETE', `/v2.0/routers/${r.id}`)).status).toBe(204);
    expect(await portsOf(r.id)).toEqual([]);
    expect((await api.call(ADMIN, 'DELETE', `/v2.0/networks/${ext.net.id}`)).status).toBe(204);
  });

  it('keeps routers and subnets of other projects apart', async () => {
    const a = await network(ALICE, '10.0.0.0/24');
    const r = await router(ALICE);
    expect((await api.call(BOB, 'GET', `/v2.0/routers/${r.id}`)).status).toBe(404);
    expect((await api.call(BOB, 'GET', '/v2.0/routers')).body.routers).toEqual([]);
    const foreign = await addIf(BOB, r.id, { subnet_id: a.subnet.id });
    expect(foreign.status).toBe(404);
    expect(foreign.body.NeutronError.type).toBe('RouterNotFound');
    const bobs = await router(BOB);
    const sub = await addIf(BOB, bobs.id, { subnet_id: a.subnet.id });
    expect(sub.status).toBe(404);
    expect(sub.body.NeutronError.type).toBe('SubnetNotFound');
    expect((await api.call(BOB, 'DELETE', `/v2.0/routers/${r.id}`)).status).toBe(404);
  });

  it('counts routers against the router quota', async () => {
    await ok(api.call(ADMIN, 'PUT', '/v2.0/quotas/alice-project', { quota: { router: 1 } }), 200);
    await router(ALICE);
    const over = await api.call(ALICE, 'POST', '/v2.0/routers', { router: {} });
    expect(over.status).toBe(409);
    expect(over.body.NeutronError.type).toBe('OverQuota');
  });
});

describe('routers: extra routes', () => {
  it('validates nexthops against the router subnets and keeps interfaces routes need', async () => {
    const a = await network(ALICE, '10.0.0.0/24');
    const r = await router(ALICE);
    await ok(addIf(ALICE, r.id, { subnet_id: a.subnet.id }), 200);
    const route = { destination: '192.168.10.0/24', nexthop: '10.0.0.5' };
    const set = await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${r.id}`, { router: { routes: [route] } }), 200);
    expect(set.router.routes).toEqual([route]);

    const unreachable = await api.call(ALICE, 'PUT', `/v2.0/routers/${r.id}`, { router: { routes: [{ destination: '192.168.20.0/24', nexthop: '172.16.0.1' }] } });
    expect(unreachable.status).toBe(400);
    expect(unreachable.body.NeutronError.type).toBe('InvalidRoutes');
    expect(unreachable.body.NeutronError.message).toBe("Invalid format for routes: [{'destination': '192.168.20.0/24', 'nexthop': '172.16.0.1'}], the nexthop is not connected with router.");
    const own = await api.call(ALICE, 'PUT', `/v2.0/routers/${r.id}`, { router: { routes: [{ destination: '192.168.20.0/24', nexthop: '10.0.0.1' }] } });
    expect(own.status).toBe(400);
    expect(own.body.NeutronError.message).toContain('the nexthop is used by router');
    const badCidr = await api.call(ALICE, 'PUT', `/v2.0/routers/${r.id}`, { router: { routes: [{ destination: 'nope', nexthop: '10.0.0.5' }] } });
    expect(badCidr.status).toBe(400);

    const inUse = await removeIf(ALICE, r.id, { subnet_id: a.subnet.id });
    expect(inUse.status).toBe(409);
    expect(inUse.body.NeutronError.type).toBe('RouterInterfaceInUseByRoute');
    expect((await ok(api.call(ALICE, 'GET', `/v2.0/routers/${r.id}`), 200)).router.routes).toEqual([route]);
  });

  it('adds and removes extra routes atomically', async () => {
    const a = await network(ALICE, '10.0.0.0/24');
    const r = await router(ALICE);
    await ok(addIf(ALICE, r.id, { subnet_id: a.subnet.id }), 200);
    const r1 = { destination: '192.168.1.0/24', nexthop: '10.0.0.5' };
    const r2 = { destination: '192.168.2.0/24', nexthop: '10.0.0.6' };
    const added = await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${r.id}/add_extraroutes`, { router: { routes: [r1, r2] } }), 200);
    expect(added.router.routes).toEqual([r1, r2]);
    const again = await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${r.id}/add_extraroutes`, { router: { routes: [r1] } }), 200);
    expect(again.router.routes).toEqual([r1, r2]);
    const bad = await api.call(ALICE, 'PUT', `/v2.0/routers/${r.id}/add_extraroutes`, { router: { routes: [{ destination: '0.0.0.0/0', nexthop: '8.8.8.8' }] } });
    expect(bad.status).toBe(400);
    const removed = await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${r.id}/remove_extraroutes`, { router: { routes: [r1] } }), 200);
    expect(removed.router.routes).toEqual([r2]);
    await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${r.id}/remove_extraroutes`, { router: { routes: [r2] } }), 200);
    expect((await removeIf(ALICE, r.id, { subnet_id: a.subnet.id })).status).toBe(200);
  });
});
