import type { RequestContext } from '../auth/context.ts';
import { conflict, inUse } from '../errors.ts';
import type { Doc, ReadView, Tx } from '../store/types.ts';
import type { SecurityGroupCreate, SecurityGroupUpdate } from '../../schemas/api/security-group.ts';
import { owningProject } from './policy.ts';
import { checkQuota } from './quotas.ts';
import { GROUP_KIND, RULE_KIND, groupRules, presentRule, ruleDoc, touchGroup } from './security-group-rules.ts';
import { revise, standard } from './standard-attrs.ts';

// Security groups. Every project has one group named 'default' (flagged `is_default`, which
// is not shown), created lazily like Neutron does: when the project first lists or creates
// security groups, and when one of its ports needs it. The default group lets members of
// the group talk to each other and everything out; a new group lets everything out.

export const DEFAULT_GROUP_NAME = 'default';
const ETHERTYPES = ['IPv4', 'IPv6'] as const;

/** The project's default group, if it exists yet. */
export function findDefaultSecurityGroup(view: ReadView, projectId: string): Doc | undefined {
  return view.find(GROUP_KIND, 'project_id', projectId).find((g) => g.is_default === true);
}

function newGroup(projectId: string, name: string, description: string, stateful: boolean, tags: string[], isDefault: boolean): Doc {
  return { ...standard(projectId), name, description, stateful, tags: [...new Set(tags)], is_default: isDefault };
}

/** Returns the project's `default` group, creating it (with its four rules) when missing. */
export function ensureDefaultSecurityGroup(tx: Tx, projectId: string): Doc {
  const existing = findDefaultSecurityGroup(tx, projectId);
  if (existing) return existing;
  const group = newGroup(projectId, DEFAULT_GROUP_NAME, 'Default security group', true, [], true);
  tx.put(GROUP_KIND, group);
  for (const ethertype of ETHERTYPES) {
    tx.put(RULE_KIND, ruleDoc(projectId, group.id, { direction: 'ingress', ethertype, remote_group_id: group.id }));
    tx.put(RULE_KIND, ruleDoc(projectId, group.id, { direction: 'egress', ethertype }));
  }
  return group;
}

/** Ports bound to a group (the ports engineer files them under index 'security_group'). */
function portsUsing(view: ReadView, groupId: string): Doc[] {
  return view.find('port', 'security_group', groupId);
}

const groupInUse = (id: string) => inUse('SecurityGroupInUse', `Security Group ${id} in use.`);

function checkNameNotDefault(name: string | undefined): void {
  if (name !== undefined && name.toLowerCase() === DEFAULT_GROUP_NAME) {
    throw conflict('SecurityGroupDefaultAlreadyExists', 'Default security group already exists.');
  }
}

export function presentSecurityGroup(view: ReadView, _ctx: RequestContext, doc: Doc): Record<string, unknown> {
  const { is_default: _hidden, ...rest } = doc;
  return { ...rest, shared: false, security_group_rules: groupRules(view, doc.id).map((r) => presentRule(view, r)) };
}

export const securityGroupDomain = {
  create(tx: Tx, ctx: RequestContext, input: SecurityGroupCreate): Doc {
    checkNameNotDefault(input.name);
    const project = owningProject(ctx, input);
    ensureDefaultSecurityGroup(tx, project);
    const group = newGroup(project, input.name ?? '', input.description ?? '', input.stateful ?? true, input.tags ?? [], false);
    tx.put(GROUP_KIND, group);
    for (const ethertype of ETHERTYPES) tx.put(RULE_KIND, ruleDoc(project, group.id, { direction: 'egress', ethertype }));
    // Its egress rules count against the rule quota, as Neutron reserves them with the group.
    checkQuota(tx, project, 'security_group_rule');
    return group;
  },

  update(tx: Tx, _ctx: RequestContext, current: Doc, input: SecurityGroupUpdate): Doc {
    checkNameNotDefault(input.name);
    if (current.is_default === true && input.name !== undefined) {
      throw inUse('SecurityGroupCannotUpdateDefault', 'Updating default security group not allowed.');
    }
    if (input.stateful !== undefined && input.stateful !== current.stateful && portsUsing(tx, current.id).length) {
      throw groupInUse(current.id);
    }
    const next = revise(current, input as Partial<Doc>);
    tx.put(GROUP_KIND, next);
    return next;
  },

  remove(tx: Tx, ctx: RequestContext, group: Doc): void {
    if (portsUsing(tx, group.id).length) throw groupInUse(group.id);
    if (group.is_default === true && !ctx.isAdmin) {
      throw inUse('SecurityGroupCannotRemoveDefault', 'Insufficient rights for removing default security group.');
    }
    for (const rule of tx.find(RULE_KIND, 'security_group_id', group.id)) tx.remove(RULE_KIND, rule.id);
    // Rules of other groups that point at this one go with it (Neutron's ON DELETE CASCADE).
    const touched = new Set<string>();
    for (const rule of tx.find(RULE_KIND, 'remote_group_id', group.id)) {
      if (rule.security_group_id === group.id) continue;
      tx.remove(RULE_KIND, rule.id);
      touched.add(rule.security_group_id as string);
    }
    tx.remove(GROUP_KIND, group.id);
    for (const id of touched) touchGroup(tx, id);
  },
};
