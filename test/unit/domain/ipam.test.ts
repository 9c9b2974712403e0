import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  cidrsOverlap, defaultGateway, defaultPools, eui64Address, formatCidr, formatIp, formatRange, normalizeCidr, normalizeIp,
  parseCidr, parseIp, tryParseCidr, tryParseIp, usableRange,
} from '../../../controller/domain/cidr.ts';
import { ipScope } from '../../../controller/domain/claims.ts';
import { allocateEui64, allocateIp, isAutoAddressSubnet, isEui64, isValidIpForSubnet, releaseIp } from '../../../controller/domain/ipam.ts';
import { NeutronError } from '../../../controller/errors.ts';
import { openStore } from '../../../controller/store/open.ts';
import type { Doc, Store, Tx } from '../../../controller/store/types.ts';

// Pure address math and the claim-based IPAM.

describe('cidr math', () => {
  it('parses and prints IPv4 and IPv6 addresses canonically', () => {
    expect(parseIp('10.1.2.3')).toEqual({ version: 4, value: 0x0a010203n });
    expect(normalizeIp('2001:DB8:0:0::01')).toBe('2001:db8::1');
    expect(formatIp(4, 0xffffffffn)).toBe('255.255.255.255');
    expect(formatIp(6, 0n)).toBe('::');
    expect(tryParseIp('10.0.0.256')).toBeUndefined();
    expect(tryParseIp('10.0.0.0/24')).toBeUndefined();
    expect(tryParseIp('fe80::1%eth0')).toBeUndefined();
  });

  it('normalises CIDRs to the network address', () => {
    expect(normalizeCidr('10.0.0.5/24')).toBe('10.0.0.0/24');
    expect(normalizeCidr('2001:db8::1234/64')).toBe('2001:db8::/64');
    expect(normalizeCidr('10.0.0.0/8')).toBe('10.0.0.0/8');
    const c = parseCidr('192.168.1.77/29');
    expect(formatIp(4, c.first)).toBe('192.168.1.72');
    expect(formatIp(4, c.last)).toBe('192.168.1.79');
    expect(tryParseCidr('10.0.0.0/33')).toBeUndefined();
    expect(tryParseCidr('10.0.0.0')).toBeUndefined();
    expect(tryParseCidr('2001:db8::/129')).toBeUndefined();
  });

  it('detects overlaps only within one IP version', () => {
    expect(cidrsOverlap(parseCidr('10.0.0.0/16'), parseCidr('10.0.3.0/24'))).toBe(true);
    expect(cidrsOverlap(parseCidr('10.0.0.0/24'), parseCidr('10.0.1.0/24'))).toBe(false);
    expect(cidrsOverlap(parseCidr('0.0.0.0/1'), parseCidr('::/1'))).toBe(false);
  });

  it('gives Neutron default gateways and pools', () => {
    const v4 = parseCidr('10.0.0.0/24');
    const gw = defaultGateway(v4)!;
    expect(formatIp(4, gw)).toBe('10.0.0.1');
    expect(defaultPools(v4, gw).map((r) => formatRange(4, r))).toEqual(['10.0.0.2-10.0.0.254']);
    // A gateway in the middle splits the pool.
    expect(defaultPools(v4, parseIp('10.0.0.100').value).map((r) => formatRange(4, r))).toEqual(['10.0.0.1-10.0.0.99', '10.0.0.101-10.0.0.254']);
    expect(defaultPools(v4).map((r) => formatRange(4, r))).toEqual(['10.0.0.1-10.0.0.254']);
    // IPv6 keeps the last address (no broadcast).
    const v6 = parseCidr('2001:db8::/64');
    expect(defaultPools(v6, defaultGateway(v6)).map((r) => formatRange(6, r))).toEqual(['2001:db8::2-2001:db8::ffff:ffff:ffff:ffff']);
    expect(usableRange(parseCidr('10.0.0.0/31'))).toBeUndefined();
    expect(usableRange(parseCidr('10.0.0.1/32'))).toBeUndefined();
    expect(defaultGateway(parseCidr('10.0.0.0/31'))).toBeUndefined();
    expect(formatCidr(parseCidr('10.0.0.9/30'))).toBe('10.0.0.8/30');
  });

  it('computes modified EUI-64 addresses from MACs', () => {
    expect(eui64Address(parseCidr('2001:db8::/64'), 'fa:16:3e:12:34:56')).toBe('2001:db8::f816:3eff:fe12:3456');
    expect(eui64Address(parseCidr('fd00:1:2:3::/64'), '00:00:5e:00:53:01')).toBe('fd00:1:2:3:200:5eff:fe00:5301');
    expect(isEui64('2001:db8::f816:3eff:fe12:3456')).toBe(true);
    expect(isEui64('2001:db8::5')).toBe(false);
    expect(() => eui64Address(parseCidr('10.0.0.0/24'), 'fa:16:3e:12:34:56')).toThrow();
  });
});

function subnet(id: string, cidr: string, extra: Record<string, unknown> = {}): Doc {
  const c = parseCidr(cidr);
  const gw = defaultGateway(c)!;
  return {
    id, network_id: 'net-1', ip_version: c.version, cidr: formatCidr(c), gateway_ip: formatIp(c.version, gw),
    allocation_pools: defaultPools(c, gw).map((r) => ({ start: formatIp(c.version, r.first), end: formatIp(c.version, r.last) })),
    ipv6_ra_mode: null, ipv6_address_mode: null, ...extra,
  };
}

describe('ipam', () => {
  let store: Store;
  beforeEach(() => { store = openStore(':memory:'); });
  afterEach(async () => store.close());

  const errorOf = async (fn: (tx: Tx) => unknown): Promise<NeutronError> => {
    try {
      await store.transact((tx) => fn(tx));
    } catch (err) {
      if (err instanceof NeutronError) return err;
      throw err;
    }
    throw new Error('expected a NeutronError');
  };

  it('hands out the first free address and exhausts a /29 with 409', async () => {
    const s = subnet('s1', '10.0.0.0/29'); // pool .2-.6: five addresses
    const { result } = await store.transact((tx) => [1, 2, 3, 4, 5].map((i) => allocateIp(tx, s, `p${i}`)));
    expect(result).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
    expect(store.view().claimOwner(ipScope('s1'), '10.0.0.4')).toBe('p3');
    const err = await errorOf((tx) => allocateIp(tx, s, 'p6'));
    expect(err.status).toBe(409);
    expect(err.type).toBe('IpAddressGenerationFailure');
    expect(err.message).toBe('No more IP addresses available on network net-1.');
    await store.transact((tx) => releaseIp(tx, 's1', '10.0.0.3'));
    expect((await store.transact((tx) => allocateIp(tx, s, 'p7'))).result).toBe('10.0.0.3');
  });

  it('hands out addresses next-fit: after the last one given, wrapping round, and an aborted transaction moves nothing', async () => {
    const s = subnet('s1', '10.0.0.0/29'); // pool .2-.6
    await store.transact((tx) => [1, 2, 3].map((i) => allocateIp(tx, s, `p${i}`))); // .2 .3 .4
    await store.transact((tx) => releaseIp(tx, 's1', '10.0.0.2'));
    expect((await store.transact((tx) => allocateIp(tx, s, 'p4'))).result).toBe('10.0.0.5'); // not the just-freed .2
    await expect(store.transact((tx) => { allocateIp(tx, s, 'px'); throw new Error('abort'); })).rejects.toThrow('abort');
    expect((await store.transact((tx) => allocateIp(tx, s, 'p5'))).result).toBe('10.0.0.6'); // the aborted .6 was not skipped
    expect((await store.transact((tx) => allocateIp(tx, s, 'p6'))).result).toBe('10.0.0.2'); // wrapped round to the freed one
  });

  it('checks requested addresses', async () => {
    const s = subnet('s1', '10.0.0.0/24');
    await store.transact((tx) => allocateIp(tx, s, 'p1', '10.0.0.50'));
    const taken = await errorOf((tx) => allocateIp(tx, s, 'p2', '10.0.0.50'));
    expect([taken.status, taken.type, taken.message]).toEqual([409, 'IpAddressAlreadyAllocated', 'IP address 10.0.0.50 already allocated in subnet s1']);
    for (const bad of ['10.0.1.5', '10.0.0.0', '10.0.0.255', '2001:db8::1']) {
      const err = await errorOf((tx) => allocateIp(tx, s, 'p3', bad));
      expect([err.status, err.type]).toEqual([400, 'InvalidIpForSubnet']);
    }
    // The gateway address for any port that asks for it (as in Neutron), then it is taken.
    expect((await store.transact((tx) => allocateIp(tx, s, 'p4', '10.0.0.1'))).result).toBe('10.0.0.1');
    expect((await errorOf((tx) => allocateIp(tx, s, 'r1', '10.0.0.1'))).type).toBe('IpAddressAlreadyAllocated');
    // Outside the pools but inside the CIDR is fine when asked for explicitly.
    const narrow = { ...s, allocation_pools: [{ start: '10.0.0.10', end: '10.0.0.20' }] };
    expect((await store.transact((tx) => allocateIp(tx, narrow, 'p5', '10.0.0.200'))).result).toBe('10.0.0.200');
    expect((await store.transact((tx) => allocateIp(tx, narrow, 'p6'))).result).toBe('10.0.0.10');
  });

  it('allocates in a /8 and an IPv6 /64 without enumerating them', async () => {
    const big = subnet('s8', '10.0.0.0/8');
    const v6 = subnet('s6', '2001:db8::/64');
    const started = Date.now();
    const { result } = await store.transact((tx) => [allocateIp(tx, big, 'a'), allocateIp(tx, big, 'b'), allocateIp(tx, v6, 'c'), allocateIp(tx, v6, 'd', '2001:DB8::FFFF')]);
    expect(result).toEqual(['10.0.0.2', '10.0.0.3', '2001:db8::2', '2001:db8::ffff']);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('IPv6 network address: only router ports may take it', () => {
    const v6 = subnet('s6', '2001:db8::/64');
    expect(isValidIpForSubnet(v6, '2001:db8::', 'compute:nova')).toBe(false);
    expect(isValidIpForSubnet(v6, '2001:db8::', 'network:router_interface')).toBe(true);
    expect(isValidIpForSubnet(v6, '2001:db8::ffff:ffff:ffff:ffff', 'compute:nova')).toBe(true);
  });

  it('SLAAC subnets give EUI-64 addresses', async () => {
    const slaac = subnet('s6', '2001:db8:1::/64', { ipv6_ra_mode: 'slaac', ipv6_address_mode: 'slaac' });
    expect(isAutoAddressSubnet(slaac)).toBe(true);
    expect(isAutoAddressSubnet({ ...slaac, ipv6_address_mode: 'dhcpv6-stateful', ipv6_ra_mode: null })).toBe(false);
    expect(isAutoAddressSubnet({ ...slaac, ipv6_address_mode: null, ipv6_ra_mode: 'dhcpv6-stateless' })).toBe(true);
    expect(isAutoAddressSubnet(subnet('s4', '10.0.0.0/24'))).toBe(false);
    const { result } = await store.transact((tx) => allocateEui64(tx, slaac, 'p1', 'fa:16:3e:00:00:01'));
    expect(result).toBe('2001:db8:1:0:f816:3eff:fe00:1'); // RFC 5952: '::' never replaces a single zero group
    expect(store.view().claimOwner(ipScope('s6'), result)).toBe('p1');
    const err = await errorOf((tx) => allocateEui64(tx, slaac, 'p2', 'fa:16:3e:00:00:01'));
    expect(err.type).toBe('IpAddressAlreadyAllocated');
  });
});
