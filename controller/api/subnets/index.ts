import { subnetDomain, subnetVisible, subnetWritable } from '../../domain/subnets.ts';
import { SubnetCreate, SubnetUpdate } from '../../../schemas/api/subnet.ts';
import { matchesValue } from '../collection.ts';
import type { ApiPlugin } from '../context.ts';
import { registerResource, type ResourceDef } from '../resource.ts';

export const subnetsApi: ApiPlugin = (app, deps) => {
  const def: ResourceDef = {
    kind: 'subnet',
    singular: 'subnet',
    collection: 'subnets',
    path: 'subnets',
    attributes: [
      'id', 'name', 'description', 'project_id', 'tenant_id', 'network_id', 'ip_version', 'cidr', 'gateway_ip',
      'enable_dhcp', 'ipv6_ra_mode', 'ipv6_address_mode', 'subnetpool_id', 'segment_id', 'dns_nameservers',
      'created_at', 'updated_at', 'revision_number',
    ],
    createSchema: SubnetCreate,
    updateSchema: SubnetUpdate,
    quota: 'subnet',
    // Neutron filters subnets on their network's `shared`, which a subnet does not show.
    customFilters: { shared: (row, wanted, view) => wanted.some((w) => matchesValue(view?.get('network', row.network_id as string)?.shared === true, w)) },
    visible: subnetVisible,
    writable: subnetWritable,
    present: (_view, _ctx, doc) => ({ ...doc }),
    create: subnetDomain.create,
    update: subnetDomain.update,
    remove: subnetDomain.remove,
  };
  registerResource(app, deps, def);
};
