import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { RequestContext } from '../../auth/context.ts';
import {
  DEFAULT_QUOTAS, MAX_QUOTA, QUOTA_RESOURCES, quotaDetails, quotaLimits, quotaProjects, resetQuota, setQuotaLimits,
} from '../../domain/quotas.ts';
import { NeutronError, forbidden } from '../../errors.ts';
import { parseWith, unwrapBody } from '../body.ts';
import type { ApiPlugin } from '../context.ts';

// Neutron's quotas extension (quotasv2 + quota_details + quota-check-limit[-default]):
//   GET    /v2.0/quotas                      projects with limits set (members: only their own)
//   GET    /v2.0/quotas/project|tenant       who am I: {"project": {"project_id"}}
//   GET    /v2.0/quotas/{id}[/default|/details]
//   PUT    /v2.0/quotas/{id}                 admin; with check_limit, refuses limits below usage
//   DELETE /v2.0/quotas/{id}                 admin; back to the defaults
// Members may read their own project's quotas; anything else is rule get_quota (admin).

const int = (iss: { input?: unknown }) => `'${String(iss.input)}' is not an integer`;
/** A limit: an integer (or its decimal text, as convert_to_int allows), -1 = unlimited. */
export const QuotaLimit = z
  .union([z.int({ error: int }), z.string().regex(/^-?\d+$/, { error: int })], { error: int })
  .transform(Number)
  // refine rather than min/max: Neutron's wording, and zod 4 issues do not carry the input.
  .refine((v) => v >= -1, { error: (iss) => `'${String(iss.input)}' is too small - must be at least '-1'` })
  .refine((v) => v <= MAX_QUOTA, { error: (iss) => `'${String(iss.input)}' is too large - must be no larger than '${MAX_QUOTA}'` });

export const QuotaUpdate = z
  .object({
    ...Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, QuotaLimit.optional()])),
    /** Set the limit even when the project already uses more. */
    force: z.boolean().optional(),
    /** Accepted for old clients; checking is the default. */
    check_limit: z.boolean().optional(),
  })
  .strict();

function mayRead(ctx: RequestContext, projectId: string): void {
  if (projectId !== ctx.projectId && !ctx.isAdmin) throw forbidden('get_quota');
}

const row = (view: Parameters<typeof quotaLimits>[0], projectId: string) => ({
  ...quotaLimits(view, projectId),
  project_id: projectId,
  tenant_id: projectId,
});

export const quotasApi: ApiPlugin = (app: FastifyInstance, { store }) => {
  const docs = (summary: string, extra: Record<string, unknown> = {}) => ({ schema: { tags: ['quotas'], summary, ...extra } });
  const idOf = (req: FastifyRequest) => (req.params as { id: string }).id;

  app.get('/v2.0/quotas', docs('List projects with non-default quotas'), async (req) => {
    const view = store.view();
    const projects = quotaProjects(view).filter((p) => req.ctx.isAdmin || p === req.ctx.projectId);
    return { quotas: projects.map((p) => row(view, p)) };
  });
  app.post('/v2.0/quotas', docs('Not supported', { hide: true }), async () => {
    throw new NeutronError(501, 'HTTPNotImplemented', 'POST requests are not supported on this resource.');
  });

  // Neutron's collection actions: the caller's own project id.
  for (const key of ['project', 'tenant'] as const) {
    app.get(`/v2.0/quotas/${key}`, docs(`The caller's ${key} id`), async (req) => ({ [key]: { [`${key}_id`]: req.ctx.projectId } }));
  }

  app.get('/v2.0/quotas/:id', docs("Show a project's quotas"), async (req) => {
    const id = idOf(req);
    mayRead(req.ctx, id);
    return { quota: quotaLimits(store.view(), id) };
  });
  app.get('/v2.0/quotas/:id/default', docs('Show the default quotas'), async (req) => {
    mayRead(req.ctx, idOf(req));
    return { quota: { ...DEFAULT_QUOTAS } };
  });
  app.get('/v2.0/quotas/:id/details', docs("Show a project's quotas with usage"), async (req) => {
    const id = idOf(req);
    mayRead(req.ctx, id);
    return { quota: quotaDetails(store.view(), id) };
  });

  app.put('/v2.0/quotas/:id', docs("Update a project's quotas", { body: z.object({ quota: QuotaUpdate }) }), async (req) => {
    const id = idOf(req);
    if (!req.ctx.isAdmin) throw forbidden('update_quota');
    const { items } = unwrapBody(req.body, 'quota');
    const { force, check_limit, ...limits } = parseWith(QuotaUpdate, items[0]);
    const set = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) as Record<string, number>;
    const { result } = await store.transact((tx) => setQuotaLimits(tx, id, set, check_limit === true && force !== true));
    return { quota: result };
  });

  app.delete('/v2.0/quotas/:id', docs("Reset a project's quotas to the defaults"), async (req, reply) => {
    const id = idOf(req);
    if (!req.ctx.isAdmin) throw forbidden('delete_quota');
    await store.transact((tx) => resetQuota(tx, id));
    return reply.code(204).send();
  });
};
