import { ensureDefaultSecurityGroup, findDefaultSecurityGroup, presentSecurityGroup, securityGroupDomain } from '../../domain/security-groups.ts';
import { SecurityGroupCreate, SecurityGroupUpdate } from '../../../schemas/api/security-group.ts';
import type { ApiPlugin } from '../context.ts';
import { ensureDefaultOnList } from '../lazy-default.ts';
import { registerResource, type ResourceDef } from '../resource.ts';

// Like Neutron's get_security_groups: listing makes sure the default group of the project asked
// about (the project_id/tenant_id filter, else the caller's) exists. A member may only cause this
// for their own project. Writes only when the group is missing.

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
    beforeList: (store, ctx, query) => ensureDefaultOnList(def, store, ctx, query,
      (view, project) => findDefaultSecurityGroup(view, project) !== undefined, ensureDefaultSecurityGroup),
  };
  registerResource(app, deps, def);
};
