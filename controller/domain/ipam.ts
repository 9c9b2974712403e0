import { conflict, NeutronError } from '../errors.ts';
import type { Doc, ReadView, Tx } from '../store/types.ts';
import {
  cidrContains, eui64Address, formatIp as formatIpOf, isReservedAddress, parseCidr, parseIp, tryParseIp, type Cidr, type IpVersion, type Range,
} from './cidr.ts';
import { ipScope } from './claims.ts';

// IP address management. Every address in use in a subnet is a unique claim in
// ipScope(subnet_id), held by the port (or other object) that uses it. Allocation walks the
// subnet's allocation pools in order and takes the first unclaimed address: allocation is
// dense, so this touches about as many claims as there are addresses in use, and a /8 or
// a /64 is never enumerated. SLAAC / DHCPv6-stateless subnets give EUI-64 addresses.

export interface Pool { start: string; end: string }

/** Device owners that are router ports (Neutron's ROUTER_PORT_OWNERS). */
export const ROUTER_PORT_OWNERS: ReadonlySet<string> = new Set([
  'network:router_interface',
  'network:router_interface_distributed',
  'network:ha_router_replicated_interface',
  'network:router_centralized_snat',
  'network:router_gateway',
]);

/** Router ports that do not get implicit SLAAC addresses (Neutron's ROUTER_INTERFACE_OWNERS_SNAT). */
export const ROUTER_INTERFACE_OWNERS: ReadonlySet<string> = new Set([
  'network:router_interface',
  'network:router_interface_distributed',
  'network:ha_router_replicated_interface',
  'network:router_centralized_snat',
]);

export interface AllocateOptions {
  /** Device owner of the port, for Neutron's IPv6 subnet-router anycast rule. */
  deviceOwner?: string;
}

export const ipGenerationFailure = (networkId: string) =>
  conflict('IpAddressGenerationFailure', `No more IP addresses available on network ${networkId}.`);

export const ipAlreadyAllocated = (ip: string, subnetId: string) =>
  conflict('IpAddressAlreadyAllocated', `IP address ${ip} already allocated in subnet ${subnetId}`);

export const invalidIpForSubnet = (ip: string) =>
  new NeutronError(400, 'InvalidIpForSubnet', `IP address ${ip} is not a valid IP for the specified subnet.`);

export const invalidIpForNetwork = (ip: string) =>
  new NeutronError(400, 'InvalidIpForNetwork', `IP address ${ip} is not a valid IP for any of the subnets on the specified network.`);

export function subnetCidr(subnet: Doc): Cidr {
  return parseCidr(subnet.cidr as string);
}

export function poolRanges(subnet: Doc): Range[] {
  return ((subnet.allocation_pools as Pool[]) ?? []).map((p) => ({ first: parseIp(p.start).value, last: parseIp(p.end).value }));
}

/** SLAAC or DHCPv6-stateless: addresses come from the MAC (Neutron's is_auto_address_subnet). */
export function isAutoAddressSubnet(subnet: Doc): boolean {
  if (subnet.ip_version !== 6) return false;
  const auto = ['slaac', 'dhcpv6-stateless'];
  const addressMode = subnet.ipv6_address_mode as string | null;
  const raMode = subnet.ipv6_ra_mode as string | null;
  return auto.includes(addressMode ?? '') || (!addressMode && auto.includes(raMode ?? ''));
}

/**
 * Neutron's check_subnet_ip: the address is inside the subnet and is not its network
 * address (IPv6 router ports may take the subnet-router anycast address) nor the IPv4
 * broadcast address.
 */
export function isValidIpForSubnet(subnet: Doc, ip: string, deviceOwner = ''): boolean {
  const parsed = tryParseIp(ip);
  const c = subnetCidr(subnet);
  if (!parsed || !cidrContains(c, parsed)) return false;
  if (c.version === 6 && parsed.value === c.first) return deviceOwner === '' || ROUTER_PORT_OWNERS.has(deviceOwner);
  return !isReservedAddress(c, parsed.value);
}

function canonical(version: IpVersion, ip: string): string {
  const parsed = tryParseIp(ip);
  if (!parsed || parsed.version !== version) throw invalidIpForSubnet(ip);
  return formatIpOf(parsed.version, parsed.value);
}

/** Who holds an address of a subnet, if anyone. */
export function ipHolder(view: ReadView, subnetId: string, ip: string): string | undefined {
  return view.claimOwner(ipScope(subnetId), ip);
}

/**
 * Take an address in `subnet` for `owner`: the requested one, or the first free one in the
 * allocation pools. Returns the address in canonical form.
 */
export function allocateIp(tx: Tx, subnet: Doc, owner: string, requested?: string, options: AllocateOptions = {}): string {
  const c = subnetCidr(subnet);
  const scope = ipScope(subnet.id);
  if (requested !== undefined) {
    const ip = canonical(c.version, requested);
    if (!isValidIpForSubnet(subnet, ip, options.deviceOwner ?? '')) throw invalidIpForSubnet(requested);
    const holder = tx.claimOwner(scope, ip);
    if (holder !== undefined) throw ipAlreadyAllocated(ip, subnet.id);
    tx.claim(scope, ip, owner);
    return ip;
  }
  // Next-fit: continue after the last address handed out, wrapping round once. Dense
  // allocation then costs O(1) per address instead of a walk over every one in use, and a
  // just-released address is not handed to the next port at once.
  const pools = poolRanges(subnet);
  const hintKey = `ipam:${subnet.id}`;
  const after = tx.hint(hintKey) as bigint | undefined;
  const take = (first: bigint, last: bigint): string | undefined => {
    for (let v = first; v <= last; v++) {
      const ip = formatIpOf(c.version, v);
      if (tx.claimOwner(scope, ip) === undefined) {
        tx.claim(scope, ip, owner);
        tx.setHint(hintKey, v);
        return ip;
      }
    }
    return undefined;
  };
  for (const pool of pools) {
    const first = after === undefined || after < pool.first ? pool.first : after + 1n;
    const ip = first <= pool.last ? take(first, pool.last) : undefined;
    if (ip) return ip;
  }
  for (const pool of after === undefined ? [] : pools) {
    const last = pool.last < after! ? pool.last : after!;
    const ip = pool.first <= last ? take(pool.first, last) : undefined;
    if (ip) return ip;
  }
  throw ipGenerationFailure(subnet.network_id as string);
}

/** The EUI-64 address of `mac` in an auto-address subnet, claimed for `owner`. */
export function allocateEui64(tx: Tx, subnet: Doc, owner: string, mac: string): string {
  const ip = eui64Address(subnetCidr(subnet), mac);
  const holder = tx.claimOwner(ipScope(subnet.id), ip);
  if (holder !== undefined && holder !== owner) throw ipAlreadyAllocated(ip, subnet.id);
  tx.claim(ipScope(subnet.id), ip, owner);
  return ip;
}

/** Give an address back. */
export function releaseIp(tx: Tx, subnetId: string, ip: string): void {
  tx.release(ipScope(subnetId), ip);
}

/** Is `ip` the EUI-64 address of some MAC in this subnet's prefix? (Neutron's is_eui64_address.) */
export function isEui64(ip: string): boolean {
  const parsed = tryParseIp(ip);
  if (!parsed || parsed.version !== 6) return false;
  return ((parsed.value >> 24n) & 0xffffn) === 0xfffen;
}
