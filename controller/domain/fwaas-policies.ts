import type { RequestContext } from '../auth/context.ts';
import { inUse, notFound } from '../errors.ts';
import type { Doc, ReadView, Tx } from '../store/types.ts';
import type { FirewallPolicyCreate, FirewallPolicyUpdate, FirewallRuleInfo } from '../../schemas/api/firewall.ts';
import { uuid } from '../../schemas/common.ts';
import { checkPolicyNameNotReserved, checkPolicyUpdatable } from './fwaas-defaults.ts';
import {
  checkSharedAllowed, FW_GROUP, FW_POLICY, FW_RULE, fwaasError, fwaasVisible, ruleInUnsharedConflict,
} from './fwaas-rules.ts';
import { owningProject } from './policy.ts';
import { newId, revise, standard } from './standard-attrs.ts';

// FWaaS v2 firewall policies: an ordered list of rule ids (the order is the evaluation order),
// `audited` (reset to false by every change of the policy or of one of its rules unless the
// change sets it), and the insert_rule / remove_rule member actions, with the checks and error
// types of neutron-fwaas's firewall_db_v2.py. The default group's two policies (fwaas-defaults.ts)
// cannot be updated, and their names cannot be taken.

const isUuid = (s: string) => uuid.safeParse(s).success;
const ruleNotFound = (id: string) => notFound(FW_RULE, id);

/** Groups that use the policy in either direction. */
export function groupsUsingPolicy(view: ReadView, policyId: string): Doc[] {
  const out = new Map<string, Doc>();
  for (const index of ['ingress_firewall_policy_id', 'egress_firewall_policy_id']) {
    for (const g of view.find(FW_GROUP, index, policyId)) out.set(g.id, g);
  }
  return [...out.values()];
}

/** A rule the caller may reference, or FirewallRuleNotFound. */
function visibleRule(view: ReadView, ctx: RequestContext, id: string): Doc {
  const rule = view.get(FW_RULE, id);
  if (!rule || !fwaasVisible(view, ctx, rule)) throw ruleNotFound(id);
  return rule;
}

/**
 * _check_rules_for_policy_is_valid: every rule exists; a shared policy takes only shared rules
 * (FirewallRuleSharingConflict, a NotFound in Neutron); an unshared rule must be the policy's
 * project's (FirewallRuleConflict).
 */
function checkRulesForPolicy(view: ReadView, ctx: RequestContext, policy: { id: string; project_id: string; shared: boolean }, ruleIds: readonly string[]): void {
  for (const id of ruleIds) {
    const rule = visibleRule(view, ctx, id);
    if (policy.shared && rule.shared !== true) {
      throw fwaasError(404, 'FirewallRuleSharingConflict',
        `Operation cannot be performed since firewall policy ${policy.id} could not find the firewall rule ${id}. Please confirm if the firewall rule exists and is shared.`);
    }
    if (rule.shared !== true && rule.project_id !== policy.project_id) throw ruleInUnsharedConflict(rule);
  }
}

export function presentFirewallPolicy(_view: ReadView, _ctx: RequestContext, doc: Doc): Record<string, unknown> {
  return { ...doc, firewall_rules: [...(doc.firewall_rules as string[])] };
}

export function createFirewallPolicy(tx: Tx, ctx: RequestContext, input: FirewallPolicyCreate): Doc {
  checkSharedAllowed(ctx, input.shared, false, 'create_firewall_policy');
  const project = owningProject(ctx, input);
  checkPolicyNameNotReserved(input.name);
  const { tags: _none, ...base } = standard(project, newId());
  const shared = input.shared ?? false;
  const rules = input.firewall_rules ?? [];
  checkRulesForPolicy(tx, ctx, { id: base.id, project_id: project, shared }, rules);
  const doc: Doc = {
    ...base,
    name: input.name ?? '',
    description: input.description ?? '',
    shared,
    firewall_rules: rules,
    audited: input.audited ?? false,
  };
  tx.put(FW_POLICY, doc);
  return doc;
}

export function updateFirewallPolicy(tx: Tx, ctx: RequestContext, current: Doc, input: FirewallPolicyUpdate): Doc {
  checkSharedAllowed(ctx, input.shared, current.shared === true, 'update_firewall_policy');
  checkPolicyUpdatable(current);
  checkPolicyNameNotReserved(input.name);
  const project = current.project_id as string;
  if (input.shared === false && groupsUsingPolicy(tx, current.id).some((g) => g.project_id !== project)) {
    throw inUse('FirewallPolicyInUse', `Firewall policy ${current.id} is being used.`);
  }
  const shared = input.shared ?? (current.shared === true);
  if (input.firewall_rules !== undefined) {
    checkRulesForPolicy(tx, ctx, { id: current.id, project_id: project, shared }, input.firewall_rules);
  } else if (input.shared === true) {
    for (const id of current.firewall_rules as string[]) {
      if (tx.get(FW_RULE, id)?.shared !== true) {
        throw fwaasError(409, 'FirewallPolicySharingConflict',
          `Operation cannot be performed. Before sharing firewall policy ${current.id}, share associated firewall rule ${id}.`);
      }
    }
  }
  const next = revise(current, { ...input, audited: input.audited ?? false } as Partial<Doc>);
  tx.put(FW_POLICY, next);
  return next;
}

export function removeFirewallPolicy(tx: Tx, _ctx: RequestContext, policy: Doc): void {
  if (groupsUsingPolicy(tx, policy.id).length) throw inUse('FirewallPolicyInUse', `Firewall policy ${policy.id} is being used.`);
  tx.remove(FW_POLICY, policy.id);
}

const infoMissing = () => fwaasError(400, 'FirewallRuleInfoMissing', 'Missing rule info argument for insert/remove rule operation.');
const notInPolicy = (ruleId: string, policyId: string) => fwaasError(400, 'FirewallRuleNotAssociatedWithPolicy',
  `Firewall rule ${ruleId} is not associated with firewall policy ${policyId}.`);

/** The rule id of an insert_rule/remove_rule body (_validate_insert_remove_rule_request). */
function ruleIdOf(info: FirewallRuleInfo): string {
  const id = info.firewall_rule_id;
  if (id === undefined) throw infoMissing();
  if (!isUuid(id)) throw ruleNotFound(id);
  return id.toLowerCase();
}

/**
 * insert_rule: before `insert_before`, else after `insert_after` (insert_before wins when both are
 * given and non-empty), else at the top. The rule may not already be in the policy.
 */
export function insertFirewallRule(tx: Tx, ctx: RequestContext, policy: Doc, info: FirewallRuleInfo): Doc {
  const ruleId = ruleIdOf(info);
  const rules = [...(policy.firewall_rules as string[])];
  if (rules.includes(ruleId)) {
    throw fwaasError(409, 'FirewallRuleAlreadyAssociated',
      `Operation cannot be performed since firewall rule ${ruleId} is already associated with firewall policy ${policy.id}.`);
  }
  const rule = visibleRule(tx, ctx, ruleId);
  if (rule.shared !== true && rule.project_id !== policy.project_id) throw ruleInUnsharedConflict(rule);
  const before = info.insert_before || undefined;
  const reference = before ?? (info.insert_after || undefined);
  let position = 0;
  if (reference !== undefined) {
    const at = rules.indexOf(reference.toLowerCase());
    if (at < 0) throw notInPolicy(reference, policy.id);
    position = before !== undefined ? at : at + 1;
  }
  rules.splice(position, 0, ruleId);
  const next = revise(policy, { firewall_rules: rules, audited: false });
  tx.put(FW_POLICY, next);
  return next;
}

export function removeFirewallRuleFromPolicy(tx: Tx, ctx: RequestContext, policy: Doc, info: FirewallRuleInfo): Doc {
  const ruleId = ruleIdOf(info);
  visibleRule(tx, ctx, ruleId);
  const rules = policy.firewall_rules as string[];
  if (!rules.includes(ruleId)) throw notInPolicy(ruleId, policy.id);
  const next = revise(policy, { firewall_rules: rules.filter((r) => r !== ruleId), audited: false });
  tx.put(FW_POLICY, next);
  return next;
}

