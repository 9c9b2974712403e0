import { z } from 'zod';
import { bool, cidr, description, ipAddress, name, nonNegativeInt, ownership, standardAttributes, tags, uuid } from '../common.ts';

// Subnets (Neutron v2.0). Address semantics (pools inside the CIDR, gateway rules,
// overlaps) are checked by controller/domain/subnets.ts; here only the wire shapes.

export const ipv6Mode = z.enum(['slaac', 'dhcpv6-stateful', 'dhcpv6-stateless']);

const ipVersion = z.preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v), z.union([z.literal(4), z.literal(6)]));

export const AllocationPool = z.object({ start: ipAddress, end: ipAddress }).strict();
export type AllocationPool = z.infer<typeof AllocationPool>;

export const HostRoute = z.object({ destination: cidr, nexthop: ipAddress }).strict();
export type HostRoute = z.infer<typeof HostRoute>;

export const SubnetCreate = z
  .object({
    network_id: uuid,
    /** Optional with a subnet pool, which then chooses it. */
    cidr: cidr.optional(),
    ip_version: ipVersion,
    name: name.optional(),
    description: description.optional(),
    gateway_ip: ipAddress.nullable().optional(),
    allocation_pools: z.array(AllocationPool).optional(),
    dns_nameservers: z.array(ipAddress).optional(),
    host_routes: z.array(HostRoute).optional(),
    enable_dhcp: bool.optional(),
    ipv6_ra_mode: ipv6Mode.nullable().optional(),
    ipv6_address_mode: ipv6Mode.nullable().optional(),
    subnetpool_id: uuid.nullable().optional(),
    use_default_subnetpool: bool.optional(),
    /** Without a CIDR: the size of the block to take from the pool (default: its default_prefixlen). */
    prefixlen: nonNegativeInt.optional(),
    segment_id: z.null().optional(),
    tags: tags.optional(),
    ...ownership,
  })
  .strict();
export type SubnetCreate = z.infer<typeof SubnetCreate>;

export const SubnetUpdate = z
  .object({
    name: name.optional(),
    description: description.optional(),
    gateway_ip: ipAddress.nullable().optional(),
    allocation_pools: z.array(AllocationPool).optional(),
    dns_nameservers: z.array(ipAddress).nullable().optional(),
    host_routes: z.array(HostRoute).nullable().optional(),
    enable_dhcp: bool.optional(),
  })
  .strict();
export type SubnetUpdate = z.infer<typeof SubnetUpdate>;

export const Subnet = z.object({
  ...standardAttributes,
  network_id: z.string(),
  ip_version: z.union([z.literal(4), z.literal(6)]),
  cidr: z.string(),
  gateway_ip: z.string().nullable(),
  allocation_pools: z.array(AllocationPool),
  dns_nameservers: z.array(z.string()),
  host_routes: z.array(HostRoute),
  enable_dhcp: z.boolean(),
  ipv6_ra_mode: ipv6Mode.nullable(),
  ipv6_address_mode: ipv6Mode.nullable(),
  subnetpool_id: z.string().nullable(),
  segment_id: z.null(),
  service_types: z.array(z.string()),
});
export type Subnet = z.infer<typeof Subnet>;
