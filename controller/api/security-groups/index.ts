import type { RequestContext } from '../../auth/context.ts';
import { ensureDefaultSecurityGroup, findDefaultSecurityGroup, presentSecurityGroup, securityGroupDomain } from '../../domain/security-groups.ts';
import type { Store } from '../../store/types.ts';
import { SecurityGroupCreate, SecurityGroupUpdate } from '../../../schemas/api/security-group.ts';
import { projectId as projectIdSchema } from '../../../schemas/common.ts';
import { filterRows, paginate, values, type Query } from '../collection.ts';
import type { ApiPlugin } from '../context.ts';
import { ownerOrAdmin, registerResource, type ResourceDef } from '../resource.ts';

/**
 * Like Neutron's get_security_groups: listing makes sure the default group of the project
 * asked about (the project_id/tenant_id filter, else the caller's) exists. A member may only
 * cause this for their own project. Writes only when the group is missing.
 */
async function ensureDefaultOnList(def: ResourceDef, store: Store, ctx: RequestContext, query: Query): Promise<void> {
  const asked = values(query.project_id)[0] ?? values(query.tenant_id)[0] ?? ctx.projectId;
  if (!asked || !projectIdSchema.safeParse(asked).success) return;
  if (asked !== ctx.projectId && !ctx.isAdmin) return;
  const view = store.view();
  if (findDefaultSecurityGroup(view, asked)) return;
  // Check the query first (bad filters, sort keys, limits and markers throw) so that a
  // rejected request writes nothing.
  const rows = view.list(def.kind).filter((d) => ownerOrAdmin(view, ctx, d)).map((d) => def.present(view, ctx, d));
  paginate(filterRows(rows, query, def), query, { ...def, kind: def.kind }, '');
  await store.transact((tx) => ensureDefaultSecurityGroup(tx, asked));
}

export const securityGroupsApi: ApiPlugin = (app, deps) => {
  const def: ResourceDef = {
    kind: 'security_group',
    singular: 'security_group',
    collection: 'security_groups',
    path: 'security-groups',
    attributes: [
      'id', 'name', 'description', 'project_id', 'tenant_id', 'stateful', 'shared',
      'created_at', 'updated_at', 'revision_number',
    ],
    createSchema: SecurityGroupCreate,
    updateSchema: SecurityGroupUpdate,
    quota: 'security_group',
    present: presentSecurityGroup,
    create: securityGroupDomain.create,
    update: securityGroupDomain.update,
    remove: securityGroupDomain.remove,
    beforeList: (store, ctx, query) => ensureDefaultOnList(def, store, ctx, query),
  };
  registerResource(app, deps, def);
};
