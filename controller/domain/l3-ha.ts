import type { Doc, ReadView, Tx } from '../store/types.ts';
import { binding } from './ports.ts';
import { refreshGatewayCapable } from './gateway-capable.ts';
import { revise } from './standard-attrs.ts';

// Highly available routers (Neutron's l3-ha extension), the controller's side. PURE: works on a
// view or a transaction, no timers, no sockets.
//
// A router with `ha` has a gateway group: the internal field `gateway_hosts` (never shown by the
// API), the active gateway host first, then the standbys in the order they take over. Its size is
// `ha_max_hosts` (fixed when the router becomes HA, from maxL3AgentsPerRouter), or fewer while
// fewer agents fit. The router's ports stay bound to the active host, exactly as for a router
// without HA (l3-scheduler.ts), so everything that follows bindings (tunnels, statuses, the
// active host's view) is unchanged; the standbys get the router in their views through the
// gateway group (sync/interest.ts) and hold its namespace ready but silent (agent/l3).
//
// Failover (sync/gateway-failover.ts decides when): every port of the router is rebound to the
// first standby whose agent is live, and the old active host goes to the END of the group, so
// that when it comes back it is a standby and takes nothing back (no preemption, no second
// outage). Applied twice (two replicas), the second finds nothing bound to the lost host: a no-op.

export const DEFAULT_MAX_L3_AGENTS_PER_ROUTER = 3;

/** The router's gateway group (active first); empty for a router without HA or not yet placed. */
export function gatewayHostsOf(router: Doc | null | undefined): string[] {
  return router && Array.isArray(router.gateway_hosts) ? (router.gateway_hosts as string[]) : [];
}

/** How many gateway hosts the router wants: 1 without HA. */
export function wantedGatewayHosts(router: Doc): number {
  if (!router.ha) return 1;
  const n = router.ha_max_hosts;
  return typeof n === 'number' && n >= 1 ? n : DEFAULT_MAX_L3_AGENTS_PER_ROUTER;
}

/**
 * The gateway group a router should have, given the active host, the group it has, and the hosts
 * that may carry it (best first, as rankGatewayHosts gives them). Keeps the order of the standbys
 * it has that are still eligible, then fills up from `ranked`. Pure.
 */
export function nextGatewayGroup(active: string, current: readonly string[], ranked: readonly string[], wanted: number): string[] {
  const eligible = new Set(ranked);
  const out = [active];
  for (const h of current) if (out.length < wanted && !out.includes(h) && eligible.has(h)) out.push(h);
  for (const h of ranked) if (out.length < wanted && !out.includes(h)) out.push(h);
  return out;
}

/**
 * The group after a failover of `lost`: the first standby that `live` accepts becomes active and
 * the lost host goes last. Undefined when no standby is live. Pure.
 */
export function failoverGroup(group: readonly string[], lost: string, live: (host: string) => boolean): string[] | undefined {
  const next = group.find((h) => h !== lost && live(h));
  if (next === undefined) return undefined;
  return [next, ...group.filter((h) => h !== next && h !== lost), lost];
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Write the router's gateway group (internal: no revision bump), when it changed. */
export function setGatewayGroup(tx: Tx, routerId: string, group: string[] | null): void {
  const router = tx.get('router', routerId);
  if (!router) return;
  const have = router.gateway_hosts === undefined || router.gateway_hosts === null ? null : gatewayHostsOf(router);
  if (group === null ? have === null : have !== null && sameList(have, group)) return;
  const { gateway_hosts: _old, ...rest } = router;
  tx.put('router', group === null ? (rest as Doc) : { ...rest, gateway_hosts: group } as Doc);
  // Hosts entering or leaving a gateway group may start or stop being BFD gateway hosts.
  const kept = new Set(group ?? []);
  const left = (have ?? []).filter((h) => !kept.delete(h));
  refreshGatewayCapable(tx, [...left, ...kept]);
}

/** Bind every router port of the router to `host` (a moving port is DOWN until its new host reports it up). */
export function bindRouterPorts(tx: Tx, ports: readonly Doc[], host: string): void {
  for (const port of ports) {
    if ((port['binding:host_id'] || '') !== host) tx.put('port', revise(port, { ...binding(host), status: 'DOWN' } as Partial<Doc>));
  }
}

/** The routers whose gateway group holds `host` (active or standby). */
export function routersOfGatewayHost(view: ReadView, host: string): Doc[] {
  return view.find('router', 'gateway_host', host);
}

/** The HA state of `host` for the router: 'active', 'standby', or undefined when not in its group. */
export function haState(router: Doc, activeHost: string | undefined, host: string): 'active' | 'standby' | undefined {
  if (activeHost === host) return 'active';
  return gatewayHostsOf(router).includes(host) ? 'standby' : undefined;
}
