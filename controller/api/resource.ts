import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { RequestContext } from '../auth/context.ts';
import { checkQuota } from '../domain/quotas.ts';
import { revise } from '../domain/standard-attrs.ts';
import { badRequest, forbidden, notFound, preconditionFailed } from '../errors.ts';
import type { Doc, ReadView, Tx } from '../store/types.ts';
import type { Store } from '../store/types.ts';
import { parseWith, unwrapBody } from './body.ts';
import { MODEL_INDEXES } from '../domain/indexes.ts';
import { filterRows, paginate, selectFields, values, type CollectionSpec, type CustomFilter, type Query, type Row } from './collection.ts';
import type { ApiDeps } from './context.ts';
import { tag as tagSchema, tags as tagsSchema } from '../../schemas/common.ts';

// One declaration per resource gives it Neutron's whole collection protocol: list with
// filters/fields/sort/paging, show, create (single and atomic bulk), update with If-Match,
// delete, and tags. Resource folders supply the domain decisions.

export interface ResourceDef<C = any, U = any> {
  kind: string;
  singular: string;
  collection: string;
  /** URL segment under /v2.0 (e.g. 'security-groups'). */
  path: string;
  /** Presented attributes that may be filtered and sorted on. */
  attributes: readonly string[];
  customFilters?: Record<string, CustomFilter>;
  sortAs?: CollectionSpec['sortAs'];
  createSchema: z.ZodType<C>;
  updateSchema?: z.ZodType<U>;
  /** Attributes an update may not name: refused before the document is looked up, as Neutron validates the body first. */
  readOnlyOnUpdate?: readonly string[];
  /** Quota resource name counted on create (e.g. 'network'). */
  quota?: string;
  tags?: boolean;
  visible?(view: ReadView, ctx: RequestContext, doc: Doc): boolean;
  /** Who may change it once they can see it; default: its project or an admin. */
  writable?(view: ReadView, ctx: RequestContext, doc: Doc): boolean;
  present(view: ReadView, ctx: RequestContext, doc: Doc): Row;
  create(tx: Tx, ctx: RequestContext, input: C): Doc;
  update?(tx: Tx, ctx: RequestContext, current: Doc, input: U): Doc;
  remove?(tx: Tx, ctx: RequestContext, current: Doc): void;
  /** Runs before a list is read (e.g. to create the project's default security group lazily). */
  beforeList?(store: Store, ctx: RequestContext, query: Query): Promise<void>;
}

export const ownerOrAdmin = (_view: ReadView, ctx: RequestContext, doc: Doc) =>
  ctx.isAdmin || doc.project_id === ctx.projectId;

/** Load a document the caller may see, or throw the resource's NotFound. */
export function visibleDoc(view: ReadView, def: ResourceDef, ctx: RequestContext, id: string): Doc {
  const doc = view.get(def.kind, id);
  if (!doc || !(def.visible ?? ownerOrAdmin)(view, ctx, doc)) throw notFound(def.kind, id);
  return doc;
}

export function writableDoc(view: ReadView, def: ResourceDef, ctx: RequestContext, id: string, action: string): Doc {
  const doc = visibleDoc(view, def, ctx, id);
  if (!(def.writable ?? ownerOrAdmin)(view, ctx, doc)) throw forbidden(`${action}_${def.singular}`);
  return doc;
}

/** If-Match: revision_number=N (several may be given, comma separated). */
export function checkIfMatch(req: FastifyRequest, doc: Doc): void {
  const raw = req.headers['if-match'];
  if (!raw) return;
  for (const part of String(raw).split(',')) {
    const m = /^\s*revision_number=(\d+)\s*$/.exec(part);
    if (!m) {
      if (part.trim() === '*') continue;
      throw badRequest(`Invalid If-Match header: '${part.trim()}'. Expected revision_number=<number>.`);
    }
    const expected = Number(m[1]);
    if (expected !== doc.revision_number) throw preconditionFailed(doc.revision_number as number, expected);
  }
}

/** This request's URL without its query, as the client addressed it (see config proxyHeaders). */
export function baseUrl(req: FastifyRequest): string {
  return `${origin(req)}${req.url.split('?')[0]}`;
}

/** Scheme and host the client used: the Host header, or X-Forwarded-* when proxyHeaders is on. */
export function origin(req: FastifyRequest): string {
  return `${req.protocol}://${req.host || 'localhost'}`;
}

/** Id-valued filters answered from an index (param -> index name) instead of a scan of the kind. */
const INDEXED_FILTERS: Readonly<Record<string, string>> = {
  network_id: 'network_id', device_id: 'device_id', project_id: 'project_id', tenant_id: 'project_id',
  security_group_id: 'security_group_id', port_id: 'port_id', router_id: 'router_id', floating_network_id: 'floating_network_id',
};

/** The documents a list could return: all of the kind, or fewer when an indexed filter narrows them. */
function candidates(view: ReadView, kind: string, query: Query): Doc[] {
  for (const [param, index] of Object.entries(INDEXED_FILTERS)) {
    const wanted = values(query[param]);
    if (wanted.length && !wanted.includes('') && MODEL_INDEXES[kind]?.[index]) {
      const byId = new Map(wanted.flatMap((v) => view.find(kind, index, v)).map((d) => [d.id, d]));
      return [...byId.values()];
    }
  }
  return view.list(kind);
}

export function registerResource(app: FastifyInstance, deps: ApiDeps, def: ResourceDef): void {
  const { store } = deps;
  const base = `/v2.0/${def.path}`;
  const docs = (summary: string, extra: Record<string, unknown> = {}) => ({ schema: { tags: [def.collection], summary, ...extra } });

  app.get(base, docs(`List ${def.collection}`), async (req) => {
    const ctx = req.ctx;
    if (def.beforeList) {
      // Reject a bad query (unknown filter, sort key, limit...) before beforeList may write, as Neutron validates first.
      const q = req.query as Query;
      paginate(filterRows([], q, def), { ...q, marker: undefined }, { ...def, kind: def.kind }, baseUrl(req));
      await def.beforeList(store, ctx, q);
    }
    const view = store.view();
    const query = req.query as Query;
    const visible = def.visible ?? ownerOrAdmin;
    const rows = candidates(view, def.kind, query).filter((d) => visible(view, ctx, d)).map((d) => def.present(view, ctx, d));
    const page = paginate(filterRows(rows, query, def, view), query, { ...def, kind: def.kind }, baseUrl(req));
    const body: Row = { [def.collection]: page.rows.map((r) => selectFields(r, query)) };
    if (page.links.length) body[`${def.collection}_links`] = page.links;
    return body;
  });

  app.get(`${base}/:id`, docs(`Show a ${def.singular}`), async (req) => {
    const { id } = req.params as { id: string };
    const view = store.view();
    const doc = visibleDoc(view, def, req.ctx, id);
    return { [def.singular]: selectFields(def.present(view, req.ctx, doc), req.query as Query) };
  });

  app.post(base, docs(`Create one ${def.singular} or, with a list body, several atomically`, { body: z.object({ [def.singular]: def.createSchema }) }), async (req, reply) => {
    const ctx = req.ctx;
    const { items, bulk } = unwrapBody(req.body, def.singular, def.collection);
    const inputs = items.map((item) => parseWith(def.createSchema, item));
    const { result } = await store.transact((tx) => {
      const created = inputs.map((input) => def.create(tx, ctx, input));
      if (def.quota) {
        const projects = new Set(created.map((d) => d.project_id as string));
        for (const project of projects) checkQuota(tx, project, def.quota, def.kind);
      }
      return created;
    });
    const view = store.view();
    reply.code(201);
    if (bulk) return { [def.collection]: result.map((d) => def.present(view, ctx, view.get(def.kind, d.id) ?? d)) };
    return { [def.singular]: def.present(view, ctx, view.get(def.kind, result[0].id) ?? result[0]) };
  });

  if (def.update) {
    const update = def.update;
    const schema = def.updateSchema ?? z.object({}).strict();
    app.put(`${base}/:id`, docs(`Update a ${def.singular}`, { body: z.object({ [def.singular]: schema }) }), async (req) => {
      const { id } = req.params as { id: string };
      const ctx = req.ctx;
      const { items } = unwrapBody(req.body, def.singular);
      const input = parseWith(schema, items[0]);
      for (const attr of def.readOnlyOnUpdate ?? []) {
        if ((input as Record<string, unknown>)[attr] !== undefined) throw badRequest(`Cannot update read-only attribute ${attr}`);
      }
      const { result } = await store.transact((tx) => {
        const current = writableDoc(tx, def, ctx, id, 'update');
        checkIfMatch(req, current);
        return update(tx, ctx, current, input);
      });
      const view = store.view();
      return { [def.singular]: def.present(view, ctx, view.get(def.kind, result.id) ?? result) };
    });
  }

  if (def.remove) {
    const remove = def.remove;
    app.delete(`${base}/:id`, docs(`Delete a ${def.singular}`), async (req, reply) => {
      const { id } = req.params as { id: string };
      const ctx = req.ctx;
      await store.transact((tx) => {
        const current = writableDoc(tx, def, ctx, id, 'delete');
        checkIfMatch(req, current);
        remove(tx, ctx, current);
      });
      return reply.code(204).send();
    });
  }

  if (def.tags !== false) registerTags(app, deps, def, base);
}

function registerTags(app: FastifyInstance, { store }: ApiDeps, def: ResourceDef, base: string): void {
  const docs = (summary: string) => ({ schema: { tags: ['tags'], summary: `${summary} (${def.collection})` } });
  const setTags = async (req: FastifyRequest, change: (tags: string[]) => string[]) => {
    const { id } = req.params as { id: string };
    const ctx = req.ctx;
    const { result } = await store.transact((tx) => {
      const current = writableDoc(tx, def, ctx, id, 'update');
      checkIfMatch(req, current);
      const next = change([...((current.tags as string[]) ?? [])]);
      if (next.length > 50) throw badRequest('A resource can have at most 50 tags.');
      const same = next.length === (current.tags as string[]).length && next.every((t, i) => t === (current.tags as string[])[i]);
      const doc = same ? current : revise(current, { tags: next } as Partial<Doc>);
      if (!same) tx.put(def.kind, doc);
      return doc;
    });
    return result;
  };

  app.get(`${base}/:id/tags`, docs('List tags'), async (req) => {
    const { id } = req.params as { id: string };
    return { tags: visibleDoc(store.view(), def, req.ctx, id).tags };
  });
  app.get(`${base}/:id/tags/:tag`, docs('Check a tag'), async (req, reply: FastifyReply) => {
    const { id, tag } = req.params as { id: string; tag: string };
    const doc = visibleDoc(store.view(), def, req.ctx, id);
    if (!(doc.tags as string[]).includes(tag)) throw notFound('tag', tag);
    return reply.code(204).send();
  });
  app.put(`${base}/:id/tags`, docs('Replace all tags'), async (req) => {
    const body = req.body as { tags?: unknown } | undefined;
    const wanted = parseWith(z.object({ tags: tagsSchema }).strict(), body ?? {}).tags;
    const doc = await setTags(req, () => [...new Set(wanted)]);
    return { tags: doc.tags };
  });
  app.put(`${base}/:id/tags/:tag`, docs('Add a tag'), async (req, reply) => {
    const { tag } = req.params as { tag: string };
    parseWith(tagSchema, tag);
    await setTags(req, (tags) => (tags.includes(tag) ? tags : [...tags, tag]));
    return reply.code(201).send();
  });
  app.delete(`${base}/:id/tags/:tag`, docs('Remove a tag'), async (req, reply) => {
    const { tag } = req.params as { tag: string };
    // Checked in the transaction: it reads committed state (another replica may have just added it).
    await setTags(req, (tags) => {
      if (!tags.includes(tag)) throw notFound('tag', tag);
      return tags.filter((t) => t !== tag);
    });
    return reply.code(204).send();
  });
  app.delete(`${base}/:id/tags`, docs('Remove all tags'), async (req, reply) => {
    await setTags(req, () => []);
    return reply.code(204).send();
  });
}
