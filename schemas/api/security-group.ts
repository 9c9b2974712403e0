import { z } from 'zod';
import { bool, description, name, ownership, standardAttributes, tags, uuid } from '../common.ts';

// Security groups and their rules (Neutron's security-group extension, with stateful,
// standard attributes and tags on groups; rules have standard attributes but no tags).
//
// Rule fields whose errors Neutron reports with a dedicated type (protocol, ports,
// remote_ip_prefix) are only shape-checked here; controller/domain/security-group-rules.ts
// validates their values and raises SecurityGroupRuleInvalidProtocol, SecurityGroupInvalidPortValue,
// InvalidCIDR, ... as Neutron does.

export const SecurityGroupCreate = z
  .object({
    name: name.optional(),
    description: description.optional(),
    stateful: bool.optional(),
    tags: tags.optional(),
    ...ownership,
  })
  .strict();
export type SecurityGroupCreate = z.infer<typeof SecurityGroupCreate>;

export const SecurityGroupUpdate = z
  .object({
    name: name.optional(),
    description: description.optional(),
    stateful: bool.optional(),
  })
  .strict();
export type SecurityGroupUpdate = z.infer<typeof SecurityGroupUpdate>;

export const DIRECTIONS = ['ingress', 'egress'] as const;
export const ETHERTYPES = ['IPv4', 'IPv6'] as const;

/** Neutron converts the ethertype case-insensitively ('ipv4' -> 'IPv4'). */
const ethertype = z.preprocess((v) => {
  if (typeof v !== 'string') return v;
  return ETHERTYPES.find((e) => e.toLowerCase() === v.toLowerCase()) ?? v;
}, z.enum(ETHERTYPES));

/** A port or an ICMP type/code: an integer or its decimal text (the domain checks the range). */
const portValue = z.preprocess(
  (v) => (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v),
  z.number().int().nullable(),
);

export const SecurityGroupRuleCreate = z
  .object({
    security_group_id: uuid,
    direction: z.enum(DIRECTIONS),
    ethertype: ethertype.optional(),
    protocol: z.union([z.string(), z.number()]).nullable().optional(),
    port_range_min: portValue.optional(),
    port_range_max: portValue.optional(),
    remote_ip_prefix: z.string().nullable().optional(),
    // Not checked as a UUID: like Neutron, a group that is not there, whatever its id, is a 404.
    remote_group_id: z.string().max(255).nullable().optional(),
    remote_address_group_id: z.null().optional(),
    description: description.optional(),
    ...ownership,
  })
  .strict();
export type SecurityGroupRuleCreate = z.infer<typeof SecurityGroupRuleCreate>;

export const SecurityGroupRule = z.object({
  id: z.string(),
  project_id: z.string(),
  tenant_id: z.string(),
  security_group_id: z.string(),
  direction: z.enum(DIRECTIONS),
  ethertype: z.enum(ETHERTYPES),
  protocol: z.string().nullable(),
  port_range_min: z.number().int().nullable(),
  port_range_max: z.number().int().nullable(),
  remote_ip_prefix: z.string().nullable(),
  normalized_cidr: z.string().nullable(),
  remote_group_id: z.string().nullable(),
  remote_address_group_id: z.string().nullable(),
  description: z.string(),
  belongs_to_default_sg: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
  revision_number: z.number().int(),
});
export type SecurityGroupRule = z.infer<typeof SecurityGroupRule>;

export const SecurityGroup = z.object({
  ...standardAttributes,
  stateful: z.boolean(),
  shared: z.boolean(),
  security_group_rules: z.array(SecurityGroupRule),
});
export type SecurityGroup = z.infer<typeof SecurityGroup>;
