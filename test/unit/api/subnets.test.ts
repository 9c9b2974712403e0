import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN, ALICE, BOB, testApi, type Caller, type TestApi } from '../../helpers/api.ts';

let api: TestApi;
beforeEach(async () => { api = await testApi(); });
afterEach(async () => api.close());

async function network(caller: Caller = ALICE, extra: Record<string, unknown> = {}): Promise<any> {
  const res = await api.call(caller, 'POST', '/v2.0/networks', { network: { name: 'n', ...extra } });
  expect(res.status).toBe(201);
  return res.body.network;
}

async function subnet(caller: Caller, body: Record<string, unknown>, status = 201): Promise<any> {
  const res = await api.call(caller, 'POST', '/v2.0/subnets', { subnet: body });
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  return status === 201 ? res.body.subnet : res.body.NeutronError;
}

describe('subnets: create', () => {
  it('creates an IPv4 subnet with Neutron defaults', async () => {
    const net = await network();
    const s = await subnet(ALICE, { network_id: net.id, cidr: '10.0.0.0/24', ip_version: 4, name: 's1' });
    expect(s).toMatchObject({
      name: 's1', description: '', network_id: net.id, ip_version: 4, cidr: '10.0.0.0/24', gateway_ip: '10.0.0.1',
      allocation_pools: [{ start: '10.0.0.2', end: '10.0.0.254' }], dns_nameservers: [], host_routes: [], enable_dhcp: true,
      ipv6_ra_mode: null, ipv6_address_mode: null, subnetpool_id: null, project_id: 'alice-project', tenant_id: 'alice-project',
      revision_number: 1, tags: [],
    });
    expect(typeof s.created_at).toBe('string');
    const shownNet = await api.call(ALICE, 'GET', `/v2.0/networks/${net.id}`);
    expect(shownNet.body.network.subnets).toEqual([s.id]);
  });

  it('normalises a CIDR with host bits and checks ip_version', async () => {
    const net = await network();
    const s = await subnet(ALICE, { network_id: net.id, cidr: '10.1.2.77/24', ip_version: 4 });
    expect(s.cidr).toBe('10.1.2.0/24');
    expect(s.gateway_ip).toBe('10.1.2.1');
    const mismatch = await subnet(ALICE, { network_id: net.id, cidr: '10.9.0.0/24', ip_version: 6 }, 400);
    expect(mismatch).toMatchObject({ type: 'InvalidInput', message: "Invalid input for operation: cidr '10.9.0.0/24' does not match the ip_version '6'" });
    expect((await subnet(ALICE, { network_id: net.id, cidr: 'banana', ip_version: 4 }, 400)).type).toBe('HTTPBadRequest');
    expect((await subnet(ALICE, { network_id: net.id, cidr: '10.9.0.0/24' }, 400)).message).toContain('ip_version');
    expect((await subnet(ALICE, { network_id: net.id, cidr: '0.0.0.0/0', ip_version: 4 }, 400)).message).toContain('0 is not allowed as CIDR prefix length');
  });

  it('creates an IPv6 subnet', async () => {
    const net = await network();
    const s = await subnet(ALICE, { network_id: net.id, cidr: '2001:DB8::/64', ip_version: 6 });
    expect(s).toMatchObject({ cidr: '2001:db8::/64', gateway_ip: '2001:db8::1', allocation_pools: [{ start: '2001:db8::2', end: '2001:db8::ffff:ffff:ffff:ffff' }] });
  });

  it('rejects overlapping CIDRs on the same network but not on another', async () => {
    const net = await network();
    await subnet(ALICE, { network_id: net.id, cidr: '10.0.0.0/16', ip_version: 4 });
    const err = await subnet(ALICE, { network_id: net.id, cidr: '10.0.5.0/24', ip_version: 4 }, 400);
    expect(err).toEqual({
      type: 'InvalidInput', detail: '',
      message: `Invalid input for operation: Requested subnet with cidr: 10.0.5.0/24 for network: ${net.id} overlaps with another subnet.`,
    });
    const other = await network();
    await subnet(ALICE, { network_id: other.id, cidr: '10.0.5.0/24', ip_version: 4 });
  });

  it('gateway rules: explicit, null, invalid', async () => {
    const net = await network();
    const a = await subnet(ALICE, { network_id: net.id, cidr: '10.0.0.0/24', ip_version: 4, gateway_ip: '10.0.0.254' });
    expect(a.allocation_pools).toEqual([{ start: '10.0.0.1', end: '10.0.0.253' }]);
    const b = await subnet(ALICE, { network_id: net.id, cidr: '10.0.1.0/24', ip_version: 4, gateway_ip: null });
    expect(b.gateway_ip).toBeNull();
    expect(b.allocation_pools).toEqual([{ start: '10.0.1.1', end: '10.0.1.254' }]);
    const mid = await subnet(ALICE, { network_id: net.id, cidr: '10.0.2.0/24', ip_version: 4, gateway_ip: '10.0.2.100' });
    expect(mid.allocation_pools).toEqual([{ start: '10.0.2.1', end: '10.0.2.99' }, { start: '10.0.2.101', end: '10.0.2.254' }]);
    for (const gw of ['10.0.3.0', '10.0.3.255', '10.0.9.1']) {
      const err = await subnet(ALICE, { network_id: net.id, cidr: '10.0.3.0/24', ip_version: 4, gateway_ip: gw }, 400);
      expect(err.message).toBe('Invalid input for operation: Gateway is not valid on subnet.');
    }
    const v6gw = await subnet(ALICE, { network_id: net.id, cidr: '10.0.3.0/24', ip_version: 4, gateway_ip: '2001:db8::1' }, 400);
    expect(v6gw.message).toContain("gateway_ip '2001:db8::1' does not match the ip_version '4'");
  });

  it('allocation pools: inside, no overlap, not the gateway', async () => {
    const net = await network();
    const ok = await subnet(ALICE, { network_id: net.id, cidr: '10.0.0.0/24', ip_version: 4, allocation_pools: [{ start: '10.0.0.10', end: '10.0.0.20' }, { start: '10.0.0.100', end: '10.0.0.100' }] });
    expect(ok.allocation_pools).toEqual([{ start: '10.0.0.10', end: '10.0.0.20' }, { start: '10.0.0.100', end: '10.0.0.100' }]);
    const base = { network_id: net.id, cidr: '10.0.1.0/24', ip_version: 4 };
    const out = await subnet(ALICE, { ...base, allocation_pools: [{ start: '10.0.1.200', end: '10.0.2.5' }] }, 400);
    expect(out).toMatchObject({ type: 'OutOfBoundsAllocationPool', message: 'The allocation pool 10.0.1.200-10.0.2.5 spans beyond the subnet cidr 10.0.1.0/24.' });
    const bcast = await subnet(ALICE, { ...base, allocation_pools: [{ start: '10.0.1.200', end: '10.0.1.255' }] }, 400);
    expect(bcast.type).toBe('OutOfBoundsAllocationPool');
    const overlap = await api.call(ALICE, 'POST', '/v2.0/subnets', { subnet: { ...base, allocation_pools: [{ start: '10.0.1.10', end: '10.0.1.20' }, { start: '10.0.1.15', end: '10.0.1.30' }] } });
    expect(overlap.status).toBe(409);
    expect(overlap.body.NeutronError).toMatchObject({ type: 'OverlappingAllocationPools', message: 'Found overlapping allocation pools: 10.0.1.10-10.0.1.20 10.0.1.15-10.0.1.30 for subnet 10.0.1.0/24.' });
    const gw = await api.call(ALICE, 'POST', '/v2.0/subnets', { subnet: { ...base, allocation_pools: [{ start: '10.0.1.1', end: '10.0.1.20' }] } });
    expect(gw.status).toBe(409);
    expect(gw.body.NeutronError).toMatchObject({ type: 'GatewayConflictWithAllocationPools', message: 'Gateway ip 10.0.1.1 conflicts with allocation pool 10.0.1.1-10.0.1.20.' });
    const reversed = await subnet(ALICE, { ...base, allocation_pools: [{ start: '10.0.1.20', end: '10.0.1.10' }] }, 400);
    expect(reversed.type).toBe('InvalidAllocationPool');
    const extra = await subnet(ALICE, { ...base, allocation_pools: [{ start: '10.0.1.2', end: '10.0.1.3', colour: 'red' }] }, 400);
    expect(extra.message).toContain('Unrecognized attribute');
  });

  it('dns nameservers and host routes', async () => {
    const net = await network();
    const s = await subnet(ALICE, {
      network_id: net.id, cidr: '10.0.0.0/24', ip_version: 4, dns_nameservers: ['8.8.8.8', '2001:4860:4860::8888'],
      host_routes: [{ destination: '192.168.0.0/16', nexthop: '10.0.0.5' }], enable_dhcp: false,
    });
    expect(s).toMatchObject({ dns_nameservers: ['8.8.8.8', '2001:4860:4860::8888'], host_routes: [{ destination: '192.168.0.0/16', nexthop: '10.0.0.5' }], enable_dhcp: false });
    const base = { network_id: net.id, cidr: '10.0.1.0/24', ip_version: 4 };
    expect((await subnet(ALICE, { ...base, dns_nameservers: ['8.8.8.8', '8.8.8.8'] }, 400)).message).toBe("Invalid input for dns_nameservers. Reason: Duplicate nameserver '8.8.8.8'.");
    expect((await subnet(ALICE, { ...base, dns_nameservers: ['not-an-ip'] }, 400)).type).toBe('HTTPBadRequest');
    expect((await subnet(ALICE, { ...base, dns_nameservers: ['1.1.1.1', '1.1.1.2', '1.1.1.3', '1.1.1.4', '1.1.1.5', '1.1.1.6'] }, 400)).type).toBe('DNSNameServersExhausted');
    const dupRoute = { destination: '192.168.0.0/16', nexthop: '10.0.1.5' };
    expect((await subnet(ALICE, { ...base, host_routes: [dupRoute, dupRoute] }, 400)).message).toContain('Duplicate hostroute');
    expect((await subnet(ALICE, { ...base, host_routes: [{ destination: '2001:db8::/64', nexthop: '10.0.1.5' }] }, 400)).message).toContain("destination '2001:db8::/64' does not match the ip_version '4'");
    expect((await subnet(ALICE, { ...base, host_routes: [{ destination: '10.9.0.0/16' }] }, 400)).message).toContain('nexthop');
  });

  it('IPv6 modes follow Neutron compatibility rules', async () => {
    const net = await network();
    const s = await subnet(ALICE, { network_id: net.id, cidr: 'fd00:1::/64', ip_version: 6, ipv6_ra_mode: 'slaac', ipv6_address_mode: 'slaac' });
    expect(s).toMatchObject({ ipv6_ra_mode: 'slaac', ipv6_address_mode: 'slaac' });
    const b = { network_id: net.id, ip_version: 6 };
    expect((await subnet(ALICE, { ...b, cidr: 'fd00:2::/64', ipv6_ra_mode: 'slaac', ipv6_address_mode: 'dhcpv6-stateful' }, 400)).message)
      .toContain("ipv6_ra_mode set to 'slaac' with ipv6_address_mode set to 'dhcpv6-stateful' is not valid");
    expect((await subnet(ALICE, { ...b, cidr: 'fd00:2::/80', ipv6_address_mode: 'slaac' }, 400)).message).toContain('which requires the prefix to be /64');
    expect((await subnet(ALICE, { ...b, cidr: 'fd00:2::/64', ipv6_address_mode: 'slaac', enable_dhcp: false }, 400)).message).toContain('cannot be set when enable_dhcp is set to False');
    expect((await subnet(ALICE, { ...b, cidr: 'fd00:2::/64', ipv6_address_mode: 'bogus' }, 400)).type).toBe('HTTPBadRequest');
    expect((await subnet(ALICE, { network_id: net.id, ip_version: 4, cidr: '10.0.0.0/24', ipv6_ra_mode: 'slaac' }, 400)).message).toContain('ipv6_ra_mode is not valid when ip_version is 4');
    const stateful = await subnet(ALICE, { ...b, cidr: 'fd00:3::/80', ipv6_address_mode: 'dhcpv6-stateful', ipv6_ra_mode: 'dhcpv6-stateful' });
    expect(stateful.ipv6_address_mode).toBe('dhcpv6-stateful');
    expect((await api.call(ALICE, 'PUT', `/v2.0/subnets/${s.id}`, { subnet: { enable_dhcp: false } })).body.NeutronError.message)
      .toContain('Cannot disable enable_dhcp with ipv6 attributes set');
  });

  it('rejects unknown subnet pools and attributes, changing nothing', async () => {
    const net = await network();
    const before = api.store.revision;
    expect((await subnet(ALICE, { network_id: net.id, cidr: '10.0.0.0/24', ip_version: 4, subnetpool_id: '4ac0e7b1-6a2c-4bb4-9c41-3a1c0f5a3b9e' }, 404)).type).toBe('SubnetPoolNotFound');
    expect((await subnet(ALICE, { network_id: net.id, cidr: '10.0.0.0/24', ip_version: 4, colour: 'red' }, 400)).message).toContain("Unrecognized attribute(s) 'colour'");
    expect((await subnet(ALICE, { cidr: '10.0.0.0/24', ip_version: 4 }, 400)).message).toContain('network_id');
    expect((await subnet(ALICE, { network_id: net.id, ip_version: 4 }, 400)).message).toBe('a subnetpool must be specified in the absence of a cidr');
    expect(api.store.revision).toBe(before);
    const ok = await subnet(ALICE, { network_id: net.id, cidr: '10.0.0.0/24', ip_version: 4, subnetpool_id: null, use_default_subnetpool: false });
    expect(ok.subnetpool_id).toBeNull();
  });

  it('network ownership: other projects cannot add subnets; shared networks are visible but owner-only', async () => {
    const mine = await network(ALICE);
    expect((await subnet(BOB, { network_id: mine.id, cidr: '10.0.0.0/24', ip_version: 4 }, 404)).type).toBe('NetworkNotFound');
    const shared = await network(ADMIN, { shared: true });
    expect((await subnet(BOB, { network_id: shared.id, cidr: '10.0.0.0/24', ip_version: 4 }, 403)).type).toBe('PolicyNotAuthorized');
    const s = await subnet(ADMIN, { network_id: shared.id, cidr: '10.0.0.0/24', ip_version: 4 });
    expect((await api.call(BOB, 'GET', `/v2.0/subnets/${s.id}`)).status).toBe(200);
    const ext = await network(ADMIN, { 'router:external': true });
    const extSubnet = await subnet(ADMIN, { network_id: ext.id, cidr: '172.24.4.0/24', ip_version: 4 });
    // An external network is visible to all, its subnets only when it is shared (Neutron's get_subnet).
    expect((await api.call(BOB, 'GET', `/v2.0/subnets/${extSubnet.id}`)).status).toBe(404);
    expect((await subnet(BOB, { network_id: ext.id, cidr: '172.25.4.0/24', ip_version: 4 }, 404)).type).toBe('HTTPNotFound');
    const aliceOnly = await subnet(ALICE, { network_id: mine.id, cidr: '10.0.0.0/24', ip_version: 4 });
    expect((await api.call(BOB, 'GET', `/v2.0/subnets/${aliceOnly.id}`)).status).toBe(404);
    expect((await api.call(BOB, 'PUT', `/v2.0/subnets/${s.id}`, { subnet: { name: 'x' } })).status).toBe(403);
    expect((await api.call(BOB, 'GET', '/v2.0/subnets')).body.subnets.map((x: any) => x.id)).toEqual([s.id]);
    // Admin creates a subnet for another project.
    const forBob = await subnet(ADMIN, { network_id: mine.id, cidr: '10.1.0.0/24', ip_version: 4, project_id: 'bob-project' });
    expect(forBob.project_id).toBe('bob-project');
  });

  it('filters by network_id, ip_version and cidr', async () => {
    const a = await network();
    const b = await network();
    await subnet(ALICE, { network_id: a.id, cidr: '10.0.0.0/24', ip_version: 4 });
    await subnet(ALICE, { network_id: a.id, cidr: 'fd00::/64', ip_version: 6 });
    await subnet(ALICE, { network_id: b.id, cidr: '10.0.0.0/24', ip_version: 4 });
    const q = async (s: string) => (await api.call(ALICE, 'GET', `/v2.0/subnets?${s}`)).body.subnets;
    expect(await q(`network_id=${a.id}`)).toHaveLength(2);
    expect(await q(`network_id=${a.id}&ip_version=6`)).toHaveLength(1);
    expect(await q('cidr=10.0.0.0/24')).toHaveLength(2);
  });

  it('counts the subnet quota', async () => {
    await api.call(ADMIN, 'PUT', '/v2.0/quotas/alice-project', { quota: { subnet: 1 } });
    const net = await network();
    await subnet(ALICE, { network_id: net.id, cidr: '10.0.0.0/24', ip_version: 4 });
    const over = await api.call(ALICE, 'POST', '/v2.0/subnets', { subnet: { network_id: net.id, cidr: '10.0.1.0/24', ip_version: 4 } });
    expect(over.status).toBe(409);
    expect(over.body.NeutronError.type).toBe('OverQuota');
  });
});

describe('subnets: update and delete', () => {
  it('updates name, pools, dns, routes, dhcp and gateway', async () => {
    const net = await network();
    const s = await subnet(ALICE, { network_id: net.id, cidr: '10.0.0.0/24', ip_version: 4 });
    const res = await api.call(ALICE, 'PUT', `/v2.0/subnets/${s.id}`, { subnet: {
      name: 'renamed', allocation_pools: [{ start: '10.0.0.50', end: '10.0.0.60' }], dns_nameservers: ['1.1.1.1'],
      host_routes: [{ destination: '0.0.0.0/0', nexthop: '10.0.0.254' }], enable_dhcp: false, gateway_ip: '10.0.0.254',
    } });
    expect(res.status).toBe(200);
    expect(res.body.subnet).toMatchObject({ name: 'renamed', allocation_pools: [{ start: '10.0.0.50', end: '10.0.0.60' }], dns_nameservers: ['1.1.1.1'],
      gateway_ip: '10.0.0.254', enable_dhcp: false, revision_number: 2 });
    const conflictGw = await api.call(ALICE, 'PUT', `/v2.0/subnets/${s.id}`, { subnet: { gateway_ip: '10.0.0.55' } });
    expect(conflictGw.status).toBe(409);
    expect(conflictGw.body.NeutronError.type).toBe('GatewayConflictWithAllocationPools');
    const cleared = await api.call(ALICE, 'PUT', `/v2.0/subnets/${s.id}`, { subnet: { gateway_ip: null, dns_nameservers: null } });
    expect(cleared.body.subnet).toMatchObject({ gateway_ip: null, dns_nameservers: [] });
    expect((await api.call(ALICE, 'PUT', `/v2.0/subnets/${s.id}`, { subnet: { cidr: '10.0.1.0/24' } })).status).toBe(400);
    expect((await api.call(ALICE, 'PUT', `/v2.0/subnets/${s.id}`, { subnet: { name: 'x' } }, { 'if-match': 'revision_number=1' })).status).toBe(412);
  });

  it('refuses a new gateway that a port holds (409 GatewayIpInUse)', async () => {
    const net = await network();
    const s = await subnet(ALICE, { network_id: net.id, cidr: '10.0.0.0/24', ip_version: 4, allocation_pools: [{ start: '10.0.0.2', end: '10.0.0.100' }] });
    const port = (await api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: net.id, fixed_ips: [{ ip_address: '10.0.0.200' }] } })).body.port;
    const res = await api.call(ALICE, 'PUT', `/v2.0/subnets/${s.id}`, { subnet: { gateway_ip: '10.0.0.200' } });
    expect(res.status).toBe(409);
    expect(res.body.NeutronError).toMatchObject({ type: 'GatewayIpInUse', message: `Current gateway ip 10.0.0.200 already in use by port ${port.id}. Unable to update.` });
  });

  it('delete: 409 SubnetInUse while ports hold addresses; DHCP ports do not count', async () => {
    const net = await network();
    const s = await subnet(ALICE, { network_id: net.id, cidr: '10.0.0.0/24', ip_version: 4 });
    const port = (await api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: net.id } })).body.port;
    const dhcp = (await api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: net.id, device_owner: 'network:dhcp' } })).body.port;
    expect(dhcp.fixed_ips).toHaveLength(1);
    const busy = await api.call(ALICE, 'DELETE', `/v2.0/subnets/${s.id}`);
    expect(busy.status).toBe(409);
    expect(busy.body.NeutronError).toMatchObject({ type: 'SubnetInUse', message: `Unable to complete operation on subnet ${s.id}: One or more ports have an IP allocation from this subnet.` });
    expect((await api.call(ALICE, 'DELETE', `/v2.0/ports/${port.id}`)).status).toBe(204);
    expect((await api.call(ALICE, 'DELETE', `/v2.0/subnets/${s.id}`)).status).toBe(204);
    expect((await api.call(ALICE, 'GET', `/v2.0/subnets/${s.id}`)).status).toBe(404);
    expect((await api.call(ALICE, 'GET', `/v2.0/ports/${dhcp.id}`)).body.port.fixed_ips).toEqual([]);
    expect((await api.call(ALICE, 'GET', `/v2.0/networks/${net.id}`)).body.network.subnets).toEqual([]);
  });

  it('delete: a router interface keeps the subnet in use', async () => {
    const net = await network();
    const s = await subnet(ALICE, { network_id: net.id, cidr: '10.0.0.0/24', ip_version: 4 });
    const rif = await api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: net.id, device_owner: 'network:router_interface', fixed_ips: [{ subnet_id: s.id, ip_address: '10.0.0.1' }] } });
    expect(rif.status).toBe(201);
    expect(rif.body.port.fixed_ips).toEqual([{ subnet_id: s.id, ip_address: '10.0.0.1' }]);
    expect((await api.call(ALICE, 'DELETE', `/v2.0/subnets/${s.id}`)).status).toBe(409);
    // The gateway held by a router port cannot move.
    const move = await api.call(ALICE, 'PUT', `/v2.0/subnets/${s.id}`, { subnet: { gateway_ip: '10.0.0.254', allocation_pools: [{ start: '10.0.0.2', end: '10.0.0.200' }] } });
    expect(move.status).toBe(409);
    expect(move.body.NeutronError.type).toBe('GatewayIpInUse');
  });

  it('delete: a floating IP from the subnet keeps it in use', async () => {
    const ext = await network(ADMIN, { 'router:external': true });
    const s = await subnet(ADMIN, { network_id: ext.id, cidr: '172.24.4.0/24', ip_version: 4 });
    await api.store.transact((tx) => tx.put('floatingip', { id: 'fip-1', project_id: 'alice-project', floating_network_id: ext.id, floating_subnet_id: s.id, floating_ip_address: '172.24.4.10', port_id: null }));
    expect((await api.call(ADMIN, 'DELETE', `/v2.0/subnets/${s.id}`)).body.NeutronError.type).toBe('SubnetInUse');
    await api.store.transact((tx) => tx.remove('floatingip', 'fip-1'));
    expect((await api.call(ADMIN, 'DELETE', `/v2.0/subnets/${s.id}`)).status).toBe(204);
  });

  it('network delete cascades subnets once user ports are gone', async () => {
    const net = await network();
    const s = await subnet(ALICE, { network_id: net.id, cidr: '10.0.0.0/24', ip_version: 4 });
    const port = (await api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: net.id } })).body.port;
    await api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: net.id, device_owner: 'network:dhcp' } });
    expect((await api.call(ALICE, 'DELETE', `/v2.0/networks/${net.id}`)).status).toBe(409);
    expect((await api.call(ALICE, 'DELETE', `/v2.0/ports/${port.id}`)).status).toBe(204);
    expect((await api.call(ALICE, 'DELETE', `/v2.0/networks/${net.id}`)).status).toBe(204);
    expect((await api.call(ALICE, 'GET', `/v2.0/subnets/${s.id}`)).status).toBe(404);
    expect((await api.call(ADMIN, 'GET', '/v2.0/ports')).body.ports).toEqual([]);
  });

  it('a new SLAAC subnet gives existing ports their EUI-64 address; deleting it takes them back', async () => {
    const net = await network();
    await subnet(ALICE, { network_id: net.id, cidr: '10.0.0.0/24', ip_version: 4 });
    const port = (await api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: net.id, mac_address: 'fa:16:3e:aa:bb:cc' } })).body.port;
    const v6 = await subnet(ALICE, { network_id: net.id, cidr: '2001:db8:5::/64', ip_version: 6, ipv6_ra_mode: 'slaac', ipv6_address_mode: 'slaac' });
    const shown = (await api.call(ALICE, 'GET', `/v2.0/ports/${port.id}`)).body.port;
    expect(shown.fixed_ips[1]).toEqual({ subnet_id: v6.id, ip_address: '2001:db8:5:0:f816:3eff:feaa:bbcc' });
    expect((await api.call(ALICE, 'DELETE', `/v2.0/subnets/${v6.id}`)).status).toBe(204);
    expect((await api.call(ALICE, 'GET', `/v2.0/ports/${port.id}`)).body.port.fixed_ips).toHaveLength(1);
  });
});
