import type { RequestContext } from '../auth/context.ts';
import { badRequest, forbidden, inUse, NeutronError } from '../errors.ts';
import type { Doc, ReadView, Tx } from '../store/types.ts';
import type { FirewallRuleCreate, FirewallRuleUpdate } from '../../schemas/api/firewall.ts';
import { isIpv4 } from '../../schemas/common.ts';
import { owningProject } from './policy.ts';
import { revise, standard } from './standard-attrs.ts';

// FWaaS v2 firewall rules, validated the way neutron-fwaas does it (common/utils.py and the
// port_range validator of neutron-lib): ports only with tcp/udp, addresses of the rule's IP
// version, port ranges 'lo:hi' stored in the form Neutron shows them ('80', '1000:2000').
//
// A rule may be used by several policies (neutron-fwaas v2 keeps a policy<->rule association
// table and shows `firewall_policy_id` as the list of policies using the rule); it may appear
// only once in one policy (FirewallRuleAlreadyAssociated, see fwaas-policies.ts). The policy
// document holds the ordered rule ids; the rule document does not point back.

export const FW_RULE = 'firewall_rule';
export const FW_POLICY = 'firewall_policy';
export const FW_GROUP = 'firewall_group';

/** A NeutronError whose type is the exception's class name, as Neutron's faults show it. */
export const fwaasError = (status: number, type: string, message: string) => new NeutronError(status, type, message);

/** Members see their own resources and shared ones; admins see all (get_firewall_*: owner or shared). */
export function fwaasVisible(_view: ReadView, ctx: RequestContext, doc: Doc): boolean {
  return ctx.isAdmin || doc.project_id === ctx.projectId || doc.shared === true;
}

/**
 * `shared` is admin-only (create_/update_firewall_*:shared). Like Neutron's enforcement of
 * attributes "explicitly set", a member may send the value the resource has or would get anyway.
 */
export function checkSharedAllowed(ctx: RequestContext, wanted: boolean | undefined, current: boolean, action: string): void {
  if (!ctx.isAdmin && wanted !== undefined && wanted !== current) throw forbidden(`${action}:shared`);
}

/** neutron-lib's type:port_range on a value already converted to a string; null stays null. */
export function canonicalPortRange(field: string, value: string | number | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const reason = (why: string) => badRequest(`Invalid input for ${field}. Reason: ${why}.`);
  const parts = String(value).split(':');
  if (parts.length > 2 || parts.some((p) => p.length === 0)) throw reason('Port range must be two integers separated by a colon');
  const ports = parts.map((p) => {
    if (!/^\d{1,5}$/.test(p)) throw reason(`Invalid port: ${p}`);
    // Neutron takes 0 but then shows the range as null; a port 0 rule is refused here instead.
    if (Number(p) < 1 || Number(p) > 65535) throw reason(`Invalid port: ${p}, the port must be in the range [1, 65535]`);
    return Number(p);
  });
  const [lo, hi = lo] = ports;
  if (lo > hi) throw reason('First port in a port range must be lower than the second port');
  return lo === hi ? String(lo) : `${lo}:${hi}`;
}

interface RuleFields {
  protocol: string | null;
  ip_version: 4 | 6;
  source_ip_address: string | null;
  destination_ip_address: string | null;
  source_port: string | null;
  destination_port: string | null;
}

const versionOf = (address: string): 4 | 6 => (isIpv4(address.split('/')[0]) ? 4 : 6);

/** validate_fwr_protocol_parameters and validate_fwr_src_dst_ip_version of neutron-fwaas. */
function checkRule(r: RuleFields): void {
  const hasPorts = r.source_port !== null || r.destination_port !== null;
  if (hasPorts && r.protocol !== null && r.protocol !== 'tcp' && r.protocol !== 'udp') {
    throw fwaasError(400, 'FirewallRuleInvalidICMPParameter', 'Source, destination port are not allowed when protocol is set to ICMP.');
  }
  if (hasPorts && r.protocol === null) {
    throw fwaasError(400, 'FirewallRuleWithPortWithoutProtocolInvalid', 'Source/destination port requires a protocol.');
  }
  for (const address of [r.source_ip_address, r.destination_ip_address]) {
    if (address !== null && versionOf(address) !== r.ip_version) {
      throw fwaasError(400, 'FirewallIpAddressConflict', 'Invalid input - IP addresses do not agree with IP Version.');
    }
  }
}

/** Policies whose rule list holds this rule, oldest first. */
export function policiesWithRule(view: ReadView, ruleId: string): Doc[] {
  return view.find(FW_POLICY, 'firewall_rule', ruleId).sort((a, b) =>
    String(a.created_at).localeCompare(String(b.created_at)) || a.id.localeCompare(b.id));
}

export function presentFirewallRule(view: ReadView, _ctx: RequestContext, doc: Doc): Record<string, unknown> {
  const policies = policiesWithRule(view, doc.id).map((p) => p.id);
  return { ...doc, firewall_policy_id: policies.length ? policies : null };
}

export function createFirewallRule(tx: Tx, ctx: RequestContext, input: FirewallRuleCreate): Doc {
  checkSharedAllowed(ctx, input.shared, false, 'create_firewall_rule');
  const project = owningProject(ctx, input);
  const { tags: _none, ...base } = standard(project);
  const fields: RuleFields = {
    protocol: input.protocol ?? null,
    ip_version: input.ip_version ?? 4,
    source_ip_address: input.source_ip_address ?? null,
    destination_ip_address: input.destination_ip_address ?? null,
    source_port: canonicalPortRange('source_port', input.source_port),
    destination_port: canonicalPortRange('destination_port', input.destination_port),
  };
  checkRule(fields);
  const doc: Doc = {
    ...base,
    name: input.name ?? '',
    description: input.description ?? '',
    shared: input.shared ?? false,
    ...fields,
    action: input.action ?? 'deny',
    enabled: input.enabled ?? true,
  };
  tx.put(FW_RULE, doc);
  return doc;
}

/** Like neutron-fwaas, any change of a rule makes the policies using it un-audited. */
function unaudit(tx: Tx, policies: readonly Doc[]): void {
  for (const p of policies) if (p.audited !== false) tx.put(FW_POLICY, revise(p, { audited: false }));
}

export function updateFirewallRule(tx: Tx, ctx: RequestContext, current: Doc, input: FirewallRuleUpdate): Doc {
  checkSharedAllowed(ctx, input.shared, current.shared === true, 'update_firewall_rule');
  const patch: Record<string, unknown> = { ...input };
  if (input.source_port !== undefined) patch.source_port = canonicalPortRange('source_port', input.source_port);
  if (input.destination_port !== undefined) patch.destination_port = canonicalPortRange('destination_port', input.destination_port);
  // Checked on the rule as it will be, as neutron-fwaas checks the merged rule.
  const next = revise(current, patch as Partial<Doc>);
  checkRule(next as unknown as RuleFields);
  tx.put(FW_RULE, next);
  unaudit(tx, policiesWithRule(tx, current.id));
  return next;
}

export function removeFirewallRule(tx: Tx, _ctx: RequestContext, rule: Doc): void {
  if (policiesWithRule(tx, rule.id).length) {
    throw inUse('FirewallRuleInUse', `Firewall rule ${rule.id} is being used.`);
  }
  tx.remove(FW_RULE, rule.id);
}

export const ruleInUnsharedConflict = (rule: Doc) =>
  fwaasError(409, 'FirewallRuleConflict',
    `Operation cannot be performed since firewall rule ${rule.id} is not shared and belongs to another project ${rule.project_id}.`);
