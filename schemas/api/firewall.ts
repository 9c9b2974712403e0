import { z } from 'zod';
import { bool, description, isCidr, isIpv4, isIpv6, name, ownership, uuid } from '../common.ts';

// Router firewalls: Neutron's FWaaS v2 (extension fwaas_v2, under /v2.0/fwaas): rules, policies
// (ordered lists of rules) and groups (an ingress and an egress policy applied to router ports).
// Shapes follow neutron-lib api/definitions/firewall_v2.py. Values whose errors Neutron reports
// with a dedicated type (port ranges, protocol/port combinations, IP versions) are only
// shape-checked here; controller/domain/fwaas-rules.ts validates them.

/** neutron-lib FW_PROTOCOL_VALUES (IPTABLES_PROTOCOL_MAP's names); null = any protocol. */
export const FIREWALL_PROTOCOLS = ['dccp', 'icmp', 'ipv6-icmp', 'sctp', 'tcp', 'udp'] as const;
export const FIREWALL_ACTIONS = ['allow', 'deny', 'reject'] as const;
export type FirewallProtocol = (typeof FIREWALL_PROTOCOLS)[number];
export type FirewallAction = (typeof FIREWALL_ACTIONS)[number];

/** Neutron converts ip_version with convert_to_int: 4, '4'. */
const ipVersion = z.preprocess(
  (v) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v),
  z.literal([4, 6]),
);

/** convert_string_to_case_insensitive, then one of allow/deny/reject. */
const action = z.preprocess((v) => (typeof v === 'string' ? v.toLowerCase() : v), z.enum(FIREWALL_ACTIONS));

/** type:ip_or_subnet_or_none */
const ipOrSubnet = z
  .string()
  .refine((s) => isIpv4(s) || isIpv6(s) || isCidr(s), { message: 'is neither a valid IP address, nor is it a valid IP subnet' })
  .nullable();

/** type:port_range with convert_to_string: 80, '80' or '1000:2000' (the domain checks the values). */
const portRange = z.union([z.string(), z.number().int()]).nullable();

/** type:uuid_list (no duplicates); null means [] (convert_none_to_empty_list). */
const uuidList = z
  .array(uuid)
  .nullable()
  .refine((l) => l === null || new Set(l).size === l.length, { message: 'has duplicate items' })
  .transform((l) => l ?? []);

const ruleFields = {
  name: name.optional(),
  description: description.optional(),
  shared: bool.optional(),
  protocol: z.enum(FIREWALL_PROTOCOLS).nullable().optional(),
  ip_version: ipVersion.optional(),
  source_ip_address: ipOrSubnet.optional(),
  destination_ip_address: ipOrSubnet.optional(),
  source_port: portRange.optional(),
  destination_port: portRange.optional(),
  action: action.optional(),
  enabled: bool.optional(),
};

export const FirewallRuleCreate = z.object({ ...ruleFields, ...ownership }).strict();
export type FirewallRuleCreate = z.infer<typeof FirewallRuleCreate>;

export const FirewallRuleUpdate = z.object(ruleFields).strict();
export type FirewallRuleUpdate = z.infer<typeof FirewallRuleUpdate>;

const policyFields = {
  name: name.optional(),
  description: description.optional(),
  shared: bool.optional(),
  firewall_rules: uuidList.optional(),
  audited: bool.optional(),
};

export const FirewallPolicyCreate = z.object({ ...policyFields, ...ownership }).strict();
export type FirewallPolicyCreate = z.infer<typeof FirewallPolicyCreate>;

export const FirewallPolicyUpdate = z.object(policyFields).strict();
export type FirewallPolicyUpdate = z.infer<typeof FirewallPolicyUpdate>;

/**
 * Body of PUT /fwaas/firewall_policies/{id}/insert_rule and remove_rule (not wrapped). Like
 * Neutron, the ids are checked by the domain (a malformed id is a FirewallRuleNotFound) and keys
 * the action does not use are ignored.
 */
export const FirewallRuleInfo = z.object({
  firewall_rule_id: z.string().optional(),
  insert_before: z.string().nullable().optional(),
  insert_after: z.string().nullable().optional(),
});
export type FirewallRuleInfo = z.infer<typeof FirewallRuleInfo>;

const groupFields = {
  name: name.optional(),
  description: description.optional(),
  admin_state_up: bool.optional(),
  shared: bool.optional(),
  ports: uuidList.optional(),
  ingress_firewall_policy_id: uuid.nullable().optional(),
  egress_firewall_policy_id: uuid.nullable().optional(),
};

export const FirewallGroupCreate = z.object({ ...groupFields, ...ownership }).strict();
export type FirewallGroupCreate = z.infer<typeof FirewallGroupCreate>;

export const FirewallGroupUpdate = z.object(groupFields).strict();
export type FirewallGroupUpdate = z.infer<typeof FirewallGroupUpdate>;

const standard = {
  id: z.string(),
  project_id: z.string(),
  tenant_id: z.string(),
  name: z.string(),
  description: z.string(),
  shared: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
  revision_number: z.number().int(),
};

export const FirewallRule = z.object({
  ...standard,
  protocol: z.enum(FIREWALL_PROTOCOLS).nullable(),
  ip_version: z.literal([4, 6]),
  source_ip_address: z.string().nullable(),
  destination_ip_address: z.string().nullable(),
  source_port: z.string().nullable(),
  destination_port: z.string().nullable(),
  action: z.enum(FIREWALL_ACTIONS),
  enabled: z.boolean(),
  /** The policies that use the rule (Neutron v2 shows a list), or null. */
  firewall_policy_id: z.array(z.string()).nullable(),
});
export type FirewallRule = z.infer<typeof FirewallRule>;

export const FirewallPolicy = z.object({
  ...standard,
  firewall_rules: z.array(z.string()),
  audited: z.boolean(),
});
export type FirewallPolicy = z.infer<typeof FirewallPolicy>;

export const FirewallGroup = z.object({
  ...standard,
  admin_state_up: z.boolean(),
  status: z.string(),
  ports: z.array(z.string()),
  ingress_firewall_policy_id: z.string().nullable(),
  egress_firewall_policy_id: z.string().nullable(),
});
export type FirewallGroup = z.infer<typeof FirewallGroup>;
