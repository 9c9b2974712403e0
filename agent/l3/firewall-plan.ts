// The firewall part of a router's plan: for each of the router's interface legs on this host that
// is in a firewall group, the group's admin state and the enabled rules of its ingress and egress
// policies, in policy order. PURE: no I/O. agent/l3/firewall-rules.ts compiles it.
import type { HostModel } from '../model/host-model.ts';
import type { FirewallRuleView } from '../../schemas/agent/view.ts';
import type { FirewallAction, FirewallPortSpec, FirewallRuleSpec } from './firewall-rules.ts';

/** A router interface leg: the port and its interface in the namespace ('qr-...'). */
export interface RouterLeg {
  portId: string;
  interfaceName: string;
}

/** '80' -> [80, 80], '1000:2000' -> [1000, 2000]; the compiler rejects what does not parse (NaN). */
function portRange(text: string | null): [number, number] | null {
  if (text === null) return null;
  const [lo, hi = lo] = text.split(':').map((p) => (/^\d+$/.test(p) ? Number(p) : Number.NaN));
  return [lo, hi];
}

function ruleSpec(rule: FirewallRuleView): FirewallRuleSpec {
  return {
    id: rule.id,
    ipVersion: rule.ip_version,
    protocol: rule.protocol,
    source: rule.source_ip_address,
    destination: rule.destination_ip_address,
    sourcePort: portRange(rule.source_port),
    destinationPort: portRange(rule.destination_port),
    action: rule.action as FirewallAction,
  };
}

/**
 * The enabled rules of a policy in order; null when the group names no policy. A named policy (or
 * rule) the model does not hold yet counts as empty, so the direction fails closed until it comes.
 */
function policyRules(model: HostModel, policyId: string | null): FirewallRuleSpec[] | null {
  if (policyId === null) return null;
  const policy = model.get('firewall_policy', policyId);
  const out: FirewallRuleSpec[] = [];
  for (const id of policy?.firewall_rules ?? []) {
    const rule = model.get('firewall_rule', id);
    if (rule?.enabled) out.push(ruleSpec(rule));
  }
  return out;
}

/** The firewall of one router's legs, sorted by interface name; legs in no group are left out. */
export function routerFirewallPlan(model: HostModel, legs: readonly RouterLeg[]): FirewallPortSpec[] {
  const out: FirewallPortSpec[] = [];
  for (const leg of legs) {
    // The API keeps a port in one group; should the model ever hold two, the lowest id decides.
    const groupId = [...model.firewallGroupsOfPort(leg.portId)].sort()[0];
    const group = groupId === undefined ? undefined : model.get('firewall_group', groupId);
    if (!group) continue;
    out.push({
      portId: leg.portId,
      interfaceName: leg.interfaceName,
      groupId: group.id,
      adminStateUp: group.admin_state_up,
      ingress: policyRules(model, group.ingress_firewall_policy_id),
      egress: policyRules(model, group.egress_firewall_policy_id),
    });
  }
  return out.sort((a, b) => (a.interfaceName < b.interfaceName ? -1 : a.interfaceName > b.interfaceName ? 1 : 0));
}
