import type { RequestContext } from '../auth/context.ts';
import { badRequest, forbidden, invalidInput, NeutronError } from '../errors.ts';
import type { Doc, ReadView, Tx } from '../store/types.ts';
import { READ_ONLY_POOL_ATTRIBUTES, type SubnetPoolCreate, type SubnetPoolUpdate } from '../../schemas/api/subnetpool.ts';
import { bitsOf, formatCidr, parseCidr, type IpVersion } from './cidr.ts';
import { compactCidrs, difference, intersects, isSubset, setOf, setToCidrs, type AddressSet } from './ip-sets.ts';
import { owningProject } from './policy.ts';
import { revise, standard } from './standard-attrs.ts';

// Subnet pools as Neutron keeps them (db_base_plugin_v2 create/update/delete_subnetpool,
// add/remove_prefixes, ipam/subnet_alloc.SubnetPoolReader): prefixes compacted, the IP
// version read from them, prefix length bounds defaulted and checked, one default pool per
// IP version, prefixes that only grow on update. Subnets taken from a pool point at it with
// subnetpool_id; that is the whole record of its allocations (subnet-allocation.ts).

/** Neutron's SubnetPoolHelper: the defaults per IP version. */
const DEFAULT_MIN_PREFIXLEN: Record<IpVersion, number> = { 4: 8, 6: 64 };

export const subnetPoolError = {
  empty: () => new NeutronError(400, 'EmptySubnetPoolPrefixList', 'Empty subnet pool prefix list.'),
  mixed: () => new NeutronError(400, 'PrefixVersionMismatch', 'Cannot mix IPv4 and IPv6 prefixes in a subnet pool.'),
  bounds: (type: string, len: number, baseType: string, baseLen: number) =>
    new NeutronError(400, 'IllegalSubnetPoolPrefixBounds', `Illegal prefix bounds: ${type}=${len}, ${baseType}=${baseLen}.`),
  // Neutron's messages end with their own full stop inside the template's: "...prefixes.." is theirs.
  prefixUpdate: (msg: string) => new NeutronError(400, 'IllegalSubnetPoolPrefixUpdate', `Illegal update to prefixes: ${msg}.`),
  deleteInUse: () => new NeutronError(400, 'SubnetPoolDeleteError', 'Unable to delete subnet pool: Subnet pool has existing allocations.'),
  addressScope: (id: string) => new NeutronError(404, 'AddressScopeNotFound', `Address scope ${id} could not be found.`),
};

/** Admins see every pool, members their own and shared ones (Neutron's get_subnetpool policy). */
export function subnetPoolVisible(_view: ReadView, ctx: RequestContext, pool: Doc): boolean {
  return ctx.isAdmin || pool.project_id === ctx.projectId || pool.shared === true;
}

/** The default pool of an IP version that `ctx` can see, if there is one. */
export function defaultSubnetPool(view: ReadView, version: IpVersion, ctx?: RequestContext): Doc | undefined {
  return view.list('subnetpool').find((p) => p.is_default === true && p.ip_version === version && (!ctx || subnetPoolVisible(view, ctx, p)));
}

interface PoolSpec {
  prefixes: readonly string[];
  min_prefixlen?: number;
  max_prefixlen?: number;
  default_prefixlen?: number;
}

export interface PoolShape {
  prefixes: string[];
  ip_version: IpVersion;
  min_prefixlen: number;
  max_prefixlen: number;
  default_prefixlen: number;
}

/** Neutron's SubnetPoolReader: compact the prefixes, derive the version, default and check the bounds. */
export function readPoolSpec(spec: PoolSpec): PoolShape {
  if (spec.prefixes.length === 0) throw subnetPoolError.empty();
  const cidrs = spec.prefixes.map(parseCidr);
  const version = cidrs[0].version;
  if (cidrs.some((c) => c.version !== version)) throw subnetPoolError.mixed();
  const bits = bitsOf(version);
  const min = spec.min_prefixlen ?? DEFAULT_MIN_PREFIXLEN[version];
  const max = spec.max_prefixlen ?? bits;
  const dflt = spec.default_prefixlen ?? min;
  if (min > max) throw subnetPoolError.bounds('min_prefixlen', min, 'max_prefixlen', max);
  if (max > bits) throw subnetPoolError.bounds('max_prefixlen', max, 'ip_version_max', bits);
  if (dflt < min) throw subnetPoolError.bounds('default_prefixlen', dflt, 'min_prefixlen', min);
  if (dflt > max) throw subnetPoolError.bounds('default_prefixlen', dflt, 'max_prefixlen', max);
  return { prefixes: compactCidrs(version, cidrs).map(formatCidr), ip_version: version, min_prefixlen: min, max_prefixlen: max, default_prefixlen: dflt };
}

export function poolSet(pool: Doc): AddressSet {
  return setOf((pool.prefixes as string[]).map(parseCidr));
}

/** The addresses of one version among some CIDRs (IPv4 and IPv6 values must not meet in one set). */
function setOfVersion(prefixes: readonly string[], version: IpVersion): AddressSet {
  return setOf(prefixes.map(parseCidr).filter((c) => c.version === version));
}

/** type:subnet_list refuses a list naming one CIDR twice (as written, before compaction). */
function checkNoDuplicates(prefixes: readonly string[]): void {
  const seen = new Set<string>();
  const dups = new Set<string>();
  for (const p of prefixes) (seen.has(p) ? dups : seen).add(p);
  if (dups.size) throw badRequest(`Invalid input for prefixes. Reason: Duplicate items in the list: '${[...dups].join(', ')}'.`);
}

function checkOneDefault(view: ReadView, version: IpVersion, self?: string): void {
  const other = defaultSubnetPool(view, version);
  if (other && other.id !== self) {
    throw invalidInput('A default subnetpool for this IP family has already been set. Only one default may exist per IP family');
  }
}

/** Address scopes are not built here, so no id names one (Neutron's answer for an unknown scope). */
function checkAddressScope(id: string | null | undefined): void {
  if (id !== undefined && id !== null) throw subnetPoolError.addressScope(id);
}

/** Prefixes may only grow: the old set must lie inside the new one (Neutron's _update_subnetpool_dict). */
function grownPrefixes(current: Doc, wanted: readonly string[]): string[] {
  const next = setOfVersion(wanted, current.ip_version as IpVersion);
  if (!isSubset(poolSet(current), next)) throw subnetPoolError.prefixUpdate('Existing prefixes must be a subset of the new prefixes');
  return [...wanted];
}

function subnetsOf(view: ReadView, poolId: string): Doc[] {
  return view.find('subnet', 'subnetpool_id', poolId);
}

/** update_subnetpool after the body's own checks (add_prefixes comes here too). */
function updatePool(tx: Tx, ctx: RequestContext, current: Doc, input: SubnetPoolUpdate): Doc {
  for (const attr of READ_ONLY_POOL_ATTRIBUTES) {
    if (input[attr] !== undefined) throw badRequest(`Cannot update read-only attribute ${attr}`);
  }
  if (!ctx.isAdmin && input.is_default !== undefined) throw forbidden('update_subnetpool:is_default');
  const prefixes = input.prefixes !== undefined ? grownPrefixes(current, input.prefixes) : (current.prefixes as string[]);
  const shape = readPoolSpec({
    prefixes,
    min_prefixlen: input.min_prefixlen ?? (current.min_prefixlen as number),
    max_prefixlen: input.max_prefixlen ?? (current.max_prefixlen as number),
    default_prefixlen: input.default_prefixlen ?? (current.default_prefixlen as number),
  });
  const isDefault = input.is_default ?? (current.is_default as boolean);
  if (isDefault && !current.is_default) checkOneDefault(tx, shape.ip_version, current.id);
  checkAddressScope(input.address_scope_id);
  const patch: Record<string, unknown> = { ...shape, is_default: isDefault };
  for (const key of ['name', 'description', 'default_quota'] as const) if (input[key] !== undefined) patch[key] = input[key];
  const next = revise(current, patch as Partial<Doc>);
  tx.put('subnetpool', next);
  return next;
}

export const subnetPoolDomain = {
  create(tx: Tx, ctx: RequestContext, input: SubnetPoolCreate): Doc {
    // Neutron's create_subnetpool:shared / :is_default apply when the value differs from the default.
    if (!ctx.isAdmin && input.shared === true) throw forbidden('create_subnetpool:shared');
    if (!ctx.isAdmin && input.is_default === true) throw forbidden('create_subnetpool:is_default');
    const project = owningProject(ctx, input);
    checkNoDuplicates(input.prefixes);
    const shape = readPoolSpec(input);
    const isDefault = input.is_default ?? false;
    if (isDefault) checkOneDefault(tx, shape.ip_version);
    checkAddressScope(input.address_scope_id);
    const doc: Doc = {
      ...standard(project),
      name: input.name,
      description: input.description ?? '',
      ...shape,
      default_quota: input.default_quota ?? null,
      shared: input.shared ?? false,
      is_default: isDefault,
      address_scope_id: null,
      tags: [...new Set(input.tags ?? [])],
    };
    tx.put('subnetpool', doc);
    return doc;
  },

  update(tx: Tx, ctx: RequestContext, current: Doc, input: SubnetPoolUpdate): Doc {
    if (input.prefixes !== undefined) checkNoDuplicates(input.prefixes);
    return updatePool(tx, ctx, current, input);
  },

  remove(tx: Tx, _ctx: RequestContext, pool: Doc): void {
    if (subnetsOf(tx, pool.id).length) throw subnetPoolError.deleteInUse();
    tx.remove('subnetpool', pool.id);
  },

  /** PUT .../add_prefixes: an update whose prefixes are the old ones plus these. */
  addPrefixes(tx: Tx, ctx: RequestContext, pool: Doc, prefixes: readonly string[]): Doc {
    return updatePool(tx, ctx, pool, { prefixes: [...(pool.prefixes as string[]), ...prefixes] });
  },

  /**
   * PUT .../remove_prefixes: take addresses out of the pool unless a subnet holds some of them.
   * Prefixes the pool does not have change nothing. Unlike Neutron, a pool is not left empty:
   * Neutron then refuses every later update of it (its reader wants a prefix).
   */
  removePrefixes(tx: Tx, _ctx: RequestContext, pool: Doc, prefixes: readonly string[]): Doc {
    const current = poolSet(pool);
    const removed = setOfVersion(prefixes, pool.ip_version as IpVersion);
    if (!intersects(current, removed)) return pool;
    const allocated = setOf(subnetsOf(tx, pool.id).map((s) => parseCidr(s.cidr as string)));
    if (intersects(allocated, removed)) throw subnetPoolError.prefixUpdate('One or more the prefixes to be removed is in use by a subnet.');
    const left = difference(current, removed);
    if (!left.length) throw subnetPoolError.prefixUpdate('A subnet pool cannot be left without prefixes');
    const next = revise(pool, { prefixes: setToCidrs(pool.ip_version as IpVersion, left).map(formatCidr) } as Partial<Doc>);
    tx.put('subnetpool', next);
    return next;
  },
};
