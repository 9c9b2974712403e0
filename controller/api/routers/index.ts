import type { FastifyRequest } from 'fastify';
import type { RequestContext } from '../../auth/context.ts';
import { addRouterInterface, removeRouterInterface } from '../../domain/router-interfaces.ts';
import { bumpRevision } from '../../domain/standard-attrs.ts';
import { changeExtraRoutes, createRouter, removeRouter, updateRouter } from '../../domain/routers.ts';
import { badRequest } from '../../errors.ts';
import type { Doc, ReadView } from '../../store/types.ts';
import { ExtraRoutesBody, RouterCreate, RouterInterfaceInfo, RouterUpdate } from '../../../schemas/api/router.ts';
import { parseWith } from '../body.ts';
import type { ApiPlugin } from '../context.ts';
import { checkIfMatch, registerResource, writableDoc, type ResourceDef } from '../resource.ts';

/** distributed and ha are admin-only to read (Neutron's get_router:distributed / get_router:ha). */
const ADMIN_ONLY_READ = ['distributed', 'ha'];

export function presentRouter(_view: ReadView, ctx: RequestContext, doc: Doc): Record<string, unknown> {
  const { gw_port_id: _gw, gateway_hosts: _hosts, ha_max_hosts: _max, ...row } = doc as Record<string, unknown>;
  if (!ctx.isAdmin) for (const attr of ADMIN_ONLY_READ) delete row[attr];
  return { ...row, availability_zones: ['nova'] };
}

function objectBody(req: FastifyRequest): Record<string, unknown> {
  const body = req.body;
  if (body === null || body === undefined || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Resource body required');
  return body as Record<string, unknown>;
}

export const routersApi: ApiPlugin = (app, deps) => {
  const { store } = deps;
  const haOpts = { defaultHa: deps.config.l3Ha, maxHosts: deps.config.maxL3AgentsPerRouter };
  const def: ResourceDef = {
    kind: 'router',
    singular: 'router',
    collection: 'routers',
    path: 'routers',
    attributes: [
      'id', 'name', 'description', 'project_id', 'tenant_id', 'admin_state_up', 'status', 'distributed', 'ha',
      'flavor_id', 'created_at', 'updated_at', 'revision_number', 'availability_zone_hints',
    ],
    createSchema: RouterCreate,
    updateSchema: RouterUpdate,
    quota: 'router',
    present: presentRouter,
    create: (tx, ctx, input) => createRouter(tx, ctx, input as RouterCreate, haOpts),
    update: (tx, ctx, current, input) => updateRouter(tx, ctx, current, input as RouterUpdate, haOpts),
    remove: removeRouter,
  };
  registerResource(app, deps, def);

  const base = '/v2.0/routers/:id';
  const docs = (summary: string) => ({ schema: { tags: ['routers'], summary } });

  for (const action of ['add_router_interface', 'remove_router_interface'] as const) {
    app.put(`${base}/${action}`, docs(action === 'add_router_interface' ? 'Add an interface to a router' : 'Remove an interface from a router'), async (req) => {
      const { id } = req.params as { id: string };
      const ctx = req.ctx;
      const info = parseWith(RouterInterfaceInfo, objectBody(req));
      const { result } = await store.transact((tx) => {
        const router = writableDoc(tx, def, ctx, id, action);
        const done = action === 'add_router_interface' ? addRouterInterface(tx, ctx, router, info) : removeRouterInterface(tx, ctx, router, info);
        bumpRevision(tx, 'router', router.id);
        return done;
      });
      return result;
    });
  }

  for (const op of ['add', 'remove'] as const) {
    app.put(`${base}/${op}_extraroutes`, docs(`${op === 'add' ? 'Add' : 'Remove'} extra routes atomically`), async (req) => {
      const { id } = req.params as { id: string };
      const ctx = req.ctx;
      const body = parseWith(ExtraRoutesBody, objectBody(req));
      const { result } = await store.transact((tx) => {
        const router = writableDoc(tx, def, ctx, id, `${op}_extraroutes`);
        checkIfMatch(req, router);
        return changeExtraRoutes(tx, ctx, router, body.router.routes, op);
      });
      const view = store.view();
      return { router: presentRouter(view, ctx, view.get('router', result.id) ?? result) };
    });
  }
};

