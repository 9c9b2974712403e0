import type { RequestContext } from '../auth/context.ts';
import { badRequest, NeutronError, notFound } from '../errors.ts';
import type { Doc, ReadView } from '../store/types.ts';
import { bitsOf, parseCidr, type Cidr, type IpVersion } from './cidr.ts';
import { difference, isSubset, setOf, setToCidrs } from './ip-sets.ts';
import { defaultSubnetPool, poolSet, subnetPoolVisible } from './subnetpools.ts';

// Subnets taken from a subnet pool, as Neutron's ipam/subnet_alloc.SubnetAllocator and
// db_base_plugin_v2._create_subnet_precommit do it: which pool a request names, the CIDR it
// gets (a given one that must be free in the pool, or the first free block of a prefix length,
// smallest free space first), the pool's per-project quota, and the rule that the subnets of
// one IP version on a network all come from the same pool or none.
//
// Where Neutron answers 500 (its SubnetAllocationError maps to no HTTP error), Weft answers
// 400 when the CIDR lies outside the pool and 409 when the pool has no room for it.

export const allocationError = {
  notInPool: () => new NeutronError(400, 'SubnetAllocationError', 'Failed to allocate subnet: Cannot allocate requested subnet from the available set of prefixes.'),
  taken: () => new NeutronError(409, 'SubnetAllocationError', 'Failed to allocate subnet: Cannot allocate requested subnet from the available set of prefixes.'),
  noRoom: (prefixlen: number) => new NeutronError(409, 'SubnetAllocationError', `Failed to allocate subnet: Insufficient prefix space to allocate subnet size /${prefixlen}.`),
  tooLong: (prefixlen: number, max: number) => new NeutronError(400, 'MaxPrefixSubnetAllocationError', `Unable to allocate subnet with prefix length ${prefixlen}, maximum allowed prefix is ${max}.`),
  tooShort: (prefixlen: number, min: number) => new NeutronError(400, 'MinPrefixSubnetAllocationError', `Unable to allocate subnet with prefix length ${prefixlen}, minimum allowed prefix is ${min}.`),
  quota: () => new NeutronError(409, 'SubnetPoolQuotaExceeded', 'Per-project subnet pool prefix quota exceeded.'),
  affinity: () => new NeutronError(400, 'NetworkSubnetPoolAffinityError', 'Subnets hosted on the same network must be allocated from the same subnet pool.'),
};

interface PoolChoice {
  subnetpool_id?: string | null;
  use_default_subnetpool?: boolean;
  ip_version: IpVersion;
  cidr?: string;
}

/** Neutron's _get_subnetpool_id: the pool a subnet create names, or undefined for none. */
export function requestedPool(view: ReadView, ctx: RequestContext, input: PoolChoice): Doc | undefined {
  const id = input.subnetpool_id ?? undefined;
  if (input.use_default_subnetpool === true) {
    if (id !== undefined) throw badRequest('subnetpool_id and use_default_subnetpool cannot both be specified');
    const version = input.cidr !== undefined ? parseCidr(input.cidr).version : input.ip_version;
    const pool = defaultSubnetPool(view, version, ctx);
    if (!pool) throw badRequest(`No default subnetpool found for IPv${version}`);
    return pool;
  }
  if (id === undefined) return undefined;
  const pool = view.get('subnetpool', id);
  if (!pool || !subnetPoolVisible(view, ctx, pool)) throw notFound('subnetpool', id);
  return pool;
}

export interface PoolRequest {
  /** A given CIDR (a "specific" request); otherwise any free block of `prefixlen`. */
  cidr?: Cidr;
  prefixlen?: number;
  /** Without a CIDR, a gateway address makes the request specific: its block of `prefixlen`. */
  gateway?: string | null;
  /** The project the subnet will belong to, whose share of the pool's quota it uses. */
  project: string;
}

/** The subnets allocated from a pool. */
export function poolSubnets(view: ReadView, poolId: string): Doc[] {
  return view.find('subnet', 'subnetpool_id', poolId);
}

/**
 * default_quota counts addresses for IPv4 and /64s for IPv6, per project. 0 or none means no
 * limit, as in Neutron. Neutron sums the pool owner's subnets whatever the request's project
 * (a slip: a shared pool's users would share the owner's count); here each project has its own.
 */
function checkPoolQuota(view: ReadView, pool: Doc, project: string, prefixlen: number): void {
  const quota = pool.default_quota as number | null;
  if (!quota) return;
  const unit = pool.ip_version === 4 ? 32 : 64;
  const units = (len: number) => 2 ** (unit - len);
  const used = poolSubnets(view, pool.id)
    .filter((s) => s.project_id === project)
    .reduce((sum, s) => sum + units(parseCidr(s.cidr as string).prefix), 0);
  if (used + units(prefixlen) > quota) throw allocationError.quota();
}

/** Neutron's SubnetAllocator.allocate_subnet: the CIDR a new subnet gets from `pool`. */
export function allocateFromPool(view: ReadView, pool: Doc, request: PoolRequest): Cidr {
  const version = pool.ip_version as IpVersion;
  const prefixlen = request.cidr?.prefix ?? request.prefixlen ?? (pool.default_prefixlen as number);
  if (prefixlen > (pool.max_prefixlen as number)) throw allocationError.tooLong(prefixlen, pool.max_prefixlen as number);
  if (prefixlen < (pool.min_prefixlen as number)) throw allocationError.tooShort(prefixlen, pool.min_prefixlen as number);
  // The caller has checked that the gateway is an address of the pool's version.
  const wanted = request.cidr ?? (request.gateway ? parseCidr(`${request.gateway}/${prefixlen}`) : undefined);
  checkPoolQuota(view, pool, request.project, prefixlen);
  const prefixes = poolSet(pool);
  const free = difference(prefixes, setOf(poolSubnets(view, pool.id).map((s) => parseCidr(s.cidr as string))));
  if (wanted) {
    if (!isSubset([wanted], prefixes)) throw allocationError.notInPool();
    if (!isSubset([wanted], free)) throw allocationError.taken();
    return wanted;
  }
  // Smallest free blocks first, so large ones stay whole (Neutron sorts by prefix length, longest first).
  const blocks = setToCidrs(version, free).sort((a, b) => b.prefix - a.prefix);
  const block = blocks.find((b) => b.prefix <= prefixlen);
  if (!block) throw allocationError.noRoom(prefixlen);
  const size = 1n << BigInt(bitsOf(version) - prefixlen);
  return { version, prefix: prefixlen, first: block.first, last: block.first + size - 1n };
}

/** Neutron's _validate_network_subnetpools without address scopes: one pool (or none) per version. */
export function checkPoolAffinity(view: ReadView, networkId: string, version: IpVersion, poolId: string | null): void {
  for (const subnet of view.find('subnet', 'network_id', networkId)) {
    if (subnet.ip_version === version && ((subnet.subnetpool_id as string | null) ?? null) !== poolId) throw allocationError.affinity();
  }
}
