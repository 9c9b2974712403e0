import type { RequestContext } from '../auth/context.ts';
import { inUse, notFound } from '../errors.ts';
import type { Doc, ReadView, Tx } from '../store/types.ts';
import type { FirewallGroupCreate, FirewallGroupUpdate } from '../../schemas/api/firewall.ts';
import {
  cannotRemoveDefault, checkDefaultGroupUpdate, checkGroupNameNotReserved, ensureDefaultFirewallGroup, isDefaultFirewallGroup,
} from './fwaas-defaults.ts';
import { removeFirewallPolicy } from './fwaas-policies.ts';
import { FIREWALL_PORT_SCOPE } from './fwaas-ports.ts';
import { checkSharedAllowed, FW_GROUP, FW_POLICY, fwaasError, fwaasVisible } from './fwaas-rules.ts';
import { owningProject } from './policy.ts';
import { portVisible } from './ports.ts';
import { standard, revise } from './standard-attrs.ts';

// FWaaS v2 firewall groups: an ingress and an egress policy applied to router interface ports,
// with the checks of neutron-fwaas's FirewallPluginV2 (_validate_firewall_policies_for_firewall_group,
// _validate_ports_for_firewall_group, _validate_if_firewall_group_on_ports). A port is in at most
// one group, held as a claim (FIREWALL_PORT_SCOPE) so the store refuses a second one. Weft filters
// on routers only (the L3 agent's iptables), so a VM port is "not supported by the driver", as
// Neutron says when no L2 firewall driver is configured. Every project has neutron-fwaas's default
// group (fwaas-defaults.ts), made before its first other group; Neutron puts new VM ports in it,
// which Weft does not filter with FWaaS, so it holds only the router ports a user adds.

/** Neutron's ROUTER_INTERFACE_OWNERS: the ports a firewall group may hold. */
const ROUTER_INTERFACE_OWNERS: readonly string[] = [
  'network:router_interface', 'network:router_interface_distributed', 'network:ha_router_replicated_interface',
];
/** The name neutron-fwaas reports in FirewallGroupPortNotSupported. */
const DRIVER_NAME = 'weft-l3-iptables';

const pyList = (ids: readonly string[]) => `[${ids.map((i) => `'${i}'`).join(', ')}]`;

/**
 * Status, computed when shown (Weft keeps no per-group state from agents): INACTIVE without ports
 * or without any policy (neutron-fwaas does not send such a group to agents), DOWN when
 * admin_state_up is false, ERROR when a router holding one of its ports is in ERROR, else ACTIVE
 * (routers go ACTIVE once their agent has applied them, iptables included).
 */
export function firewallGroupStatus(view: ReadView, group: Doc): string {
  const ports = group.ports as string[];
  if (!ports.length || (!group.ingress_firewall_policy_id && !group.egress_firewall_policy_id)) return 'INACTIVE';
  if (group.admin_state_up !== true) return 'DOWN';
  for (const id of ports) {
    const routerId = view.get('port', id)?.device_id as string | undefined;
    if (routerId && view.get('router', routerId)?.status === 'ERROR') return 'ERROR';
  }
  return 'ACTIVE';
}

export function presentFirewallGroup(view: ReadView, _ctx: RequestContext, doc: Doc): Record<string, unknown> {
  return { ...doc, ports: [...(doc.ports as string[])], status: firewallGroupStatus(view, doc) };
}

/** Each policy named exists for the caller, and is the group's project's or shared (FirewallPolicyConflict). */
function checkPolicies(view: ReadView, ctx: RequestContext, project: string, input: FirewallGroupUpdate): void {
  for (const id of [input.ingress_firewall_policy_id, input.egress_firewall_policy_id]) {
    if (!id) continue;
    const policy = view.get(FW_POLICY, id);
    if (!policy || !fwaasVisible(view, ctx, policy)) throw notFound(FW_POLICY, id);
    if (policy.project_id !== project && policy.shared !== true) {
      throw fwaasError(404, 'FirewallPolicyConflict',
        `Operation cannot be performed since firewall policy ${id} for your project could not be found. Please confirm if the firewall policy exists and is shared.`);
    }
  }
}

/** Router interface ports the caller can see, not in another group. */
function checkPorts(view: ReadView, ctx: RequestContext, ports: readonly string[], groupId: string): void {
  for (const id of ports) {
    const port = view.get('port', id);
    if (!port || !portVisible(view, ctx, port)) throw notFound('port', id);
    const owner = String(port.device_owner ?? '');
    if (ROUTER_INTERFACE_OWNERS.includes(owner)) continue;
    if (owner.startsWith('compute:')) {
      throw fwaasError(409, 'FirewallGroupPortNotSupported', `Port ${id} is not supported by firewall driver '${DRIVER_NAME}'.`);
    }
    throw fwaasError(409, 'FirewallGroupPortInvalid', `Port ${id} of firewall group is invalid.`);
  }
  const taken = ports.filter((id) => {
    const owner = view.claimOwner(FIREWALL_PORT_SCOPE, id);
    return owner !== undefined && owner !== groupId;
  });
  if (taken.length) {
    throw inUse('FirewallGroupPortInUse', `Port(s) ${pyList(taken)} provided already associated with other firewall group(s).`);
  }
}

function claimPorts(tx: Tx, groupId: string, ports: readonly string[]): void {
  for (const id of ports) {
    if (!tx.claim(FIREWALL_PORT_SCOPE, id, groupId)) {
      throw inUse('FirewallGroupPortInUse', `Port(s) ${pyList([id])} provided already associated with other firewall group(s).`);
    }
  }
}

export function createFirewallGroup(tx: Tx, ctx: RequestContext, input: FirewallGroupCreate): Doc {
  checkSharedAllowed(ctx, input.shared, false, 'create_firewall_group');
  const project = owningProject(ctx, input);
  const { tags: _none, ...base } = standard(project);
  const ports = input.ports ?? [];
  checkPolicies(tx, ctx, project, input);
  checkPorts(tx, ctx, ports, base.id);
  checkGroupNameNotReserved(input.name);
  // Made in the same transaction: a refused create leaves no default group behind.
  ensureDefaultFirewallGroup(tx, project);
  claimPorts(tx, base.id, ports);
  const doc: Doc = {
    ...base,
    name: input.name ?? '',
    description: input.description ?? '',
    admin_state_up: input.admin_state_up ?? true,
    shared: input.shared ?? false,
    ports,
    ingress_firewall_policy_id: input.ingress_firewall_policy_id ?? null,
    egress_firewall_policy_id: input.egress_firewall_policy_id ?? null,
  };
  tx.put(FW_GROUP, doc);
  return doc;
}

export function updateFirewallGroup(tx: Tx, ctx: RequestContext, current: Doc, input: FirewallGroupUpdate): Doc {
  checkSharedAllowed(ctx, input.shared, current.shared === true, 'update_firewall_group');
  checkPolicies(tx, ctx, current.project_id as string, input);
  if (input.ports !== undefined) checkPorts(tx, ctx, input.ports, current.id);
  // After the plugin's checks of policies and ports, as neutron-fwaas's DB layer makes these.
  checkGroupNameNotReserved(input.name);
  checkDefaultGroupUpdate(ctx, current, input);
  if (input.ports !== undefined) {
    const wanted = new Set(input.ports);
    for (const id of current.ports as string[]) if (!wanted.has(id)) tx.release(FIREWALL_PORT_SCOPE, id);
    claimPorts(tx, current.id, input.ports);
  }
  const next = revise(current, input as Partial<Doc>);
  tx.put(FW_GROUP, next);
  return next;
}

/**
 * Like neutron-fwaas, a group that still holds ports is in use. Only an admin deletes a default
 * group, and its policies go with it (their rules stay, as neutron-fwaas deletes only the
 * policies' rule associations); a policy another group uses makes the whole delete fail.
 */
export function removeFirewallGroup(tx: Tx, ctx: RequestContext, group: Doc): void {
  if ((group.ports as string[]).length) throw inUse('FirewallGroupInUse', `Firewall group ${group.id} is still active.`);
  if (isDefaultFirewallGroup(group) && !ctx.isAdmin) throw cannotRemoveDefault();
  tx.remove(FW_GROUP, group.id);
  if (!isDefaultFirewallGroup(group)) return;
  const policies = new Set([group.ingress_firewall_policy_id, group.egress_firewall_policy_id].filter((id): id is string => typeof id === 'string'));
  for (const id of policies) {
    const policy = tx.get(FW_POLICY, id);
    if (policy) removeFirewallPolicy(tx, ctx, policy);
  }
}
