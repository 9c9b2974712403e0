import type { RequestContext } from '../../auth/context.ts';
import { networkDomain, PROVIDER_ATTRS } from '../../domain/networks.ts';
import { hideFrom } from '../../domain/policy.ts';
import type { Doc, ReadView } from '../../store/types.ts';
import { NetworkCreate, NetworkUpdate } from '../../../schemas/api/network.ts';
import type { ApiPlugin } from '../context.ts';
import { registerResource, type ResourceDef } from '../resource.ts';

/** Members see their own networks, shared ones and external ones. */
export const networkVisible = (_view: ReadView, ctx: RequestContext, doc: Doc) =>
  ctx.isAdmin || doc.project_id === ctx.projectId || doc.shared === true || doc['router:external'] === true;

export function presentNetwork(view: ReadView, ctx: RequestContext, doc: Doc): Record<string, unknown> {
  const subnets = view.find('subnet', 'network_id', doc.id).map((s) => s.id);
  return hideFrom(ctx, { ...doc, subnets, availability_zones: ['nova'] }, PROVIDER_ATTRS);
}

export const networksApi: ApiPlugin = (app, deps) => {
  const domain = networkDomain(deps.config);
  const def: ResourceDef = {
    kind: 'network',
    singular: 'network',
    collection: 'networks',
    path: 'networks',
    attributes: [
      'id', 'name', 'description', 'project_id', 'tenant_id', 'admin_state_up', 'shared', 'router:external', 'mtu',
      'port_security_enabled', 'status', 'subnets', 'created_at', 'updated_at', 'revision_number',
      'provider:network_type', 'provider:physical_network', 'provider:segmentation_id', 'availability_zone_hints',
    ],
    createSchema: NetworkCreate,
    updateSchema: NetworkUpdate,
    quota: 'network',
    visible: networkVisible,
    present: presentNetwork,
    create: domain.create,
    update: domain.update,
    remove: domain.remove,
  };
  registerResource(app, deps, def);
};
