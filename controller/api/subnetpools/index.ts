import type { FastifyRequest } from 'fastify';
import { subnetPoolDomain, subnetPoolVisible } from '../../domain/subnetpools.ts';
import { badRequest } from '../../errors.ts';
import type { Doc } from '../../store/types.ts';
import { PrefixesBody, READ_ONLY_POOL_ATTRIBUTES, SubnetPoolCreate, SubnetPoolUpdate } from '../../../schemas/api/subnetpool.ts';
import { parseWith } from '../body.ts';
import type { ApiPlugin } from '../context.ts';
import { checkIfMatch, registerResource, writableDoc, type ResourceDef } from '../resource.ts';

// /v2.0/subnetpools (subnet_allocation, default-subnetpools) and its member actions
// add_prefixes / remove_prefixes (subnetpool-prefix-ops).

/** Neutron shows the three prefix lengths as text ("24"), though it reads them as integers. */
export function presentSubnetPool(doc: Doc): Record<string, unknown> {
  return {
    ...doc,
    default_prefixlen: String(doc.default_prefixlen),
    min_prefixlen: String(doc.min_prefixlen),
    max_prefixlen: String(doc.max_prefixlen),
  };
}

/** Neutron's get_operation_request_body: a non-empty list of prefixes, or 400. */
function prefixesOf(req: FastifyRequest): string[] {
  const body = req.body as { prefixes?: unknown } | null | undefined;
  if (body === null || typeof body !== 'object' || Array.isArray(body) || !Array.isArray(body.prefixes) || body.prefixes.length === 0) {
    throw badRequest('Request body contains invalid data');
  }
  return parseWith(PrefixesBody, body).prefixes;
}

export const subnetPoolsApi: ApiPlugin = (app, deps) => {
  const { store } = deps;
  const def: ResourceDef = {
    kind: 'subnetpool',
    singular: 'subnetpool',
    collection: 'subnetpools',
    path: 'subnetpools',
    // prefixes is not a filter in Neutron's attribute map.
    attributes: [
      'id', 'name', 'description', 'project_id', 'tenant_id', 'ip_version', 'default_prefixlen', 'min_prefixlen', 'max_prefixlen',
      'default_quota', 'shared', 'is_default', 'address_scope_id', 'created_at', 'updated_at', 'revision_number',
    ],
    sortAs: { default_prefixlen: Number, min_prefixlen: Number, max_prefixlen: Number },
    createSchema: SubnetPoolCreate,
    updateSchema: SubnetPoolUpdate,
    readOnlyOnUpdate: READ_ONLY_POOL_ATTRIBUTES,
    quota: 'subnetpool',
    visible: subnetPoolVisible,
    present: (_view, _ctx, doc) => presentSubnetPool(doc),
    create: subnetPoolDomain.create,
    update: subnetPoolDomain.update,
    remove: subnetPoolDomain.remove,
  };
  registerResource(app, deps, def);

  const docs = (summary: string) => ({ schema: { tags: ['subnetpools'], summary, body: PrefixesBody } });
  for (const op of ['add', 'remove'] as const) {
    const action = `${op}_prefixes` as const;
    app.put(`/v2.0/subnetpools/:id/${action}`, docs(op === 'add' ? 'Add prefixes to a subnet pool' : 'Remove prefixes from a subnet pool'), async (req) => {
      const { id } = req.params as { id: string };
      const ctx = req.ctx;
      const prefixes = prefixesOf(req);
      const { result } = await store.transact((tx) => {
        const pool = writableDoc(tx, def, ctx, id, action);
        checkIfMatch(req, pool);
        return op === 'add' ? subnetPoolDomain.addPrefixes(tx, ctx, pool, prefixes) : subnetPoolDomain.removePrefixes(tx, ctx, pool, prefixes);
      });
      return { prefixes: result.prefixes };
    });
  }
};
