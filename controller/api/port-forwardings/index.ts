import {
  createPortForwarding, deletePortForwarding, findPortForwarding, floatingIpFor, presentPortForwarding,
  storedPortForwardings, updatePortForwarding,
} from '../../domain/port-forwardings.ts';
import { PortForwardingCreate, PortForwardingUpdate } from '../../../schemas/api/port-forwarding.ts';
import { parseWith, unwrapBody } from '../body.ts';
import { filterRows, paginate, selectFields, type Query, type Row } from '../collection.ts';
import type { ApiPlugin } from '../context.ts';
import { baseUrl, checkIfMatch } from '../resource.ts';

// Floating IP port forwardings: a sub-resource of a floating IP (Neutron's floating-ip-port-forwarding),
// /v2.0/floatingips/{floatingip_id}/port_forwardings[/{id}]. ResourceDef has no parent path, so
// the routes are written here with the same helpers (filters, fields, sort, paging, NeutronError).
// The forwardings are stored inside the floating IP document (domain/port-forwardings.ts); If-Match
// compares with the floating IP's revision_number.

export const PORT_FORWARDINGS_PATH = 'floatingips/:floatingip_id/port_forwardings';

const spec = {
  kind: 'port_forwarding',
  collection: 'port_forwardings',
  attributes: [
    'id', 'protocol', 'internal_ip_address', 'internal_port', 'internal_port_id', 'external_port',
    'internal_port_range', 'external_port_range', 'description',
  ],
} as const;

export const portForwardingsApi: ApiPlugin = (app, { store }) => {
  const base = `/v2.0/${PORT_FORWARDINGS_PATH}`;
  const docs = (summary: string) => ({ schema: { tags: ['port_forwardings'], summary } });
  type Params = { floatingip_id: string; id: string };

  app.get(base, docs('List port forwardings of a floating IP'), async (req) => {
    const { floatingip_id } = req.params as Params;
    const query = req.query as Query;
    const fip = floatingIpFor(store.view(), req.ctx, floatingip_id);
    const rows: Row[] = storedPortForwardings(fip).map(presentPortForwarding);
    const page = paginate(filterRows(rows, query, spec), query, spec, baseUrl(req));
    const body: Row = { port_forwardings: page.rows.map((r) => selectFields(r, query)) };
    if (page.links.length) body.port_forwardings_links = page.links;
    return body;
  });

  app.get(`${base}/:id`, docs('Show a port forwarding'), async (req) => {
    const { floatingip_id, id } = req.params as Params;
    const fip = floatingIpFor(store.view(), req.ctx, floatingip_id);
    return { port_forwarding: selectFields(presentPortForwarding(findPortForwarding(fip, id)), req.query as Query) };
  });

  app.post(base, docs('Create a port forwarding'), async (req, reply) => {
    const { floatingip_id } = req.params as Params;
    const { items } = unwrapBody(req.body, 'port_forwarding');
    const input = parseWith(PortForwardingCreate, items[0]);
    const { result } = await store.transact((tx) => createPortForwarding(tx, req.ctx, floatingip_id, input));
    reply.code(201);
    return { port_forwarding: presentPortForwarding(result) };
  });

  app.put(`${base}/:id`, docs('Update a port forwarding'), async (req) => {
    const { floatingip_id, id } = req.params as Params;
    const { items } = unwrapBody(req.body, 'port_forwarding');
    const input = parseWith(PortForwardingUpdate, items[0]);
    const { result } = await store.transact((tx) => {
      checkIfMatch(req, floatingIpFor(tx, req.ctx, floatingip_id));
      return updatePortForwarding(tx, req.ctx, floatingip_id, id, input);
    });
    return { port_forwarding: presentPortForwarding(result) };
  });

  app.delete(`${base}/:id`, docs('Delete a port forwarding'), async (req, reply) => {
    const { floatingip_id, id } = req.params as Params;
    await store.transact((tx) => {
      checkIfMatch(req, floatingIpFor(tx, req.ctx, floatingip_id));
      deletePortForwarding(tx, req.ctx, floatingip_id, id);
    });
    return reply.code(204).send();
  });
};
