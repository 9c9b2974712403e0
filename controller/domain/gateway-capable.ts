import type { Doc, ReadView, Tx } from '../store/types.ts';
import type { AgentDoc } from '../sync/agents.ts';

// Which agents are gateway hosts for the underlay's BFD (agent/underlay/bfd-plan.ts): OVN runs BFD
// only between chassis pairs where one is a gateway chassis, and so does Weft. PURE.
//
// An agent is gateway-capable when the L3 scheduler (l3-scheduler.ts rankGatewayHosts) may place a
// router with an external gateway on it: it is admin-up and reaches an external network (a bridge
// mapping for a flat/vlan one's physical network, or a tunnel IP for a tunnelled one). A router
// without an external gateway may go to any agent, so an agent also counts while it is in the
// gateway group of an HA router (active or standby): the hosts whose HA routers the underlay
// failover moves always have their sessions. There is no separate "L3 agent" flag: every weft agent
// runs routers.
//
// The answer is stored on the agent document (`gateway_capable`, internal: the API never shows it)
// and reaches every agent through its view of the agents, which every host holds already (they
// are its tunnel endpoints). It is refreshed in the transaction that can change it, only for the
// agents concerned: an agent's own registration or admin state, a router's gateway group (its old
// and new hosts), and, rarely, an external network (every agent). A new compute host is written
// once with `false`; no other agent document changes.

/** Index key (network.external_reach) of an external network reached through the tunnels. */
export const TUNNELLED_EXTERNAL = '\u0000tunnelled';

/** What an external network needs of a host to reach it, as the index files it; undefined for a tenant network. */
export function externalReachKey(net: Doc): string | undefined {
  if (!net['router:external']) return undefined;
  const type = net['provider:network_type'];
  if (type === 'flat' || type === 'vlan') return (net['provider:physical_network'] as string | null | undefined) ?? undefined;
  return TUNNELLED_EXTERNAL;
}

/** Whether the agent is a gateway host for BFD (see above). */
export function isGatewayCapable(view: ReadView, agent: AgentDoc): boolean {
  if (!agent.host) return false;
  if (view.countBy('router', 'gateway_host', agent.host) > 0) return true;
  if (agent.admin_state_up === false) return false;
  for (const physnet of Object.keys(agent.configurations?.bridge_mappings ?? {})) {
    if (view.countBy('network', 'external_reach', physnet) > 0) return true;
  }
  return !!(agent.tunnel_ip ?? agent.configurations?.tunneling_ip) && view.countBy('network', 'external_reach', TUNNELLED_EXTERNAL) > 0;
}

/** The agent with its flag as it should be (the same object when it already is). */
export function withGatewayFlag<T extends AgentDoc>(view: ReadView, agent: T): T {
  const capable = isGatewayCapable(view, agent);
  return agent.gateway_capable === capable ? agent : { ...agent, gateway_capable: capable };
}

/** Rewrite the flag of the agents of `hosts` where it changed. */
export function refreshGatewayCapable(tx: Tx, hosts: Iterable<string>): void {
  for (const host of new Set(hosts)) {
    for (const agent of tx.find<AgentDoc>('agent', 'host', host)) {
      const next = withGatewayFlag(tx, agent);
      if (next !== agent) tx.put('agent', next);
    }
  }
}

/** An external network came, went or changed what it needs of a host: every agent is looked at. */
export function refreshGatewayCapableOnNetwork(tx: Tx, prev: Doc | null | undefined, next: Doc | null | undefined): void {
  const before = prev ? externalReachKey(prev) : undefined;
  const after = next ? externalReachKey(next) : undefined;
  if (before === after) return;
  for (const agent of tx.list<AgentDoc>('agent')) {
    const flagged = withGatewayFlag(tx, agent);
    if (flagged !== agent) tx.put('agent', flagged);
  }
}
