import type { Doc, ReadView, Tx } from '../store/types.ts';
import type { AgentDoc } from '../sync/agents.ts';
import { ROUTER_PORT_OWNERS } from '../sync/interest.ts';
import { binding } from './ports.ts';
import { revise } from './standard-attrs.ts';

// Where Neutron's L3 scheduler sits: a router lives on one gateway host, and the placement is
// nothing but the binding:host_id of its ports (interfaces and gateway): every one of them is
// bound to that host, so that host's agent gets the router in its view (sync/interest.ts).
//
// The host is chosen among the registered agents (admin-down ones excepted) that can reach the
// router's external network: for a flat or vlan network, agents whose bridge_mappings name its
// provider:physical_network; for a vxlan (or other tunnelled) network, agents with a tunnel IP.
// A router without a gateway may go to any agent. Among those, the one hosting the fewest
// routers wins; ties go to the smallest host name. An agent set admin-down hands its routers over
// (evacuateGatewayHost): each moves to the host that choice picks among the others, if any; the
// agent that receives it builds it, the old one drops it as it leaves its view.

/** The router ports of a router (interfaces and gateway). */
export function routerPlacementPorts(view: ReadView, routerId: string): Doc[] {
  return view.find('port', 'device_id', routerId).filter((p) => ROUTER_PORT_OWNERS.has(p.device_owner as string));
}

const hostOf = (port: Doc): string => (port['binding:host_id'] as string | undefined) || '';

/** The host a router is placed on: the host of its first bound router port, or undefined. */
export function routerHost(view: ReadView, routerId: string): string | undefined {
  for (const p of routerPlacementPorts(view, routerId)) if (hostOf(p)) return hostOf(p);
  return undefined;
}

/** How many routers (other than `except`) have a router port bound to `host`. */
export function routersOnHost(view: ReadView, host: string, except?: string): number {
  const routers = new Set<string>();
  for (const p of view.find('port', 'host', host)) {
    if (ROUTER_PORT_OWNERS.has(p.device_owner as string) && p.device_id && p.device_id !== except) routers.add(p.device_id as string);
  }
  return routers.size;
}

/** Whether an agent can carry traffic of the external network `net`. */
function reaches(agent: AgentDoc, net: Doc): boolean {
  const type = net['provider:network_type'];
  if (type === 'flat' || type === 'vlan') {
    const physnet = net['provider:physical_network'] as string | null | undefined;
    return !!physnet && Object.hasOwn(agent.configurations?.bridge_mappings ?? {}, physnet);
  }
  return !!(agent.tunnel_ip ?? agent.configurations?.tunneling_ip);
}

/** The gateway host for `router`, or undefined when no registered agent fits. Pure. */
export function chooseGatewayHost(view: ReadView, router: Doc): string | undefined {
  const gw = router.external_gateway_info as { network_id: string } | null | undefined;
  const net = gw ? view.get('network', gw.network_id) : undefined;
  let best: { host: string; load: number } | undefined;
  for (const agent of view.list<AgentDoc>('agent')) {
    if (!agent.host || agent.admin_state_up === false) continue;
    if (net && !reaches(agent, net)) continue;
    const load = routersOnHost(view, agent.host, router.id);
    if (!best || load < best.load || (load === best.load && agent.host < best.host)) best = { host: agent.host, load };
  }
  return best?.host;
}

/**
 * Bind every router port of `router` to its gateway host: the host it is already placed on, or
 * (when none of its ports is bound) a host chosen by chooseGatewayHost. Leaves the ports unbound
 * when no agent fits. Returns the host, if any.
 */
export function placeRouter(tx: Tx, router: Doc): string | undefined {
  const ports = routerPlacementPorts(tx, router.id);
  if (!ports.length) return undefined;
  const host = ports.map(hostOf).find(Boolean) ?? chooseGatewayHost(tx, router);
  if (!host) return undefined;
  for (const port of ports) {
    // A port that moves host is DOWN until the new host's agent reports it up (as updatePort does).
    if (hostOf(port) !== host) tx.put('port', revise(port, { ...binding(host), status: 'DOWN' } as Partial<Doc>));
  }
  return host;
}

/** Place every router that has router ports but none bound (e.g. after an agent registers). */
export function scheduleUnplacedRouters(tx: Tx): void {
  for (const router of tx.list('router')) {
    const ports = routerPlacementPorts(tx, router.id);
    if (ports.length && !ports.some((p) => hostOf(p))) placeRouter(tx, router);
  }
}

/**
 * Move the routers placed on `host` (its agent just went admin-down) to other gateway hosts, each
 * to the one chooseGatewayHost picks, where one fits; a router no other agent can take stays.
 * Returns the routers moved, by id, with their new host.
 */
export function evacuateGatewayHost(tx: Tx, host: string): Map<string, string> {
  const moved = new Map<string, string>();
  const routerIds = new Set<string>();
  for (const p of tx.find('port', 'host', host)) {
    if (ROUTER_PORT_OWNERS.has(p.device_owner as string) && p.device_id) routerIds.add(p.device_id as string);
  }
  for (const id of [...routerIds].sort()) {
    const router = tx.get('router', id);
    const target = router && chooseGatewayHost(tx, router);
    if (!target || target === host) continue;
    for (const port of routerPlacementPorts(tx, id)) {
      if (hostOf(port) !== target) tx.put('port', revise(port, { ...binding(target), status: 'DOWN' } as Partial<Doc>));
    }
    moved.set(id, target);
  }
  return moved;
}
