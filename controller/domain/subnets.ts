import type { RequestContext } from '../auth/context.ts';
import { badRequest, conflict, forbidden, httpNotFound, inUse, invalidInput, NeutronError, notFound } from '../errors.ts';
import type { Doc, ReadView, Tx } from '../store/types.ts';
import type { AllocationPool, HostRoute, SubnetCreate, SubnetUpdate } from '../../schemas/api/subnet.ts';
import {
  cidrContains, cidrsOverlap, defaultGateway, defaultPools, formatCidr, formatIp, formatRange, isReservedAddress,
  parseCidr, rangeContains, rangesOverlap, tryParseCidr, tryParseIp, type Cidr, type IpVersion, type Range,
} from './cidr.ts';
import { allocateEui64, ipHolder, isAutoAddressSubnet, releaseIp, ROUTER_INTERFACE_OWNERS, ROUTER_PORT_OWNERS } from './ipam.ts';
import { owningProject } from './policy.ts';
import { allocateFromPool, checkPoolAffinity, requestedPool } from './subnet-allocation.ts';
import { bumpRevision, revise, standard } from './standard-attrs.ts';

// Subnets: validation of CIDR, gateway, pools, DNS servers, host routes and IPv6 modes
// with Neutron's rules and messages; creation, update and deletion.

export const MAX_DNS_NAMESERVERS = 5;
export const MAX_HOST_ROUTES = 20;

interface FixedIp { subnet_id: string; ip_address: string }

/** Can the caller see this network (own, shared, external; admins all)? */
export function networkVisibleTo(ctx: RequestContext, network: Doc): boolean {
  return ctx.isAdmin || network.project_id === ctx.projectId || network.shared === true || network['router:external'] === true;
}

/**
 * The network a subnet or port of `projectId` is created on. Like Neutron's
 * _validate_network_tenant_ownership: members may only use their own or shared networks.
 */
export function usableNetwork(view: ReadView, ctx: RequestContext, networkId: string, projectId: string): Doc {
  const network = view.get('network', networkId);
  if (!network || !networkVisibleTo(ctx, network)) throw notFound('network', networkId);
  if (!ctx.isAdmin && network.shared !== true && network.project_id !== projectId) throw httpNotFound();
  return network;
}

/** Members see their own subnets and those of shared or external networks. */
export function subnetVisible(view: ReadView, ctx: RequestContext, subnet: Doc): boolean {
  if (ctx.isAdmin || subnet.project_id === ctx.projectId) return true;
  // Neutron's get_subnet: the network's owner, or anyone when the network is shared. The subnets
  // of an external network that is not shared stay hidden, though the network itself is visible.
  const network = view.get('network', subnet.network_id as string);
  return !!network && (network.project_id === ctx.projectId || network.shared === true);
}

/** update_subnet / delete_subnet: admin, the subnet's project or the network's owner. */
export function subnetWritable(view: ReadView, ctx: RequestContext, subnet: Doc): boolean {
  if (ctx.isAdmin || subnet.project_id === ctx.projectId) return true;
  return view.get('network', subnet.network_id as string)?.project_id === ctx.projectId;
}

const versionMismatch = (field: string, value: string, version: IpVersion) =>
  invalidInput(`${field} '${value}' does not match the ip_version '${version}'`);

function checkVersion(field: string, value: string, version: IpVersion): void {
  const v = tryParseIp(value)?.version ?? tryParseCidr(value)?.version;
  if (v !== version) throw versionMismatch(field, value, version);
}

/** A gateway: same version, inside the CIDR, not the network or IPv4 broadcast address. */
function checkGateway(c: Cidr, gateway: string): string {
  checkVersion('gateway_ip', gateway, c.version);
  const ip = tryParseIp(gateway)!;
  if (!cidrContains(c, ip) || isReservedAddress(c, ip.value)) throw invalidInput('Gateway is not valid on subnet.');
  return formatIp(c.version, ip.value);
}

/** Neutron's validate_allocation_pools + _validate_gw_out_of_pools. */
export function checkPools(c: Cidr, pools: AllocationPool[], gateway: string | null): AllocationPool[] {
  const ranges: Range[] = [];
  const cidrText = formatCidr(c);
  for (const pool of pools) {
    const start = tryParseIp(pool.start)!;
    const end = tryParseIp(pool.end)!;
    if (start.version !== c.version || end.version !== c.version || start.value > end.value) {
      throw new NeutronError(400, 'InvalidAllocationPool', `The allocation pool ${pool.start}-${pool.end} is not valid.`);
    }
    const r = { first: start.value, last: end.value };
    if (r.first < c.first + 1n || r.last > c.last - (c.version === 4 ? 1n : 0n)) {
      throw new NeutronError(400, 'OutOfBoundsAllocationPool', `The allocation pool ${formatRange(c.version, r)} spans beyond the subnet cidr ${cidrText}.`);
    }
    ranges.push(r);
  }
  for (let i = 0; i < ranges.length; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      if (rangesOverlap(ranges[i], ranges[j])) {
        throw conflict('OverlappingAllocationPools',
          `Found overlapping allocation pools: ${formatRange(c.version, ranges[i])} ${formatRange(c.version, ranges[j])} for subnet ${cidrText}.`);
      }
    }
  }
  checkGatewayOutOfPools(c.version, ranges, gateway);
  return ranges.map((r) => ({ start: formatIp(c.version, r.first), end: formatIp(c.version, r.last) }));
}

function checkGatewayOutOfPools(version: IpVersion, ranges: Range[], gateway: string | null): void {
  if (gateway === null) return;
  const gw = tryParseIp(gateway)!.value;
  const hit = ranges.find((r) => rangeContains(r, gw));
  if (hit) throw conflict('GatewayConflictWithAllocationPools', `Gateway ip ${gateway} conflicts with allocation pool ${formatRange(version, hit)}.`);
}

function poolsToRanges(pools: AllocationPool[]): Range[] {
  return pools.map((p) => ({ first: tryParseIp(p.start)!.value, last: tryParseIp(p.end)!.value }));
}

function checkNameservers(subnetId: string, servers: string[]): string[] {
  if (servers.length > MAX_DNS_NAMESERVERS) {
    throw new NeutronError(400, 'DNSNameServersExhausted', `Unable to complete operation for ${subnetId}. The number of DNS nameservers exceeds the limit ${MAX_DNS_NAMESERVERS}.`);
  }
  const seen = new Set<string>();
  for (const server of servers) {
    const ip = tryParseIp(server)!;
    const key = formatIp(ip.version, ip.value);
    if (seen.has(key)) throw badRequest(`Invalid input for dns_nameservers. Reason: Duplicate nameserver '${server}'.`);
    seen.add(key);
  }
  return servers;
}

function checkHostRoutes(subnetId: string, version: IpVersion, routes: HostRoute[]): HostRoute[] {
  if (routes.length > MAX_HOST_ROUTES) {
    throw new NeutronError(400, 'HostRoutesExhausted', `Unable to complete operation for ${subnetId}. The number of host routes exceeds the limit ${MAX_HOST_ROUTES}.`);
  }
  const seen = new Set<string>();
  return routes.map((route) => {
    checkVersion('nexthop', route.nexthop, version);
    checkVersion('destination', route.destination, version);
    const destination = formatCidr(parseCidr(route.destination));
    const nexthop = formatIp(version, tryParseIp(route.nexthop)!.value);
    const key = `${destination} ${nexthop}`;
    if (seen.has(key)) {
      throw badRequest(`Invalid input for host_routes. Reason: Duplicate hostroute '{'destination': '${route.destination}', 'nexthop': '${route.nexthop}'}'.`);
    }
    seen.add(key);
    return { destination, nexthop };
  });
}

/** Neutron's _validate_ipv6_attributes and the IPv4 counterpart. */
function checkIpv6Modes(version: IpVersion, c: Cidr, ra: string | null, address: string | null, enableDhcp: boolean): void {
  if (version === 4) {
    if (ra) throw invalidInput('ipv6_ra_mode is not valid when ip_version is 4');
    if (address) throw invalidInput('ipv6_address_mode is not valid when ip_version is 4');
    return;
  }
  if ((ra || address) && !enableDhcp) throw invalidInput('ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False');
  if (ra && address && ra !== address) {
    throw invalidInput(`ipv6_ra_mode set to '${ra}' with ipv6_address_mode set to '${address}' is not valid. If both attributes are set, they must be the same value`);
  }
  const auto = ['slaac', 'dhcpv6-stateless'];
  if ((auto.includes(address ?? '') || (!address && auto.includes(ra ?? ''))) && c.prefix !== 64) {
    throw invalidInput(`Invalid CIDR ${formatCidr(c)} for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64`);
  }
}

function portsOn(view: ReadView, subnetId: string): Doc[] {
  return view.find('port', 'subnet_id', subnetId);
}

/** Give every existing non-router port of the network its EUI-64 address on a new auto-address subnet. */
function addAutoAddresses(tx: Tx, subnet: Doc): void {
  for (const port of tx.find('port', 'network_id', subnet.network_id)) {
    if (ROUTER_INTERFACE_OWNERS.has(port.device_owner as string)) continue;
    const ip = allocateEui64(tx, subnet, port.id, port.mac_address as string);
    tx.put('port', revise(port, { fixed_ips: [...(port.fixed_ips as FixedIp[]), { subnet_id: subnet.id, ip_address: ip }] }));
  }
}

/**
 * The subnet's CIDR: the one given, or one taken from the subnet pool the request names
 * (Neutron's _create_subnet_precommit and allocate_subnet, in their order of checks).
 */
function subnetCidr(tx: Tx, ctx: RequestContext, input: SubnetCreate, project: string): { c: Cidr; pool?: Doc } {
  const version = input.ip_version;
  if (input.cidr !== undefined && input.prefixlen !== undefined) throw badRequest('cidr and prefixlen must not be supplied together');
  const pool = requestedPool(tx, ctx, input);
  if (!pool && input.cidr === undefined) throw badRequest('a subnetpool must be specified in the absence of a cidr');
  if (pool && input.cidr === undefined && input.allocation_pools !== undefined) {
    throw badRequest('allocation_pools allowed only for specific subnet requests.');
  }
  const given = input.cidr === undefined ? undefined : parseCidr(input.cidr);
  if (given && given.version !== version) throw versionMismatch('cidr', input.cidr!, version);
  if (!pool) return { c: given! };
  if (input.gateway_ip) checkVersion('gateway_ip', input.gateway_ip, version);
  if (pool.ip_version !== version) throw badRequest(`Cannot allocate IPv${version} subnet from IPv${pool.ip_version as number} subnet pool`);
  return { c: allocateFromPool(tx, pool, { cidr: given, prefixlen: input.prefixlen, gateway: input.gateway_ip, project }), pool };
}

export const subnetDomain = {
  create(tx: Tx, ctx: RequestContext, input: SubnetCreate): Doc {
    const project = owningProject(ctx, input);
    const network = usableNetwork(tx, ctx, input.network_id, project);
    if (!ctx.isAdmin && network.project_id !== ctx.projectId) throw forbidden('create_subnet');
    const version = input.ip_version;
    const { c, pool } = subnetCidr(tx, ctx, input, project);
    if (c.prefix === 0) throw invalidInput('0 is not allowed as CIDR prefix length');
    const cidr = formatCidr(c);
    for (const other of tx.find('subnet', 'network_id', network.id)) {
      if (cidrsOverlap(parseCidr(other.cidr as string), c)) {
        throw invalidInput(`Requested subnet with cidr: ${cidr} for network: ${network.id} overlaps with another subnet.`);
      }
    }
    checkPoolAffinity(tx, network.id, version, pool?.id ?? null);
    const enableDhcp = input.enable_dhcp ?? true;
    const ra = input.ipv6_ra_mode ?? null;
    const address = input.ipv6_address_mode ?? null;
    checkIpv6Modes(version, c, ra, address, enableDhcp);

    const base = standard(project);
    let gateway: string | null;
    if (input.gateway_ip === null) gateway = null;
    else if (input.gateway_ip !== undefined) gateway = checkGateway(c, input.gateway_ip);
    else {
      const gw = defaultGateway(c);
      gateway = gw === undefined ? null : formatIp(version, gw);
    }
    const pools = input.allocation_pools !== undefined
      ? checkPools(c, input.allocation_pools, gateway)
      : defaultPools(c, gateway === null ? undefined : tryParseIp(gateway)!.value)
          .map((r) => ({ start: formatIp(version, r.first), end: formatIp(version, r.last) }));
    const doc: Doc = {
      ...base,
      name: input.name ?? '',
      description: input.description ?? '',
      network_id: network.id,
      ip_version: version,
      cidr,
      gateway_ip: gateway,
      allocation_pools: pools,
      dns_nameservers: checkNameservers(base.id, input.dns_nameservers ?? []),
      host_routes: checkHostRoutes(base.id, version, input.host_routes ?? []),
      enable_dhcp: enableDhcp,
      ipv6_ra_mode: ra,
      ipv6_address_mode: address,
      subnetpool_id: pool?.id ?? null,
      segment_id: null,
      service_types: [],
      tags: [...new Set(input.tags ?? [])],
    };
    tx.put('subnet', doc);
    bumpRevision(tx, 'network', doc.network_id as string);
    if (isAutoAddressSubnet(doc)) addAutoAddresses(tx, doc);
    return doc;
  },

  update(tx: Tx, _ctx: RequestContext, current: Doc, input: SubnetUpdate): Doc {
    const c = parseCidr(current.cidr as string);
    const version = c.version;
    const patch: Record<string, unknown> = {};
    if (input.name !== undefined) patch.name = input.name;
    if (input.description !== undefined) patch.description = input.description;
    const oldGateway = current.gateway_ip as string | null;
    let gateway = oldGateway;
    if (input.gateway_ip !== undefined) {
      gateway = input.gateway_ip === null ? null : checkGateway(c, input.gateway_ip);
      if (gateway !== oldGateway) {
        if (oldGateway !== null) {
          const holder = ipHolder(tx, current.id, oldGateway);
          const port = holder ? tx.get('port', holder) : undefined;
          if (port && ROUTER_PORT_OWNERS.has(port.device_owner as string)) {
            throw inUse('GatewayIpInUse', `Current gateway ip ${oldGateway} already in use by port ${port.id}. Unable to update.`);
          }
        }
        const newHolder = gateway === null ? undefined : ipHolder(tx, current.id, gateway);
        if (newHolder !== undefined) {
          throw inUse('GatewayIpInUse', `Current gateway ip ${gateway} already in use by port ${newHolder}. Unable to update.`);
        }
      }
      patch.gateway_ip = gateway;
    }
    if (input.allocation_pools !== undefined) {
      patch.allocation_pools = checkPools(c, input.allocation_pools, gateway);
    } else if (input.gateway_ip !== undefined) {
      checkGatewayOutOfPools(version, poolsToRanges(current.allocation_pools as AllocationPool[]), gateway);
    }
    if (input.dns_nameservers !== undefined) patch.dns_nameservers = checkNameservers(current.id, input.dns_nameservers ?? []);
    if (input.host_routes !== undefined) patch.host_routes = checkHostRoutes(current.id, version, input.host_routes ?? []);
    if (input.enable_dhcp !== undefined) {
      if (!input.enable_dhcp && (current.ipv6_ra_mode || current.ipv6_address_mode)) {
        throw invalidInput('Cannot disable enable_dhcp with ipv6 attributes set');
      }
      patch.enable_dhcp = input.enable_dhcp;
    }
    const next = revise(current, patch as Partial<Doc>);
    tx.put('subnet', next);
    bumpRevision(tx, 'network', current.network_id as string);
    return next;
  },

  /**
   * Delete a subnet. DHCP ports, and automatic (SLAAC) addresses of non-router ports, give
   * their address back; any other port with an address in it keeps the subnet in use.
   */
  remove(tx: Tx, _ctx: RequestContext, subnet: Doc): void {
    const auto = isAutoAddressSubnet(subnet);
    const ports = portsOn(tx, subnet.id);
    const releasable = (p: Doc) => p.device_owner === 'network:dhcp' || (auto && !ROUTER_INTERFACE_OWNERS.has(p.device_owner as string));
    // Floating IPs hold their address as a claim of their own (no port), and keep the subnet in use too.
    const fips = tx.find('floatingip', 'floating_network_id', subnet.network_id).filter((f) => f.floating_subnet_id === subnet.id);
    if (ports.some((p) => !releasable(p)) || fips.length) {
      throw inUse('SubnetInUse', `Unable to complete operation on subnet ${subnet.id}: One or more ports have an IP allocation from this subnet.`);
    }
    for (const port of ports) {
      const fixed = port.fixed_ips as FixedIp[];
      for (const ip of fixed) if (ip.subnet_id === subnet.id) releaseIp(tx, subnet.id, ip.ip_address);
      tx.put('port', revise(port, { fixed_ips: fixed.filter((ip) => ip.subnet_id !== subnet.id) }));
    }
    tx.remove('subnet', subnet.id);
    bumpRevision(tx, 'network', subnet.network_id as string);
  },
};

/** The subnets of a network, in creation order. */
export function networkSubnets(view: ReadView, networkId: string): Doc[] {
  return view.find('subnet', 'network_id', networkId)
    .sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)));
}
