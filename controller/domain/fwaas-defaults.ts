import type { RequestContext } from '../auth/context.ts';
import type { Doc, ReadView, Tx } from '../store/types.ts';
import { FW_GROUP, FW_POLICY, FW_RULE, fwaasError } from './fwaas-rules.ts';
import { standard } from './standard-attrs.ts';

// The per-project default firewall group of neutron-fwaas (firewall_db_v2.py,
// _ensure_default_firewall_group): a group named 'default' with an ingress policy that denies
// and an egress policy that allows, made when the project first lists firewall groups, policies
// or rules, or creates its first other group. Like Neutron, the name is what makes a group or a
// policy the default one (its _is_default), and a project has at most one group so named: nobody
// may create or rename a group to 'default', nor a policy to one of the default policies' names.
// The rules are the ones of neutron-fwaas's [default_fwg_rules] options at their defaults.

export const DEFAULT_FWG = 'default';
export const DEFAULT_FWP_INGRESS = 'default ingress';
export const DEFAULT_FWP_EGRESS = 'default egress';

interface DefaultRule {
  name: string;
  description: string;
  ip_version: 4 | 6;
  action: 'allow' | 'deny';
}

/** neutron-fwaas's four default rules: ingress denied, egress allowed (ingress_action / egress_action). */
const INGRESS_RULES: readonly DefaultRule[] = [
  { name: 'default ingress ipv4', description: 'default ingress rule for IPv4', ip_version: 4, action: 'deny' },
  { name: 'default ingress ipv6', description: 'default ingress rule for IPv6', ip_version: 6, action: 'deny' },
];
const EGRESS_RULES: readonly DefaultRule[] = [
  { name: 'default egress ipv4', description: 'default egress rule for IPv4', ip_version: 4, action: 'allow' },
  { name: 'default egress ipv6', description: 'default egress rule for IPv6', ip_version: 6, action: 'allow' },
];

export const isDefaultFirewallGroup = (group: Doc): boolean => group.name === DEFAULT_FWG;
export const isDefaultFirewallPolicy = (policy: Doc): boolean =>
  policy.name === DEFAULT_FWP_INGRESS || policy.name === DEFAULT_FWP_EGRESS;

/** The project's default group, if it exists yet (_get_default_fwg_id). */
export function findDefaultFirewallGroup(view: ReadView, projectId: string): Doc | undefined {
  return view.find(FW_GROUP, 'project_id', projectId).find(isDefaultFirewallGroup);
}

function putRule(tx: Tx, projectId: string, rule: DefaultRule): string {
  const { tags: _none, ...base } = standard(projectId);
  tx.put(FW_RULE, {
    ...base, name: rule.name, description: rule.description, shared: false, protocol: null, ip_version: rule.ip_version,
    source_ip_address: null, destination_ip_address: null, source_port: null, destination_port: null,
    action: rule.action, enabled: true,
  });
  return base.id;
}

function putPolicy(tx: Tx, projectId: string, name: string, description: string, rules: readonly DefaultRule[]): string {
  const { tags: _none, ...base } = standard(projectId);
  const firewallRules = rules.map((r) => putRule(tx, projectId, r));
  tx.put(FW_POLICY, { ...base, name, description, shared: false, firewall_rules: firewallRules, audited: false });
  return base.id;
}

/**
 * Returns the project's default group, making it (four rules, two policies, the group: no ports,
 * shared false, admin state up) when missing. Like neutron-fwaas, which makes it with an admin
 * context, it is nobody's request: no policy check applies (FWaaS has no quotas in Weft).
 */
export function ensureDefaultFirewallGroup(tx: Tx, projectId: string): Doc {
  const existing = findDefaultFirewallGroup(tx, projectId);
  if (existing) return existing;
  const ingress = putPolicy(tx, projectId, DEFAULT_FWP_INGRESS, 'Ingress firewall policy', INGRESS_RULES);
  const egress = putPolicy(tx, projectId, DEFAULT_FWP_EGRESS, 'Egress firewall policy', EGRESS_RULES);
  const { tags: _none, ...base } = standard(projectId);
  const group: Doc = {
    ...base,
    name: DEFAULT_FWG,
    description: 'Default firewall group',
    admin_state_up: true,
    shared: false,
    ports: [],
    ingress_firewall_policy_id: ingress,
    egress_firewall_policy_id: egress,
  };
  tx.put(FW_GROUP, group);
  return group;
}

const parameterExists = (name: string, resourceType: string) => fwaasError(409, 'FirewallDefaultParameterExists',
  `Operation cannot be performed since '${name}' is a reserved name for ${resourceType}.`);
const updateRestricted = (id: string) => fwaasError(409, 'FirewallDefaultObjectUpdateRestricted',
  `Operation cannot be performed on default object '${id}' of type Firewall Group.`);

/** _ensure_not_default_resource on a group body: 'default' is reserved. */
export function checkGroupNameNotReserved(name: string | undefined): void {
  if (name === DEFAULT_FWG) throw parameterExists(name, 'Firewall Group');
}

/** The default policies' names are reserved. */
export function checkPolicyNameNotReserved(name: string | undefined): void {
  if (name === DEFAULT_FWP_INGRESS || name === DEFAULT_FWP_EGRESS) throw parameterExists(name, 'Firewall Policy');
}

/**
 * update_firewall_group on the default group: a member may change only its ports (and `shared`,
 * which policy keeps for admins anyway); an admin anything but its name. Neutron checks that the
 * attribute is in the body, whatever its value.
 */
export function checkDefaultGroupUpdate(ctx: RequestContext, group: Doc, input: object): void {
  if (!isDefaultFirewallGroup(group)) return;
  const restricted = ctx.isAdmin
    ? ['name']
    : ['name', 'description', 'admin_state_up', 'ingress_firewall_policy_id', 'egress_firewall_policy_id'];
  if (restricted.some((attr) => attr in input)) throw updateRestricted(group.id);
}

/**
 * update_firewall_policy: a default policy cannot be updated at all, by anyone. Neutron's message
 * calls it a Firewall Group too. (insert_rule and remove_rule are not restricted, as in Neutron.)
 */
export function checkPolicyUpdatable(policy: Doc): void {
  if (isDefaultFirewallPolicy(policy)) throw updateRestricted(policy.id);
}

export const cannotRemoveDefault = () => fwaasError(409, 'FirewallGroupCannotRemoveDefault', 'Deleting default firewall group not allowed.');
