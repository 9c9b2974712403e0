import { z } from 'zod';
import { AgentUpdate } from '../../../schemas/api/agent.ts';
import { notFound } from '../../errors.ts';
import { AGENT_ATTRIBUTES, AGENT_KIND, type AgentDoc } from '../../sync/agents.ts';
import { parseWith, unwrapBody } from '../body.ts';
import { filterRows, paginate, selectFields, type Query, type Row } from '../collection.ts';
import type { ApiPlugin } from '../context.ts';
import { baseUrl } from '../resource.ts';

// Neutron's agent API (the `agent` extension): agents register over the channel (controller/sync);
// admins list, show, update (admin_state_up, description) and delete them. As in Neutron's policy
// every agent call is admin-only, and what a member may not see is not there: its list is empty,
// and one agent, shown, updated or deleted, is not found (Neutron hides what a caller may not read).

export const agentsApi: ApiPlugin = (app, { store, sync }) => {
  if (!sync) return;
  const base = '/v2.0/agents';
  const spec = { collection: 'agents', attributes: AGENT_ATTRIBUTES, kind: AGENT_KIND };
  const docs = (summary: string, extra: Record<string, unknown> = {}) => ({ schema: { tags: ['agents'], summary, ...extra } });
  const adminOnly = (isAdmin: boolean, id: string) => {
    if (!isAdmin) throw notFound(AGENT_KIND, id);
  };
  const load = (id: string) => {
    const doc = store.view().get<AgentDoc>(AGENT_KIND, id);
    if (!doc) throw notFound(AGENT_KIND, id);
    return doc;
  };

  app.get(base, docs('List agents (admin; empty for others)'), async (req) => {
    if (!req.ctx.isAdmin) return { agents: [] };
    const query = req.query as Query;
    const view = store.view();
    const rows = view.list<AgentDoc>(AGENT_KIND).map((d) => sync.present(view, d));
    const page = paginate(filterRows(rows, query, spec), query, spec, baseUrl(req));
    const body: Row = { agents: page.rows.map((r) => selectFields(r, query)) };
    if (page.links.length) body.agents_links = page.links;
    return body;
  });

  app.get(`${base}/:id`, docs('Show an agent (admin)'), async (req) => {
    const { id } = req.params as { id: string };
    adminOnly(req.ctx.isAdmin, id);
    return { agent: selectFields(sync.present(store.view(), load(id)), req.query as Query) };
  });

  app.put(`${base}/:id`, docs('Update an agent (admin): admin_state_up, description', { body: z.object({ agent: AgentUpdate }) }), async (req) => {
    const { id } = req.params as { id: string };
    adminOnly(req.ctx.isAdmin, id);
    const { items } = unwrapBody(req.body, 'agent');
    const input = parseWith(AgentUpdate, items[0]);
    const doc = await sync.updateAgent(id, input);
    return { agent: sync.present(store.view(), doc) };
  });

  app.delete(`${base}/:id`, docs("Delete an agent (admin), revoking its host's credential; an agent on an admin token registers again"), async (req, reply) => {
    const { id } = req.params as { id: string };
    adminOnly(req.ctx.isAdmin, id);
    await sync.deleteAgent(id);
    return reply.code(204).send();
  });
};
