import type { Doc, ReadView, Tx } from '../store/types.ts';
import type { AgentDoc } from '../sync/agents.ts';
import { ROUTER_PORT_OWNERS } from '../sync/interest.ts';
import { bindRouterPorts, failoverGroup, gatewayHostsOf, nextGatewayGroup, routersOfGatewayHost, setGatewayGroup, wantedGatewayHosts } from './l3-ha.ts';

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
//
// An HA router (l3-ha.ts) also has standby gateway hosts, the next best hosts of that same
// choice; its ports stay bound to the active one. Evacuating or losing the active host of an HA
// router is a switch to its first (live) standby.

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

/** The routers (other than `except`) with a router port bound to `host` or `host` in their gateway group. */
function routerIdsOnHost(view: ReadView, host: string, except?: string, withStandby = true): Set<string> {
  const routers = new Set<string>();
  for (const p of view.find('port', 'host', host)) {
    if (ROUTER_PORT_OWNERS.has(p.device_owner as string) && p.device_id && p.device_id !== except) routers.add(p.device_id as string);
  }
  if (withStandby) for (const r of routersOfGatewayHost(view, host)) if (r.id !== except) routers.add(r.id);
  return routers;
}

/** How many routers (other than `except`) `host` carries, as active or standby gateway host. */
export function routersOnHost(view: ReadView, host: string, except?: string): number {
  return routerIdsOnHost(view, host, except).size;
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

/** Every host that may carry `router`, best first (fewest routers, then by name). Pure. */
export function rankGatewayHosts(view: ReadView, router: Doc): string[] {
  const gw = router.external_gateway_info as { network_id: string } | null | undefined;
  const net = gw ? view.get('network', gw.network_id) : undefined;
  const out: Array<{ host: string; load: number }> = [];
  for (const agent of view.list<AgentDoc>('agent')) {
    if (!agent.host || agent.admin_state_up === false) continue;
    if (net && !reaches(agent, net)) continue;
    out.push({ host: agent.host, load: routersOnHost(view, agent.host, router.id) });
  }
  out.sort((a, b) => a.load - b.load || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  return out.map((x) => x.host);
}

/** The gateway host for `router`, or undefined when no registered agent fits. Pure. */
export function chooseGatewayHost(view: ReadView, router: Doc): string | undefined {
  return rankGatewayHosts(view, router)[0];
}

/**
 * Bring the gateway group of `router`, active on `active`, to what it should be: HA routers keep
 * their eligible standbys and gain more up to wantedGatewayHosts; a router without HA has none.
 */
export function refreshGatewayGroup(tx: Tx, routerId: string, active: string | undefined): void {
  const router = tx.get('router', routerId);
  if (!router) return;
  if (!router.ha || !active) {
    setGatewayGroup(tx, routerId, router.ha ? gatewayHostsOf(router).length ? gatewayHostsOf(router) : null : null);
    return;
  }
  setGatewayGroup(tx, routerId, nextGatewayGroup(active, gatewayHostsOf(router), rankGatewayHosts(tx, router), wantedGatewayHosts(router)));
}

/**
 * Bind every router port of `router` to its gateway host: the host it is already placed on, or
 * (when none of its ports is bound) a host chosen by chooseGatewayHost. Leaves the ports unbound
 * when no agent fits. Returns the host, if any.
 */
export function placeRouter(tx: Tx, router: Doc): string | undefined {
  const ports = routerPlacementPorts(tx, router.id);
  if (!ports.length) return undefined;
  const current = tx.get('router', router.id) ?? router;
  // An HA router that lost all its ports keeps its group: it comes back on the same active host when it can.
  const ranked = rankGatewayHosts(tx, current);
  const previous = gatewayHostsOf(current)[0];
  const host = ports.map(hostOf).find(Boolean) ?? (previous && ranked.includes(previous) ? previous : ranked[0]);
  if (!host) return undefined;
  // A port that moves host is DOWN until the new host's agent reports it up (as updatePort does).
  bindRouterPorts(tx, ports, host);
  refreshGatewayGroup(tx, router.id, host);
  return host;
}

/**
 * Place every router that has router ports but none bound (e.g. after an agent registers), and
 * give HA routers with fewer gateway hosts than they want the standbys that now fit.
 */
export function scheduleUnplacedRouters(tx: Tx): void {
  for (const router of tx.list('router')) {
    const ports = routerPlacementPorts(tx, router.id);
    if (!ports.length) continue;
    const active = ports.map(hostOf).find(Boolean);
    if (!active) placeRouter(tx, router);
    else if (router.ha && gatewayHostsOf(router).length < wantedGatewayHosts(router)) refreshGatewayGroup(tx, router.id, active);
  }
}

/**
 * The active gateway host `host` of HA routers is lost (its agent is gone): each of its HA routers
 * switches to the first standby `live` accepts, and `host` goes to the end of the group (a
 * standby when it comes back). Routers without HA, or with no live standby, stay. Idempotent.
 * Returns the routers moved, by id, with their new host.
 */
export function failoverGatewayHost(tx: Tx, host: string, live: (host: string) => boolean): Map<string, string> {
  const moved = new Map<string, string>();
  for (const id of [...routerIdsOnHost(tx, host, undefined, false)].sort()) {
    const router = tx.get('router', id);
    if (!router?.ha) continue;
    const group = failoverGroup(gatewayHostsOf(router), host, live);
    if (!group) continue;
    bindRouterPorts(tx, routerPlacementPorts(tx, id), group[0]!);
    setGatewayGroup(tx, id, group);
    moved.set(id, group[0]!);
  }
  return moved;
}

/**
 * Move the routers placed on `host` (its agent just went admin-down) to other gateway hosts, each
 * to the one chooseGatewayHost picks, where one fits; a router no other agent can take stays.
 * Returns the routers moved, by id, with their new host.
 */
export function evacuateGatewayHost(tx: Tx, host: string): Map<string, string> {
  const moved = new Map<string, string>();
  const active = routerIdsOnHost(tx, host, undefined, false);
  for (const id of [...routerIdsOnHost(tx, host)].sort()) {
    const router = tx.get('router', id);
    if (!router) continue;
    if (!active.has(id)) {
      // A standby here: it leaves the group, which takes another host if one fits.
      const ports = routerPlacementPorts(tx, id);
      const current = ports.map(hostOf).find(Boolean);
      setGatewayGroup(tx, id, gatewayHostsOf(router).filter((h) => h !== host));
      refreshGatewayGroup(tx, id, current);
      continue;
    }
    // An HA router switches to its first standby (its namespace is ready there); else the best host.
    const standby = router.ha ? gatewayHostsOf(router).find((h) => h !== host && rankGatewayHosts(tx, router).includes(h)) : undefined;
    const target = standby ?? chooseGatewayHost(tx, router);
    if (!target || target === host) continue;
    bindRouterPorts(tx, routerPlacementPorts(tx, id), target);
    if (router.ha) {
      setGatewayGroup(tx, id, [target, ...gatewayHostsOf(router).filter((h) => h !== host && h !== target)]);
      refreshGatewayGroup(tx, id, target);
    }
    moved.set(id, target);
  }
  return moved;
}

/**
 * `host` has no agent any more (deleted): it leaves the gateway groups it is a standby of, which
 * take another host where one fits. Routers active there move when its agent is lost (failover).
 */
export function leaveGatewayGroups(tx: Tx, host: string): void {
  const active = routerIdsOnHost(tx, host, undefined, false);
  for (const router of routersOfGatewayHost(tx, host)) {
    if (active.has(router.id)) continue;
    setGatewayGroup(tx, router.id, gatewayHostsOf(router).filter((h) => h !== host));
    refreshGatewayGroup(tx, router.id, routerPlacementPorts(tx, router.id).map(hostOf).find(Boolean));
  }
}
