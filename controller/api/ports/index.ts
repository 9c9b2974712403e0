import { createPort, portVisible, presentPort, removePortViaApi, updatePort } from '../../domain/ports.ts';
import { PortCreate, PortUpdate } from '../../../schemas/api/port.ts';
import type { Row } from '../collection.ts';
import { badRequest } from '../../errors.ts';
import type { ApiPlugin } from '../context.ts';
import { registerResource, type ResourceDef } from '../resource.ts';

interface FixedIp { subnet_id: string; ip_address: string }

/**
 * Neutron's `fixed_ips=ip_address=X`, `fixed_ips=subnet_id=Y` and
 * `fixed_ips=ip_address_substr=Z` (repeatable): a port matches when one of its addresses
 * satisfies every kind of constraint given (any value within a kind).
 */
export function fixedIpsFilter(row: Row, wanted: string[]): boolean {
  const want: Record<string, string[]> = {};
  for (const w of wanted) {
    const at = w.indexOf('=');
    const key = at < 0 ? '' : w.slice(0, at);
    if (!['ip_address', 'subnet_id', 'ip_address_substr'].includes(key)) {
      throw badRequest(`Invalid input for fixed_ips. Reason: '${w}' is not of the form ip_address=<ip>, subnet_id=<id> or ip_address_substr=<text>.`);
    }
    (want[key] ??= []).push(w.slice(at + 1));
  }
  return (row.fixed_ips as FixedIp[]).some((f) =>
    (!want.ip_address || want.ip_address.includes(f.ip_address)) &&
    (!want.subnet_id || want.subnet_id.includes(f.subnet_id)) &&
    (!want.ip_address_substr || want.ip_address_substr.some((s) => f.ip_address.includes(s))));
}

export const portsApi: ApiPlugin = (app, deps) => {
  const def: ResourceDef = {
    kind: 'port',
    singular: 'port',
    collection: 'ports',
    path: 'ports',
    attributes: [
      'id', 'name', 'description', 'project_id', 'tenant_id', 'network_id', 'admin_state_up', 'mac_address',
      'device_id', 'device_owner', 'status', 'security_groups', 'port_security_enabled', 'ip_allocation',
      'binding:host_id', 'binding:vif_type', 'binding:vnic_type', 'created_at', 'updated_at', 'revision_number',
    ],
    customFilters: { fixed_ips: fixedIpsFilter },
    createSchema: PortCreate,
    updateSchema: PortUpdate,
    quota: 'port',
    visible: portVisible,
    writable: portVisible,
    present: presentPort,
    create: (tx, ctx, input) => createPort(tx, ctx, input, { baseMac: deps.config.baseMac, skipQuota: true }),
    update: updatePort,
    remove: removePortViaApi,
  };
  registerResource(app, deps, def);
};
