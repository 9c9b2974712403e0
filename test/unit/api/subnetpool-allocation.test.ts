import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN, ALICE, BOB, testApi, type Caller, type TestApi } from '../../helpers/api.ts';

// Subnets taken from subnet pools (POST /v2.0/subnets with subnetpool_id, prefixlen or
// use_default_subnetpool), as Neutron's SubnetAllocator hands them out.

let api: TestApi;
beforeEach(async () => { api = await testApi(); });
afterEach(async () => api.close());

async function pool(caller: Caller, body: Record<string, unknown>): Promise<any> {
  const res = await api.call(caller, 'POST', '/v2.0/subnetpools', { subnetpool: { name: 'pool', ...body } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.subnetpool;
}

async function network(caller: Caller = ALICE): Promise<string> {
  const res = await api.call(caller, 'POST', '/v2.0/networks', { network: { name: 'n' } });
  expect(res.status).toBe(201);
  return res.body.network.id;
}

/** POST a subnet on a network of its own (or `network_id`), expecting `status`. */
async function subnet(caller: Caller, body: Record<string, unknown>, status = 201): Promise<any> {
  const network_id = (body.network_id as string | undefined) ?? await network(caller);
  const res = await api.call(caller, 'POST', '/v2.0/subnets', { subnet: { ip_version: 4, ...body, network_id } });
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  return status === 201 ? res.body.subnet : res.body.NeutronError;
}

describe('subnets from a pool', () => {
  it('by prefixlen, by the default prefixlen, or a given CIDR; gateway and pools as for any subnet', async () => {
    const p = await pool(ALICE, { prefixes: ['10.11.12.0/24'], min_prefixlen: '28', max_prefixlen: 30, default_prefixlen: 29 });
    const a = await subnet(ALICE, { subnetpool_id: p.id, prefixlen: '30' });
    expect(a).toMatchObject({ cidr: '10.11.12.0/30', subnetpool_id: p.id, gateway_ip: '10.11.12.1', allocation_pools: [{ start: '10.11.12.2', end: '10.11.12.2' }] });
    // The smallest free block that fits is used first (10.11.12.8/29, not a piece of 10.11.12.16/28).
    const b = await subnet(ALICE, { subnetpool_id: p.id });
    expect(b).toMatchObject({ cidr: '10.11.12.8/29', gateway_ip: '10.11.12.9', allocation_pools: [{ start: '10.11.12.10', end: '10.11.12.14' }] });
    const c = await subnet(ALICE, { subnetpool_id: p.id, cidr: '10.11.12.64/29', gateway_ip: '10.11.12.70', allocation_pools: [{ start: '10.11.12.66', end: '10.11.12.68' }] });
    expect(c).toMatchObject({ cidr: '10.11.12.64/29', gateway_ip: '10.11.12.70', allocation_pools: [{ start: '10.11.12.66', end: '10.11.12.68' }] });
    // The /29 left beside the given one is now the smallest fit.
    const noGw = await subnet(ALICE, { subnetpool_id: p.id, gateway_ip: null });
    expect(noGw).toMatchObject({ cidr: '10.11.12.72/29', gateway_ip: null, allocation_pools: [{ start: '10.11.12.73', end: '10.11.12.78' }] });
    // A gateway without a CIDR asks for its own block.
    expect((await subnet(ALICE, { subnetpool_id: p.id, gateway_ip: '10.11.12.129' })).cidr).toBe('10.11.12.128/29');
    expect((await api.call(ALICE, 'GET', `/v2.0/subnets?subnetpool_id=${p.id}`)).body.subnets).toHaveLength(5);
    expect((await api.call(ALICE, 'GET', '/v2.0/subnets?subnetpool_id=None')).body.subnets).toEqual([]);
  });

  it('IPv6 and dual stack: one network may take from a v4 and a v6 pool', async () => {
    const v6 = await pool(ALICE, { prefixes: ['2001:db8:3::/48'], min_prefixlen: 64 });
    const v4 = await pool(ALICE, { prefixes: ['192.168.0.0/16'], min_prefixlen: 21, max_prefixlen: 32 });
    const net = await network();
    const s6 = await subnet(ALICE, { network_id: net, ip_version: 6, subnetpool_id: v6.id, ipv6_address_mode: 'slaac', ipv6_ra_mode: 'slaac' });
    expect(s6).toMatchObject({ cidr: '2001:db8:3::/64', gateway_ip: '2001:db8:3::1', ip_version: 6 });
    const s4 = await subnet(ALICE, { network_id: net, subnetpool_id: v4.id });
    expect(s4).toMatchObject({ cidr: '192.168.0.0/21', network_id: net });
    expect((await subnet(ALICE, { ip_version: 6, subnetpool_id: v6.id, cidr: '2001:db8:3::/64' }, 409)).type).toBe('SubnetAllocationError');
    expect((await subnet(ALICE, { ip_version: 6, subnetpool_id: v6.id, cidr: '2001:db8:3:5::/64' })).cidr).toBe('2001:db8:3:5::/64');
  });

  it('allocates across networks from the pool, not per network; deleting a subnet frees its block', async () => {
    const p = await pool(ALICE, { prefixes: ['10.0.0.0/23'], min_prefixlen: 24 });
    const first = await subnet(ALICE, { subnetpool_id: p.id });
    const second = await subnet(ALICE, { subnetpool_id: p.id });
    expect([first.cidr, second.cidr]).toEqual(['10.0.0.0/24', '10.0.1.0/24']);
    expect(first.network_id).not.toBe(second.network_id);
    const full = await subnet(ALICE, { subnetpool_id: p.id }, 409);
    expect(full).toEqual({ type: 'SubnetAllocationError', detail: '', message: 'Failed to allocate subnet: Insufficient prefix space to allocate subnet size /24.' });
    // A plain subnet elsewhere does not count against the pool.
    await subnet(ALICE, { cidr: '10.0.0.0/24' });
    expect((await api.call(ALICE, 'DELETE', `/v2.0/subnets/${first.id}`)).status).toBe(204);
    expect((await subnet(ALICE, { subnetpool_id: p.id })).cidr).toBe('10.0.0.0/24');
  });

  it('a given CIDR must lie in the pool (400) and be free in it (409)', async () => {
    const p = await pool(ALICE, { prefixes: ['10.10.0.0/16'], min_prefixlen: 21 });
    const message = 'Failed to allocate subnet: Cannot allocate requested subnet from the available set of prefixes.';
    expect(await subnet(ALICE, { subnetpool_id: p.id, cidr: '192.168.1.0/24' }, 400)).toEqual({ type: 'SubnetAllocationError', message, detail: '' });
    expect(await subnet(ALICE, { subnetpool_id: p.id, cidr: '10.11.0.0/21' }, 400)).toMatchObject({ type: 'SubnetAllocationError' });
    await subnet(ALICE, { subnetpool_id: p.id, cidr: '10.10.1.0/24' });
    expect(await subnet(ALICE, { subnetpool_id: p.id, cidr: '10.10.0.0/23' }, 409)).toEqual({ type: 'SubnetAllocationError', message, detail: '' });
    expect(await subnet(ALICE, { subnetpool_id: p.id, cidr: '10.10.0.0/20' }, 400)).toEqual({
      type: 'MinPrefixSubnetAllocationError', detail: '', message: 'Unable to allocate subnet with prefix length 20, minimum allowed prefix is 21.' });
    expect((await subnet(ALICE, { subnetpool_id: p.id, prefixlen: 33 }, 400)).type).toBe('MaxPrefixSubnetAllocationError');
  });

  it('checks the request against the pool as Neutron does', async () => {
    const p = await pool(ALICE, { prefixes: ['10.10.0.0/16'], min_prefixlen: 21, max_prefixlen: 24 });
    const v6 = await pool(ALICE, { prefixes: ['2001:db8:1:2::/63'] });
    const before = api.store.revision;
    const cases: Array<[Record<string, unknown>, number, string, string]> = [
      [{ subnetpool_id: p.id, cidr: '10.10.1.0/24', prefixlen: 24 }, 400, 'HTTPBadRequest', 'cidr and prefixlen must not be supplied together'],
      [{ subnetpool_id: p.id, cidr: '10.10.0.0/26' }, 400, 'MaxPrefixSubnetAllocationError', 'Unable to allocate subnet with prefix length 26, maximum allowed prefix is 24.'],
      [{ subnetpool_id: p.id, prefixlen: 24, allocation_pools: [{ start: '10.10.10.1', end: '10.10.10.254' }] }, 400, 'HTTPBadRequest', 'allocation_pools allowed only for specific subnet requests.'],
      [{ subnetpool_id: v6.id }, 400, 'HTTPBadRequest', 'Cannot allocate IPv4 subnet from IPv6 subnet pool'],
      [{ subnetpool_id: p.id, use_default_subnetpool: true }, 400, 'HTTPBadRequest', 'subnetpool_id and use_default_subnetpool cannot both be specified'],
      [{ use_default_subnetpool: true }, 400, 'HTTPBadRequest', 'No default subnetpool found for IPv4'],
      [{ prefixlen: 24 }, 400, 'HTTPBadRequest', 'a subnetpool must be specified in the absence of a cidr'],
      [{}, 400, 'HTTPBadRequest', 'a subnetpool must be specified in the absence of a cidr'],
      [{ subnetpool_id: p.id, gateway_ip: '2001:db8::1' }, 400, 'InvalidInput', "Invalid input for operation: gateway_ip '2001:db8::1' does not match the ip_version '4'"],
      [{ subnetpool_id: p.id, prefixlen: -1 }, 400, 'HTTPBadRequest', "Invalid input for prefixlen. Reason: '-1' should be non-negative."],
      [{ subnetpool_id: 'not-a-uuid' }, 400, 'HTTPBadRequest', "Invalid input for subnetpool_id. Reason: 'not-a-uuid' is not a valid UUID."],
      [{ subnetpool_id: '4ac0e7b1-6a2c-4bb4-9c41-3a1c0f5a3b9e' }, 404, 'SubnetPoolNotFound', 'Subnet pool 4ac0e7b1-6a2c-4bb4-9c41-3a1c0f5a3b9e could not be found.'],
    ];
    for (const [body, status, type, message] of cases) {
      const err = await subnet(ALICE, body, status);
      expect(err, JSON.stringify(body)).toEqual({ type, message, detail: '' });
    }
    expect(api.store.revision - before).toBe(cases.length); // only the networks the helper made
  });

  it('the subnets of one IP version on a network come from one pool, or none', async () => {
    const p = await pool(ADMIN, { prefixes: ['192.168.0.0/16'], min_prefixlen: 29 });
    const other = await pool(ADMIN, { prefixes: ['172.16.0.0/16'], min_prefixlen: 29 });
    const net = await network(ADMIN);
    await subnet(ADMIN, { network_id: net, cidr: '10.10.10.0/24', gateway_ip: null });
    const err = await subnet(ADMIN, { network_id: net, subnetpool_id: p.id }, 400);
    expect(err).toEqual({ type: 'NetworkSubnetPoolAffinityError', detail: '', message: 'Subnets hosted on the same network must be allocated from the same subnet pool.' });
    const pooled = await network(ADMIN);
    await subnet(ADMIN, { network_id: pooled, subnetpool_id: p.id });
    expect((await subnet(ADMIN, { network_id: pooled, subnetpool_id: p.id })).cidr).toBe('192.168.0.8/29');
    expect((await subnet(ADMIN, { network_id: pooled, subnetpool_id: other.id }, 400)).type).toBe('NetworkSubnetPoolAffinityError');
    expect((await subnet(ADMIN, { network_id: pooled, cidr: '10.9.0.0/24' }, 400)).type).toBe('NetworkSubnetPoolAffinityError');
    expect((await subnet(ADMIN, { network_id: pooled, ip_version: 6, cidr: 'fd00::/64' })).subnetpool_id).toBeNull();
  });

  it('members use their own and shared pools, not another project\'s', async () => {
    const alices = await pool(ALICE, { prefixes: ['10.1.0.0/16'], default_prefixlen: 24 });
    const shared = await pool(ADMIN, { prefixes: ['10.2.0.0/16'], default_prefixlen: 24, shared: true });
    const admins = await pool(ADMIN, { prefixes: ['10.3.0.0/16'], default_prefixlen: 24 });
    expect((await subnet(BOB, { subnetpool_id: alices.id }, 404)).type).toBe('SubnetPoolNotFound');
    expect((await subnet(BOB, { subnetpool_id: admins.id }, 404)).type).toBe('SubnetPoolNotFound');
    const bobs = await subnet(BOB, { subnetpool_id: shared.id });
    expect(bobs).toMatchObject({ cidr: '10.2.0.0/24', project_id: 'bob-project', subnetpool_id: shared.id });
    // The pool's owner sees the allocation only through the pool being in use.
    expect((await api.call(ADMIN, 'DELETE', `/v2.0/subnetpools/${shared.id}`)).body.NeutronError).toEqual({
      type: 'SubnetPoolDeleteError', detail: '', message: 'Unable to delete subnet pool: Subnet pool has existing allocations.' });
    expect((await subnet(ALICE, { subnetpool_id: alices.id })).cidr).toBe('10.1.0.0/24');
    expect((await api.call(BOB, 'DELETE', `/v2.0/subnets/${bobs.id}`)).status).toBe(204);
    expect((await api.call(ADMIN, 'DELETE', `/v2.0/subnetpools/${shared.id}`)).status).toBe(204);
  });

  it('default_quota: addresses (IPv4) or /64s (IPv6) per project', async () => {
    const p = await pool(ADMIN, { prefixes: ['10.10.0.0/16'], min_prefixlen: 21, default_quota: 2048, shared: true });
    await subnet(ALICE, { subnetpool_id: p.id, prefixlen: 21 });
    const over = await subnet(ALICE, { subnetpool_id: p.id, prefixlen: 21 }, 409);
    expect(over).toEqual({ type: 'SubnetPoolQuotaExceeded', detail: '', message: 'Per-project subnet pool prefix quota exceeded.' });
    expect((await subnet(ALICE, { subnetpool_id: p.id, cidr: '10.10.64.0/24' }, 409)).type).toBe('SubnetPoolQuotaExceeded');
    // Another project has a quota of its own.
    expect((await subnet(BOB, { subnetpool_id: p.id, prefixlen: 21 })).cidr).toBe('10.10.8.0/21');
    const v6 = await pool(ALICE, { prefixes: ['2001:db8::/48'], min_prefixlen: 60, default_quota: 4 });
    expect((await subnet(ALICE, { ip_version: 6, subnetpool_id: v6.id, prefixlen: 62 })).cidr).toBe('2001:db8::/62');
    expect((await subnet(ALICE, { ip_version: 6, subnetpool_id: v6.id, prefixlen: 64 }, 409)).type).toBe('SubnetPoolQuotaExceeded');
    // Raising the quota lets the next one through; 0 means no limit, as in Neutron.
    await api.call(ALICE, 'PUT', `/v2.0/subnetpools/${v6.id}`, { subnetpool: { default_quota: 5 } });
    expect((await subnet(ALICE, { ip_version: 6, subnetpool_id: v6.id, prefixlen: 64 })).cidr).toBe('2001:db8:0:4::/64');
    await api.call(ADMIN, 'PUT', `/v2.0/subnetpools/${p.id}`, { subnetpool: { default_quota: 0 } });
    expect((await subnet(ALICE, { subnetpool_id: p.id, prefixlen: 21 })).cidr).toBe('10.10.16.0/21');
  });

  it('use_default_subnetpool takes the visible default pool of the version', async () => {
    const v4 = await pool(ADMIN, { prefixes: ['10.0.0.0/8'], min_prefixlen: 25, is_default: true, shared: true });
    const s = await subnet(ALICE, { use_default_subnetpool: true, prefixlen: '27' });
    expect(s).toMatchObject({ cidr: '10.0.0.0/27', subnetpool_id: v4.id });
    expect((await subnet(ALICE, { use_default_subnetpool: 'true', ip_version: '4' })).cidr).toBe('10.0.0.128/25');
    expect((await subnet(ALICE, { use_default_subnetpool: true, ip_version: 6 }, 400)).message).toBe('No default subnetpool found for IPv6');
    const v6 = await pool(ADMIN, { prefixes: ['2000::/56'], is_default: true });
    // Not shared: the admin's default is not the member's.
    expect((await subnet(ALICE, { use_default_subnetpool: true, ip_version: 6 }, 400)).message).toBe('No default subnetpool found for IPv6');
    expect((await subnet(ADMIN, { use_default_subnetpool: true, ip_version: 6 })).subnetpool_id).toBe(v6.id);
    expect((await subnet(ALICE, { use_default_subnetpool: false, cidr: '192.168.0.0/24' })).subnetpool_id).toBeNull();
  });

  it('bulk create allocates each subnet after the previous ones, or none', async () => {
    const p = await pool(ALICE, { prefixes: ['10.0.0.0/23'], min_prefixlen: 24 });
    const [a, b, c] = [await network(), await network(), await network()];
    const bulk = (networks: string[]) => api.call(ALICE, 'POST', '/v2.0/subnets', { subnets: networks.map((network_id) => ({ network_id, ip_version: 4, subnetpool_id: p.id })) });
    const failed = await bulk([a, b, c]);
    expect(failed.status).toBe(409);
    expect((await api.call(ALICE, 'GET', '/v2.0/subnets')).body.subnets).toEqual([]);
    const ok = await bulk([a, b]);
    expect(ok.body.subnets.map((s: any) => s.cidr)).toEqual(['10.0.0.0/24', '10.0.1.0/24']);
  });
});
