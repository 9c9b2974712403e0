import { badRequest, invalidInput, NeutronError, notFound } from '../errors.ts';
import type { Doc, Tx } from '../store/types.ts';
import type { FixedIpRequest } from '../../schemas/api/port.ts';
import { normalizeIp } from './cidr.ts';
import type { FixedIp } from './claims.ts';
import {
  allocateEui64, allocateIp, invalidIpForNetwork, invalidIpForSubnet, ipGenerationFailure, isAutoAddressSubnet, isEui64,
  isValidIpForSubnet, releaseIp, ROUTER_INTERFACE_OWNERS,
} from './ipam.ts';
import { networkSubnets } from './subnets.ts';

// A port's fixed IPs: turning the requested `fixed_ips` into addresses, on create and on
// update, the way Neutron's IPAM backend does (ipam_backend_mixin / ipam_pluggable_backend).

export const MAX_FIXED_IPS_PER_PORT = 5;

export interface PortIdentity {
  id: string;
  network_id: string;
  mac_address: string;
  device_owner: string;
}

interface Resolved { subnet: Doc; ip?: string }

const autoAddressError = (ip: string, subnetId: string) =>
  new NeutronError(400, 'AllocationOnAutoAddressSubnet',
    `IPv6 address ${ip} cannot be directly assigned to a port on subnet ${subnetId} as the subnet is configured for automatic addresses`);

/** Validate the request entries and find the subnet of each (Neutron's _test_fixed_ips_for_port). */
function resolve(tx: Tx, port: PortIdentity, requests: FixedIpRequest[]): Resolved[] {
  if (requests.length > MAX_FIXED_IPS_PER_PORT) throw invalidInput('Exceeded maximum amount of fixed ips per port.');
  const seen = new Set<string>();
  const out: Resolved[] = [];
  for (const req of requests) {
    const ip = req.ip_address === undefined ? undefined : normalizeIp(req.ip_address);
    if (ip !== undefined) {
      if (seen.has(ip)) throw badRequest(`Invalid input for fixed_ips. Reason: Duplicate IP address '${req.ip_address}'.`);
      seen.add(ip);
    }
    let subnet: Doc | undefined;
    if (req.subnet_id !== undefined) {
      subnet = tx.get('subnet', req.subnet_id);
      if (!subnet) throw notFound('subnet', req.subnet_id);
      if (subnet.network_id !== port.network_id) {
        throw invalidInput(`Failed to create port on network ${port.network_id}, because fixed_ips included invalid subnet ${req.subnet_id}`);
      }
      if (ip !== undefined && !isValidIpForSubnet(subnet, ip, port.device_owner)) throw invalidIpForSubnet(req.ip_address!);
    } else if (ip !== undefined) {
      subnet = networkSubnets(tx, port.network_id).find((s) => isValidIpForSubnet(s, ip, port.device_owner));
      if (!subnet) throw invalidIpForNetwork(req.ip_address!);
    } else {
      throw invalidInput('IP allocation requires subnet_id or ip_address');
    }
    out.push({ subnet, ip });
  }
  return out;
}

/** Does this port get an implicit EUI-64 address on auto-address subnets? */
const getsAutoAddresses = (port: PortIdentity) => !ROUTER_INTERFACE_OWNERS.has(port.device_owner);

/**
 * The requested address, or the next free one of the subnet's pools. Like Neutron's IPAM, any
 * port may ask for the subnet's gateway address (a router interface added by port needs one
 * that has it); the pools never hand it out.
 */
function takeAddress(tx: Tx, port: PortIdentity, r: Resolved): FixedIp {
  const ip = allocateIp(tx, r.subnet, port.id, r.ip, { deviceOwner: port.device_owner });
  return { subnet_id: r.subnet.id, ip_address: ip };
}

/** One address from the first subnet of a group that has one free. */
function fromFirstWithSpace(tx: Tx, port: PortIdentity, subnets: Doc[]): FixedIp {
  let last: NeutronError | undefined;
  for (const subnet of subnets) {
    try {
      return takeAddress(tx, port, { subnet });
    } catch (err) {
      if (!(err instanceof NeutronError) || err.type !== 'IpAddressGenerationFailure') throw err;
      last = err;
    }
  }
  throw last ?? ipGenerationFailure(port.network_id);
}

function autoAddresses(tx: Tx, port: PortIdentity, have: FixedIp[]): FixedIp[] {
  if (!getsAutoAddresses(port)) return [];
  return networkSubnets(tx, port.network_id)
    .filter((s) => isAutoAddressSubnet(s) && !have.some((f) => f.subnet_id === s.id))
    .map((s) => ({ subnet_id: s.id, ip_address: allocateEui64(tx, s, port.id, port.mac_address) }));
}

/**
 * The addresses of a new port. Without a request: one IPv4 address (from the first IPv4
 * subnet with room), one from the first stateful IPv6 subnet, and the EUI-64 address on
 * every SLAAC / DHCPv6-stateless subnet. With a request: what it asks for, plus the
 * EUI-64 addresses. A network without subnets gives a port without addresses.
 */
export function planCreateIps(tx: Tx, port: PortIdentity, requests: FixedIpRequest[] | undefined): FixedIp[] {
  const out: FixedIp[] = [];
  if (requests === undefined) {
    const subnets = networkSubnets(tx, port.network_id);
    const v4 = subnets.filter((s) => s.ip_version === 4);
    const v6 = subnets.filter((s) => s.ip_version === 6 && !isAutoAddressSubnet(s));
    if (v4.length) out.push(fromFirstWithSpace(tx, port, v4));
    if (v6.length) out.push(fromFirstWithSpace(tx, port, v6));
  } else {
    for (const r of resolve(tx, port, requests)) {
      if (isAutoAddressSubnet(r.subnet) && getsAutoAddresses(port)) {
        if (r.ip !== undefined) throw autoAddressError(r.ip, r.subnet.id);
        continue; // given implicitly below
      }
      out.push(takeAddress(tx, port, r));
    }
  }
  return [...out, ...autoAddresses(tx, port, out)];
}

/**
 * New addresses for an existing port (Neutron's _get_changed_ips_for_port): requested
 * addresses the port already has are kept, a subnet-only request reuses the port's address
 * on that subnet, the rest is allocated; addresses no longer asked for are released, except
 * automatic addresses, which stay as long as their subnet does.
 */
export function planUpdateIps(tx: Tx, port: PortIdentity, original: FixedIp[], requests: FixedIpRequest[]): FixedIp[] {
  const resolved = resolve(tx, port, requests);
  const keep: FixedIp[] = [];
  const add: Resolved[] = [];
  const unmatched = new Map(original.map((f) => [f.ip_address, f]));
  for (const r of resolved) {
    if (r.ip === undefined) continue;
    const orig = unmatched.get(r.ip);
    if (orig && orig.subnet_id === r.subnet.id) {
      keep.push(orig);
      unmatched.delete(r.ip);
    } else {
      if (isAutoAddressSubnet(r.subnet) && getsAutoAddresses(port)) throw autoAddressError(r.ip, r.subnet.id);
      add.push(r);
    }
  }
  for (const r of resolved) {
    if (r.ip !== undefined) continue;
    const orig = [...unmatched.values()].find((f) => f.subnet_id === r.subnet.id && !isEui64(f.ip_address));
    if (orig) {
      keep.push(orig);
      unmatched.delete(orig.ip_address);
    } else if (!(isAutoAddressSubnet(r.subnet) && getsAutoAddresses(port))) {
      add.push(r);
    }
  }
  for (const orig of unmatched.values()) {
    const subnet = tx.get('subnet', orig.subnet_id);
    if (subnet && isAutoAddressSubnet(subnet) && getsAutoAddresses(port)) keep.push(orig);
    else releaseIp(tx, orig.subnet_id, orig.ip_address);
  }
  const added = add.map((r) => takeAddress(tx, port, r));
  const result = [...keep, ...added];
  // Keep the original order for addresses that stay, new ones at the end.
  const order = (f: FixedIp) => { const i = original.findIndex((o) => o.ip_address === f.ip_address); return i < 0 ? original.length : i; };
  const sorted = [...keep].sort((a, b) => order(a) - order(b));
  return [...sorted, ...added, ...autoAddresses(tx, port, result)];
}
