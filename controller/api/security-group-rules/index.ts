import type { RequestContext } from '../../auth/context.ts';
import { createRule, groupUsable, presentRule, removeRule, ruleVisible, GROUP_KIND } from '../../domain/security-group-rules.ts';
import type { Doc, ReadView } from '../../store/types.ts';
import { SecurityGroupRuleCreate } from '../../../schemas/api/security-group.ts';
import type { ApiPlugin } from '../context.ts';
import { registerResource, type ResourceDef } from '../resource.ts';

/** The rule's owner, the owner of its group, or an admin may delete it. */
const ruleWritable = (view: ReadView, ctx: RequestContext, rule: Doc) =>
  ctx.isAdmin || rule.project_id === ctx.projectId || groupUsable(ctx, view.get(GROUP_KIND, rule.security_group_id as string));

export const securityGroupRulesApi: ApiPlugin = (app, deps) => {
  const def: ResourceDef = {
    kind: 'security_group_rule',
    singular: 'security_group_rule',
    collection: 'security_group_rules',
    path: 'security-group-rules',
    attributes: [
      'id', 'project_id', 'tenant_id', 'security_group_id', 'direction', 'ethertype', 'protocol',
      'port_range_min', 'port_range_max', 'remote_ip_prefix', 'normalized_cidr', 'remote_group_id',
      'remote_address_group_id', 'description', 'belongs_to_default_sg', 'created_at', 'updated_at', 'revision_number',
    ],
    createSchema: SecurityGroupRuleCreate,
    quota: 'security_group_rule',
    tags: false,
    visible: ruleVisible,
    writable: ruleWritable,
    present: (view, _ctx, doc) => presentRule(view, doc),
    create: createRule,
    remove: removeRule,
  };
  registerResource(app, deps, def);
};
