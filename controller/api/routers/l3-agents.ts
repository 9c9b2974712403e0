import { gatewayHostsOf, haState } from '../../domain/l3-ha.ts';
import { routerHost } from '../../domain/l3-scheduler.ts';
import { forbidden, notFound } from '../../errors.ts';
import { AGENT_KIND, agentByHost, type AgentDoc } from '../../sync/agents.ts';
import type { Doc, ReadView } from '../../store/types.ts';
import type { ApiPlugin } from '../context.ts';
import { presentRouter } from './index.ts';

// Which agents host a router, and which routers an agent hosts: the two read-only views of
// Neutron's l3_agent_scheduler extension (`openstack network agent list --router R`,
// `openstack router list --agent A`), admin-only as in Neutron's policy. The extension itself is
// not advertised: Weft places routers itself and has no add/remove router to agent.
//
// A router's agents are its gateway hosts: for an HA router its gateway group (domain/l3-ha.ts),
// active first, each with `ha_state` 'active' or 'standby'; for another router the one host its
// ports are bound to, with `ha_state` null (as Neutron shows non-HA routers).

/** The hosts of a router, active first, with their HA state. */
export function routerAgents(view: ReadView, router: Doc): Array<{ agent: AgentDoc; ha_state: 'active' | 'standby' | null }> {
  const active = routerHost(view, router.id);
  const hosts = router.ha ? [...new Set([...(active ? [active] : []), ...gatewayHostsOf(router)])] : active ? [active] : [];
  return hosts.flatMap((host) => {
    const agent = agentByHost(view, host);
    return agent ? [{ agent, ha_state: router.ha ? haState(router, active, host) ?? null : null }] : [];
  });
}

/** The routers an agent's host carries, as active or standby gateway host. */
export function agentRouters(view: ReadView, agent: AgentDoc): Doc[] {
  const ids = new Set<string>();
  for (const p of view.find('port', 'host', agent.host)) {
    if (p.device_id && (p.device_owner === 'network:router_gateway' || p.device_owner === 'network:router_interface')) ids.add(p.device_id as string);
  }
  for (const r of view.find('router', 'gateway_host', agent.host)) ids.add(r.id);
  return [...ids].sort().flatMap((id) => {
    const r = view.get('router', id);
    return r ? [r] : [];
  });
}

export const l3AgentsApi: ApiPlugin = (app, { store, sync }) => {
  if (!sync) return;
  const docs = (summary: string) => ({ schema: { tags: ['routers'], summary } });

  app.get('/v2.0/routers/:id/l3-agents', docs('List the L3 agents hosting a router, with their HA state (admin)'), async (req) => {
    const { id } = req.params as { id: string };
    if (!req.ctx.isAdmin) throw forbidden('get_l3-agents');
    const view = store.view();
    const router = view.get('router', id);
    if (!router) throw notFound('router', id);
    return { agents: routerAgents(view, router).map(({ agent, ha_state }) => ({ ...sync.present(view, agent), ha_state })) };
  });

  app.get('/v2.0/agents/:id/l3-routers', docs('List the routers an L3 agent hosts (admin)'), async (req) => {
    const { id } = req.params as { id: string };
    if (!req.ctx.isAdmin) throw forbidden('get_l3-routers');
    const view = store.view();
    const agent = view.get<AgentDoc>(AGENT_KIND, id);
    if (!agent) throw notFound(AGENT_KIND, id);
    return { routers: agentRouters(view, agent).map((r) => presentRouter(view, req.ctx, r)) };
  });
};
