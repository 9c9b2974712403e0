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

async function subnet(caller: Caller, body: Record<string, unknown>): Promise<any> {
  const res = await api.call(caller, 'POST', '/v2.0/subnets', { subnet: body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.subnet;
}

async function port(caller: Caller, body: Record<string, unknown>, status = 201): Promise<any> {
  const res = await api.call(caller, 'POST', '/v2.0/ports', { port: body });
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  return status === 201 ? res.body.port : res.body.NeutronError;
}

async function update(caller: Caller, id: string, body: Record<string, unknown>, status = 200): Promise<any> {
  const res = await api.call(caller, 'PUT', `/v2.0/ports/${id}`, { port: body });
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  return status === 200 ? res.body.port : res.body.NeutronError;
}

async function netWithV4(cidr = '10.0.0.0/24', caller: Caller = ALICE): Promise<{ net: any; sub: any }> {
  const net = await network(caller);
  const sub = await subnet(caller, { network_id: net.id, cidr, ip_version: 4 });
  return { net, sub };
}

describe('ports: create', () => {
  it('creates a port with Neutron defaults, a generated MAC and the default security group', async () => {
    const { net, sub } = await netWithV4();
    const p = await port(ALICE, { network_id: net.id, name: 'vm1' });
    expect(p).toMatchObject({
      name: 'vm1', description: '', network_id: net.id, admin_state_up: true, status: 'DOWN', device_id: '', device_owner: '',
      fixed_ips: [{ subnet_id: sub.id, ip_address: '10.0.0.2' }], allowed_address_pairs: [], port_security_enabled: true,
      ip_allocation: 'immediate', 'binding:vnic_type': 'normal', project_id: 'alice-project', tenant_id: 'alice-project', revision_number: 1, tags: [],
    });
    expect(p.mac_address).toMatch(/^fa:16:3e(:[0-9a-f]{2}){3}$/);
    expect(p.security_groups).toHaveLength(1);
    const groups = (await api.call(ALICE, 'GET', '/v2.0/security-groups')).body.security_groups;
    expect(groups.find((g: any) => g.id === p.security_groups[0]).name).toBe('default');
    // binding:* (but vnic_type) is admin-only.
    for (const attr of ['binding:host_id', 'binding:vif_type', 'binding:vif_details', 'binding:profile']) expect(p).not.toHaveProperty(attr);
    const asAdmin = (await api.call(ADMIN, 'GET', `/v2.0/ports/${p.id}`)).body.port;
    expect(asAdmin).toMatchObject({ 'binding:host_id': '', 'binding:vif_type': 'unbound', 'binding:vif_details': {}, 'binding:profile': {} });
    const second = await port(ALICE, { network_id: net.id });
    expect(second.fixed_ips[0].ip_address).toBe('10.0.0.3');
    expect(second.mac_address).not.toBe(p.mac_address);
  });

  it('a network without subnets gives a port without addresses', async () => {
    const net = await network();
    const p = await port(ALICE, { network_id: net.id });
    expect(p.fixed_ips).toEqual([]);
  });

  it('fixed_ips by subnet, by address and explicit; errors for bad requests', async () => {
    const { net, sub } = await netWithV4();
    const sub2 = await subnet(ALICE, { network_id: net.id, cidr: '10.0.1.0/24', ip_version: 4 });
    const bySubnet = await port(ALICE, { network_id: net.id, fixed_ips: [{ subnet_id: sub2.id }] });
    expect(bySubnet.fixed_ips).toEqual([{ subnet_id: sub2.id, ip_address: '10.0.1.2' }]);
    const byIp = await port(ALICE, { network_id: net.id, fixed_ips: [{ ip_address: '10.0.1.77' }] });
    expect(byIp.fixed_ips).toEqual([{ subnet_id: sub2.id, ip_address: '10.0.1.77' }]);
    const both = await port(ALICE, { network_id: net.id, fixed_ips: [{ subnet_id: sub.id, ip_address: '10.0.0.9' }, { subnet_id: sub2.id }] });
    expect(both.fixed_ips).toEqual([{ subnet_id: sub.id, ip_address: '10.0.0.9' }, { subnet_id: sub2.id, ip_address: '10.0.1.3' }]);
    const none = await port(ALICE, { network_id: net.id, fixed_ips: [] });
    expect(none.fixed_ips).toEqual([]);

    const taken = await port(ALICE, { network_id: net.id, fixed_ips: [{ ip_address: '10.0.0.9' }] }, 409);
    expect(taken).toMatchObject({ type: 'IpAddressAlreadyAllocated', message: `IP address 10.0.0.9 already allocated in subnet ${sub.id}` });
    expect((await port(ALICE, { network_id: net.id, fixed_ips: [{ ip_address: '10.9.9.9' }] }, 400)).type).toBe('InvalidIpForNetwork');
    expect((await port(ALICE, { network_id: net.id, fixed_ips: [{ subnet_id: sub.id, ip_address: '10.0.1.50' }] }, 400)).type).toBe('InvalidIpForSubnet');
    expect((await port(ALICE, { network_id: net.id, fixed_ips: [{ subnet_id: sub.id, ip_address: '10.0.0.255' }] }, 400)).type).toBe('InvalidIpForSubnet');
    // The gateway address is free to ask for (Neutron's IPAM), only once.
    expect((await port(ALICE, { network_id: net.id, fixed_ips: [{ subnet_id: sub.id, ip_address: '10.0.0.1' }] })).fixed_ips).toEqual([{ subnet_id: sub.id, ip_address: '10.0.0.1' }]);
    expect((await port(ALICE, { network_id: net.id, fixed_ips: [{ subnet_id: sub.id, ip_address: '10.0.0.1' }] }, 409)).type).toBe('IpAddressAlreadyAllocated');
    expect((await port(ALICE, { network_id: net.id, fixed_ips: [{ ip_address: '10.0.0.50' }, { ip_address: '10.0.0.50' }] }, 400)).message).toContain("Duplicate IP address '10.0.0.50'");
    expect((await port(ALICE, { network_id: net.id, fixed_ips: [{}] }, 400)).message).toContain('IP allocation requires subnet_id or ip_address');
    const otherNet = await netWithV4('10.5.0.0/24');
    expect((await port(ALICE, { network_id: net.id, fixed_ips: [{ subnet_id: otherNet.sub.id }] }, 400)).message).toContain('because fixed_ips included invalid subnet');
    expect((await port(ALICE, { network_id: net.id, fixed_ips: [{ subnet_id: '4ac0e7b1-6a2c-4bb4-9c41-3a1c0f5a3b9e' }] }, 404)).type).toBe('SubnetNotFound');
    const six = Array.from({ length: 6 }, (_, i) => ({ ip_address: `10.0.0.${100 + i}` }));
    expect((await port(ALICE, { network_id: net.id, fixed_ips: six }, 400)).message).toContain('Exceeded maximum amount of fixed ips per port');
  });

  it('exhausts a /29 with 409 IpAddressGenerationFailure', async () => {
    const { net } = await netWithV4('192.168.7.0/29');
    for (let i = 0; i < 5; i++) await port(ALICE, { network_id: net.id });
    const err = await port(ALICE, { network_id: net.id }, 409);
    expect(err).toMatchObject({ type: 'IpAddressGenerationFailure', message: `No more IP addresses available on network ${net.id}.` });
  });

  it('automatic addresses: the first v4 subnet with room, a stateful v6 and every SLAAC subnet', async () => {
    const net = await network();
    const full = await subnet(ALICE, { network_id: net.id, cidr: '10.0.0.0/30', ip_version: 4, gateway_ip: null });
    const v4b = await subnet(ALICE, { network_id: net.id, cidr: '10.0.1.0/24', ip_version: 4 });
    const stateful = await subnet(ALICE, { network_id: net.id, cidr: 'fd00:a::/64', ip_version: 6, ipv6_address_mode: 'dhcpv6-stateful' });
    const slaac = await subnet(ALICE, { network_id: net.id, cidr: 'fd00:b::/64', ip_version: 6, ipv6_ra_mode: 'slaac', ipv6_address_mode: 'slaac' });
    const stateless = await subnet(ALICE, { network_id: net.id, cidr: 'fd00:c::/64', ip_version: 6, ipv6_address_mode: 'dhcpv6-stateless' });
    const p1 = await port(ALICE, { network_id: net.id, mac_address: 'fa:16:3e:01:02:03' });
    expect(p1.fixed_ips).toEqual([
      { subnet_id: full.id, ip_address: '10.0.0.1' },
      { subnet_id: stateful.id, ip_address: 'fd00:a::2' },
      { subnet_id: slaac.id, ip_address: 'fd00:b::f816:3eff:fe01:203' },
      { subnet_id: stateless.id, ip_address: 'fd00:c::f816:3eff:fe01:203' },
    ]);
    await port(ALICE, { network_id: net.id }); // takes 10.0.0.2, the /30 is now full
    const p3 = await port(ALICE, { network_id: net.id });
    expect(p3.fixed_ips[0]).toEqual({ subnet_id: v4b.id, ip_address: '10.0.1.2' });
    // Explicit v4 request still gets the SLAAC addresses; a direct SLAAC address is refused.
    const p4 = await port(ALICE, { network_id: net.id, fixed_ips: [{ subnet_id: v4b.id }], mac_address: 'fa:16:3e:00:00:04' });
    expect(p4.fixed_ips.map((f: any) => f.ip_address)).toEqual(['10.0.1.3', 'fd00:b::f816:3eff:fe00:4', 'fd00:c::f816:3eff:fe00:4']);
    const direct = await port(ALICE, { network_id: net.id, fixed_ips: [{ subnet_id: slaac.id, ip_address: 'fd00:b::99' }] }, 400);
    expect(direct.type).toBe('AllocationOnAutoAddressSubnet');
    // An update that drops the SLAAC subnet keeps its address; a new MAC moves it.
    const kept = await update(ALICE, p4.id, { fixed_ips: [{ subnet_id: v4b.id }] });
    expect(kept.fixed_ips.map((f: any) => f.ip_address)).toEqual(['10.0.1.3', 'fd00:b::f816:3eff:fe00:4', 'fd00:c::f816:3eff:fe00:4']);
    const remac = await update(ADMIN, p4.id, { mac_address: 'fa:16:3e:00:00:05' });
    expect(remac.fixed_ips.map((f: any) => f.ip_address)).toEqual(['10.0.1.3', 'fd00:b::f816:3eff:fe00:5', 'fd00:c::f816:3eff:fe00:5']);
    // Router interfaces get no implicit SLAAC address and may take the gateway.
    const rif = await port(ALICE, { network_id: net.id, device_owner: 'network:router_interface', fixed_ips: [{ subnet_id: slaac.id, ip_address: 'fd00:b::1' }] });
    expect(rif.fixed_ips).toEqual([{ subnet_id: slaac.id, ip_address: 'fd00:b::1' }]);
    expect(rif.security_groups).toEqual([]);
  });

  it('MAC addresses: requested, taken (409), invalid', async () => {
    const { net } = await netWithV4();
    const p = await port(ALICE, { network_id: net.id, mac_address: 'FA:16:3E:AA:BB:CC' });
    expect(p.mac_address).toBe('fa:16:3e:aa:bb:cc');
    const dup = await port(ALICE, { network_id: net.id, mac_address: 'fa:16:3e:aa:bb:cc' }, 409);
    expect(dup).toMatchObject({ type: 'MacAddressInUse', message: `Unable to complete operation for network ${net.id}. The mac address fa:16:3e:aa:bb:cc is in use.` });
    const other = await network();
    await port(ALICE, { network_id: other.id, mac_address: 'fa:16:3e:aa:bb:cc' }); // unique per network only
    expect((await port(ALICE, { network_id: net.id, mac_address: 'ff:ff:ff:ff:ff:ff' }, 400)).type).toBe('HTTPBadRequest');
    expect((await port(ALICE, { network_id: net.id, mac_address: 'nope' }, 400)).type).toBe('HTTPBadRequest');
    // Deleting the port frees the MAC and the address.
    expect((await api.call(ALICE, 'DELETE', `/v2.0/ports/${p.id}`)).status).toBe(204);
    const again = await port(ALICE, { network_id: net.id, mac_address: 'fa:16:3e:aa:bb:cc', fixed_ips: [{ ip_address: p.fixed_ips[0].ip_address }] });
    expect(again.fixed_ips[0].ip_address).toBe('10.0.0.2');
  });

  it('port security, security groups and allowed address pairs', async () => {
    const { net } = await netWithV4();
    const sg = (await api.call(ALICE, 'POST', '/v2.0/security-groups', { security_group: { name: 'web' } })).body.security_group;
    await port(ALICE, { network_id: net.id, security_groups: [sg.id, sg.id] }, 400); // type:uuid_list refuses duplicates
    const withSg = await port(ALICE, { network_id: net.id, security_groups: [sg.id] });
    expect(withSg.security_groups).toEqual([sg.id]);
    const noSg = await port(ALICE, { network_id: net.id, security_groups: [] });
    expect(noSg.security_groups).toEqual([]);
    const off = await port(ALICE, { network_id: net.id, port_security_enabled: false });
    expect(off).toMatchObject({ port_security_enabled: false, security_groups: [] });
    const offWithSg = await port(ALICE, { network_id: net.id, port_security_enabled: false, security_groups: [sg.id] }, 400);
    expect(offWithSg).toMatchObject({ type: 'PortSecurityAndIPRequiredForSecurityGroups' });
    const offWithPairs = await port(ALICE, { network_id: net.id, port_security_enabled: false, allowed_address_pairs: [{ ip_address: '10.0.0.200' }] }, 409);
    expect(offWithPairs).toMatchObject({ type: 'AddressPairAndPortSecurityRequired', message: 'Port Security must be enabled in order to have allowed address pairs on a port.' });
    const bobSg = (await api.call(BOB, 'POST', '/v2.0/security-groups', { security_group: { name: 'b' } })).body.security_group;
    expect((await port(ALICE, { network_id: net.id, security_groups: [bobSg.id] }, 404)).type).toBe('SecurityGroupNotFound');

    const pairs = await port(ALICE, { network_id: net.id, mac_address: 'fa:16:3e:00:00:0a', allowed_address_pairs: [
      { ip_address: '10.0.0.200' }, { ip_address: '192.168.0.0/24', mac_address: 'fa:16:3e:00:00:0b' },
    ] });
    expect(pairs.allowed_address_pairs).toEqual([
      { ip_address: '10.0.0.200', mac_address: 'fa:16:3e:00:00:0a' }, { ip_address: '192.168.0.0/24', mac_address: 'fa:16:3e:00:00:0b' },
    ]);
    const dup = await port(ALICE, { network_id: net.id, allowed_address_pairs: [{ ip_address: '10.0.0.200' }, { ip_address: '10.0.0.200' }] }, 400);
    expect(dup.type).toBe('DuplicateAddressPairInRequest');
    expect((await port(ALICE, { network_id: net.id, allowed_address_pairs: [{ mac_address: 'fa:16:3e:00:00:0b' }] }, 400)).type).toBe('HTTPBadRequest');

    // port_security_enabled defaults to the network's value.
    const insecure = await network(ALICE, { port_security_enabled: false });
    const p = await port(ALICE, { network_id: insecure.id });
    expect(p).toMatchObject({ port_security_enabled: false, security_groups: [] });
  });

  it('policy: bindings are admin-only; network:* owners and addresses need the network owner', async () => {
    const { net } = await netWithV4();
    expect((await port(ALICE, { network_id: net.id, 'binding:host_id': 'h1' }, 403)).type).toBe('PolicyNotAuthorized');
    const bound = await port(ADMIN, { network_id: net.id, 'binding:host_id': 'h1', project_id: 'alice-project' });
    expect(bound).toMatchObject({ 'binding:host_id': 'h1', 'binding:vif_type': 'ovs', project_id: 'alice-project' });
    const shared = await network(ADMIN, { shared: true });
    await subnet(ADMIN, { network_id: shared.id, cidr: '10.9.0.0/24', ip_version: 4 });
    const onShared = await port(BOB, { network_id: shared.id });
    expect(onShared.fixed_ips[0].ip_address).toBe('10.9.0.2');
    expect((await port(BOB, { network_id: shared.id, fixed_ips: [{ ip_address: '10.9.0.50' }] }, 403)).type).toBe('PolicyNotAuthorized');
    expect((await port(BOB, { network_id: shared.id, device_owner: 'network:dhcp' }, 403)).type).toBe('PolicyNotAuthorized');
    expect((await port(BOB, { network_id: shared.id, device_owner: 'compute:nova', device_id: 'vm-1' })).device_owner).toBe('compute:nova');
    // Private networks of other projects are not found; external ones are not usable.
    expect((await port(BOB, { network_id: net.id }, 404)).type).toBe('NetworkNotFound');
    const ext = await network(ADMIN, { 'router:external': true });
    expect((await port(BOB, { network_id: ext.id }, 404)).type).toBe('HTTPNotFound');
  });

  it('bulk create is atomic', async () => {
    const { net } = await netWithV4();
    const ok = await api.call(ALICE, 'POST', '/v2.0/ports', { ports: [{ network_id: net.id }, { network_id: net.id, name: 'b' }] });
    expect(ok.status).toBe(201);
    expect(ok.body.ports.map((p: any) => p.fixed_ips[0].ip_address)).toEqual(['10.0.0.2', '10.0.0.3']);
    const before = api.store.revision;
    const bad = await api.call(ALICE, 'POST', '/v2.0/ports', { ports: [{ network_id: net.id, name: 'c' }, { network_id: net.id, fixed_ips: [{ ip_address: '10.0.0.2' }] }] });
    expect(bad.status).toBe(409);
    expect(api.store.revision).toBe(before);
    expect((await api.call(ALICE, 'GET', '/v2.0/ports')).body.ports).toHaveLength(2);
    expect((await port(ALICE, { network_id: net.id })).fixed_ips[0].ip_address).toBe('10.0.0.4');
  });

  it('counts the port quota', async () => {
    await api.call(ADMIN, 'PUT', '/v2.0/quotas/alice-project', { quota: { port: 1 } });
    const { net } = await netWithV4();
    await port(ALICE, { network_id: net.id });
    expect((await port(ALICE, { network_id: net.id }, 409)).type).toBe('OverQuota');
  });
});

describe('ports: visibility, filters, update, delete', () => {
  it('members cannot see other projects ports; network owners see ports on their network', async () => {
    const { net } = await netWithV4();
    const mine = await port(ALICE, { network_id: net.id });
    expect((await api.call(BOB, 'GET', `/v2.0/ports/${mine.id}`)).status).toBe(404);
    expect((await api.call(BOB, 'GET', '/v2.0/ports')).body.ports).toEqual([]);
    expect((await api.call(BOB, 'DELETE', `/v2.0/ports/${mine.id}`)).body.NeutronError.type).toBe('PortNotFound');
    const forBob = await port(ADMIN, { network_id: net.id, project_id: 'bob-project' });
    expect((await api.call(ALICE, 'GET', `/v2.0/ports/${forBob.id}`)).status).toBe(200);
    expect((await api.call(BOB, 'GET', `/v2.0/ports/${forBob.id}`)).status).toBe(200);
  });

  it('filters by fixed_ips, device, network, mac and host', async () => {
    const { net, sub } = await netWithV4();
    const sub2 = await subnet(ALICE, { network_id: net.id, cidr: '10.0.1.0/24', ip_version: 4 });
    const a = await port(ALICE, { network_id: net.id, device_id: 'vm-a', device_owner: 'compute:nova' });
    const b = await port(ALICE, { network_id: net.id, fixed_ips: [{ subnet_id: sub2.id }] });
    const c = await port(ADMIN, { network_id: net.id, project_id: 'alice-project', 'binding:host_id': 'host-1' });
    const q = async (s: string, caller: Caller = ALICE) => {
      const res = await api.call(caller, 'GET', `/v2.0/ports?${s}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.ports.map((p: any) => p.id).sort();
    };
    expect(await q('fixed_ips=ip_address=10.0.0.2')).toEqual([a.id]);
    expect(await q(`fixed_ips=${encodeURIComponent('ip_address=10.0.0.2')}`)).toEqual([a.id]);
    expect(await q('fixed_ips=ip_address=10.0.0.2&fixed_ips=ip_address=10.0.1.2')).toEqual([a.id, b.id].sort());
    expect(await q(`fixed_ips=subnet_id=${sub.id}`)).toEqual([a.id, c.id].sort());
    expect(await q(`fixed_ips=subnet_id=${sub.id}&fixed_ips=ip_address=10.0.1.2`)).toEqual([]);
    expect(await q('fixed_ips=ip_address_substr=10.0.1')).toEqual([b.id]);
    expect((await api.call(ALICE, 'GET', '/v2.0/ports?fixed_ips=colour=red')).status).toBe(400);
    expect(await q('device_id=vm-a')).toEqual([a.id]);
    expect(await q('device_owner=compute:nova')).toEqual([a.id]);
    expect(await q(`network_id=${net.id}`)).toHaveLength(3);
    expect(await q(`mac_address=${b.mac_address}`)).toEqual([b.id]);
    expect(await q('binding:host_id=host-1', ADMIN)).toEqual([c.id]);
    expect(await q('status=DOWN')).toHaveLength(3);
    expect((await api.call(ALICE, 'GET', '/v2.0/ports?fields=id&fields=fixed_ips')).body.ports[0]).toEqual({ id: expect.any(String), fixed_ips: expect.any(Array) });
  });

  it('updates fixed_ips: keeps, adds and releases addresses', async () => {
    const { net, sub } = await netWithV4();
    const sub2 = await subnet(ALICE, { network_id: net.id, cidr: '10.0.1.0/24', ip_version: 4 });
    const p = await port(ALICE, { network_id: net.id });
    expect(p.fixed_ips).toEqual([{ subnet_id: sub.id, ip_address: '10.0.0.2' }]);
    const added = await update(ALICE, p.id, { fixed_ips: [{ subnet_id: sub.id }, { subnet_id: sub2.id, ip_address: '10.0.1.9' }] });
    expect(added.fixed_ips).toEqual([{ subnet_id: sub.id, ip_address: '10.0.0.2' }, { subnet_id: sub2.id, ip_address: '10.0.1.9' }]);
    expect(added.revision_number).toBe(2);
    const moved = await update(ALICE, p.id, { fixed_ips: [{ ip_address: '10.0.1.9' }, { ip_address: '10.0.0.30' }] });
    expect(moved.fixed_ips).toEqual([{ subnet_id: sub2.id, ip_address: '10.0.1.9' }, { subnet_id: sub.id, ip_address: '10.0.0.30' }]);
    // 10.0.0.2 was released: it can be had again (automatic allocation moves on to the next free address first).
    expect((await port(ALICE, { network_id: net.id })).fixed_ips[0].ip_address).toBe('10.0.0.3');
    expect((await port(ALICE, { network_id: net.id, fixed_ips: [{ ip_address: '10.0.0.2' }] })).fixed_ips[0].ip_address).toBe('10.0.0.2');
    const other = await port(ALICE, { network_id: net.id, fixed_ips: [{ ip_address: '10.0.0.40' }] });
    expect((await update(ALICE, p.id, { fixed_ips: [{ ip_address: '10.0.0.40' }] }, 409)).type).toBe('IpAddressAlreadyAllocated');
    expect((await api.call(ALICE, 'GET', `/v2.0/ports/${p.id}`)).body.port.fixed_ips).toHaveLength(2);
    const cleared = await update(ALICE, p.id, { fixed_ips: [] });
    expect(cleared.fixed_ips).toEqual([]);
    expect((await update(ALICE, other.id, { fixed_ips: [{ ip_address: '10.0.0.30' }] })).fixed_ips).toEqual([{ subnet_id: sub.id, ip_address: '10.0.0.30' }]);
  });

  it('updates the rest: name, state, security, pairs, device, binding, MAC', async () => {
    const { net } = await netWithV4();
    const sg = (await api.call(ALICE, 'POST', '/v2.0/security-groups', { security_group: { name: 'web' } })).body.security_group;
    const p = await port(ALICE, { network_id: net.id });
    const u = await update(ALICE, p.id, { name: 'x', description: 'd', admin_state_up: false, device_id: 'vm', device_owner: 'compute:nova', security_groups: [sg.id],
      allowed_address_pairs: [{ ip_address: '10.0.0.99' }] });
    expect(u).toMatchObject({ name: 'x', description: 'd', admin_state_up: false, device_id: 'vm', device_owner: 'compute:nova', security_groups: [sg.id],
      allowed_address_pairs: [{ ip_address: '10.0.0.99', mac_address: p.mac_address }] });
    expect((await update(ALICE, p.id, { port_security_enabled: false }, 409)).type).toBe('AddressPairAndPortSecurityRequired');
    expect((await update(ALICE, p.id, { port_security_enabled: false, allowed_address_pairs: [] }, 409)).type).toBe('PortSecurityPortHasSecurityGroup');
    const off = await update(ALICE, p.id, { port_security_enabled: false, allowed_address_pairs: [], security_groups: [] });
    expect(off).toMatchObject({ port_security_enabled: false, security_groups: [], allowed_address_pairs: [] });
    expect((await update(ALICE, p.id, { security_groups: [sg.id] }, 400)).type).toBe('PortSecurityAndIPRequiredForSecurityGroups');
    // MAC: admin only, unique, not once bound.
    expect((await update(ALICE, p.id, { mac_address: 'fa:16:3e:00:00:01' }, 403)).type).toBe('PolicyNotAuthorized');
    const q = await port(ALICE, { network_id: net.id, mac_address: 'fa:16:3e:00:00:02' });
    expect((await update(ADMIN, p.id, { mac_address: 'fa:16:3e:00:00:02' }, 409)).type).toBe('MacAddressInUse');
    expect((await update(ADMIN, p.id, { mac_address: 'fa:16:3e:00:00:01' })).mac_address).toBe('fa:16:3e:00:00:01');
    await port(ALICE, { network_id: net.id, mac_address: p.mac_address }); // the old MAC is free again
    expect((await update(ALICE, q.id, { 'binding:host_id': 'h' }, 403)).type).toBe('PolicyNotAuthorized');
    expect((await update(ADMIN, q.id, { 'binding:host_id': 'h' }))['binding:vif_type']).toBe('ovs');
    expect((await update(ADMIN, q.id, { mac_address: 'fa:16:3e:00:00:03' }, 409)).type).toBe('PortBound');
    expect((await update(ALICE, q.id, { network_id: net.id }, 400)).message).toContain('Unrecognized attribute');
    expect((await update(BOB, q.id, { name: 'y' }, 404)).type).toBe('PortNotFound');
  });

  it('delete releases claims and refuses router-owned ports', async () => {
    const { net } = await netWithV4();
    const p = await port(ALICE, { network_id: net.id, mac_address: 'fa:16:3e:10:20:30' });
    expect((await api.call(ALICE, 'DELETE', `/v2.0/ports/${p.id}`)).status).toBe(204);
    expect((await api.call(ALICE, 'GET', `/v2.0/ports/${p.id}`)).status).toBe(404);
    expect((await api.call(ALICE, 'DELETE', `/v2.0/ports/${p.id}`)).status).toBe(404);
    const again = await port(ALICE, { network_id: net.id, mac_address: 'fa:16:3e:10:20:30', fixed_ips: [{ ip_address: '10.0.0.2' }] });
    expect(again.fixed_ips[0].ip_address).toBe('10.0.0.2');
    // A router interface port goes away with the router, not through DELETE /ports.
    const routerId = '9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f';
    await api.store.transact((tx) => tx.put('router', { id: routerId, project_id: 'alice-project', name: 'r' }));
    const rif = await port(ALICE, { network_id: net.id, device_owner: 'network:router_interface', device_id: routerId });
    const refused = await api.call(ALICE, 'DELETE', `/v2.0/ports/${rif.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.NeutronError).toMatchObject({ type: 'ServicePortInUse', message: `Port ${rif.id} cannot be deleted directly via the port API: has device owner network:router_interface.` });
    await api.store.transact((tx) => tx.remove('router', routerId));
    expect((await api.call(ALICE, 'DELETE', `/v2.0/ports/${rif.id}`)).status).toBe(204);
  });
});
