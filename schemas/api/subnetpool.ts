import { z } from 'zod';
import { bool, cidr, description, nonNegativeInt, ownership, standardAttributes, tags, uuid } from '../common.ts';

// Subnet pools (Neutron's subnet_allocation, default-subnetpools and subnetpool-prefix-ops).
// Prefix arithmetic and the bounds' rules are controller/domain/subnetpools.ts's; here only
// the wire shapes, read as Neutron's attribute map reads them.

/** type:not_empty_name_string: printable, not blank, no surrounding white space. */
export const poolName = z
  .string()
  .max(255)
  .refine((s) => s.trim() !== '', { error: 'Blank strings are not permitted' })
  .refine((s) => !/^\s|\s$|\p{Cc}/u.test(s), { error: 'is not a valid string' });

const prefixList = z.array(cidr);

export const SubnetPoolCreate = z
  .object({
    name: poolName,
    prefixes: prefixList,
    description: description.optional(),
    default_prefixlen: nonNegativeInt.optional(),
    min_prefixlen: nonNegativeInt.optional(),
    max_prefixlen: nonNegativeInt.optional(),
    default_quota: nonNegativeInt.optional(),
    shared: bool.optional(),
    is_default: bool.optional(),
    /** Address scopes are not built: only null is accepted (domain: AddressScopeNotFound). */
    address_scope_id: uuid.nullable().optional(),
    tags: tags.optional(),
    ...ownership,
  })
  .strict();
export type SubnetPoolCreate = z.infer<typeof SubnetPoolCreate>;

/** Attributes Neutron refuses on update with "Cannot update read-only attribute". */
export const READ_ONLY_POOL_ATTRIBUTES = ['shared', 'tenant_id', 'project_id', 'ip_version', 'id'] as const;

export const SubnetPoolUpdate = z
  .object({
    name: poolName.optional(),
    prefixes: prefixList.optional(),
    description: description.optional(),
    default_prefixlen: nonNegativeInt.optional(),
    min_prefixlen: nonNegativeInt.optional(),
    max_prefixlen: nonNegativeInt.optional(),
    default_quota: nonNegativeInt.optional(),
    is_default: bool.optional(),
    address_scope_id: uuid.nullable().optional(),
    ...Object.fromEntries(READ_ONLY_POOL_ATTRIBUTES.map((a) => [a, z.unknown().optional()])),
  })
  .strict();
export type SubnetPoolUpdate = z.infer<typeof SubnetPoolUpdate> & Partial<Record<(typeof READ_ONLY_POOL_ATTRIBUTES)[number], unknown>>;

/** PUT /v2.0/subnetpools/{id}/add_prefixes and remove_prefixes; like Neutron, other keys are ignored. */
export const PrefixesBody = z.object({ prefixes: prefixList });
export type PrefixesBody = z.infer<typeof PrefixesBody>;

export const SubnetPool = z.object({
  ...standardAttributes,
  prefixes: z.array(z.string()),
  ip_version: z.union([z.literal(4), z.literal(6)]),
  /** Text, as Neutron shows them (e.g. "24"). */
  default_prefixlen: z.string(),
  min_prefixlen: z.string(),
  max_prefixlen: z.string(),
  default_quota: z.number().int().nullable(),
  shared: z.boolean(),
  is_default: z.boolean(),
  address_scope_id: z.null(),
});
export type SubnetPool = z.infer<typeof SubnetPool>;
