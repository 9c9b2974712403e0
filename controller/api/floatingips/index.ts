import type { RequestContext } from '../../auth/context.ts';
import { createFloatingIp, portDetails, deleteFloatingIp, updateFloatingIp } from '../../domain/floatingips.ts';
import { fipPortForwardings } from '../../domain/port-forwardings.ts';
import type { Doc, ReadView } from '../../store/types.ts';
import { FloatingIpCreate, FloatingIpUpdate } from '../../../schemas/api/floatingip.ts';
import type { ApiPlugin } from '../context.ts';
import { registerResource, type ResourceDef } from '../resource.ts';

export function presentFloatingIp(view: ReadView, _ctx: RequestContext, doc: Doc): Record<string, unknown> {
  const { floating_subnet_id: _subnet, port_forwardings: _pfs, ...row } = doc as Record<string, unknown>;
  return { ...row, port_details: portDetails(view, doc), port_forwardings: fipPortForwardings(doc), qos_network_policy_id: null };
}

export const floatingIpsApi: ApiPlugin = (app, deps) => {
  const def: ResourceDef = {
    kind: 'floatingip',
    singular: 'floatingip',
    collection: 'floatingips',
    path: 'floatingips',
    attributes: [
      'id', 'description', 'project_id', 'tenant_id', 'floating_ip_address', 'floating_network_id', 'port_id',
      'fixed_ip_address', 'router_id', 'status', 'qos_policy_id', 'created_at', 'updated_at', 'revision_number',
    ],
    createSchema: FloatingIpCreate,
    updateSchema: FloatingIpUpdate,
    quota: 'floatingip',
    present: presentFloatingIp,
    create: createFloatingIp,
    update: updateFloatingIp,
    remove: (tx, _ctx, fip) => deleteFloatingIp(tx, fip),
  };
  registerResource(app, deps, def);
};
