import type { Doc, ReadView } from '../store/types.ts';
import { gatewayHostsOf } from '../domain/l3-ha.ts';

// The gateway-group rule of a host's interest (interest.ts): the standby gateway hosts of an HA
// router (domain/l3-ha.ts) hold its namespace ready, so each of them gets the router in its view
// as its active host does: its router ports count as if they were local ports (their networks,
// subnets and ports, the router, its floating IPs, the firewall groups of its interfaces), while
// they stay bound to the active host. A port "carried" by a host is one bound there, or a router
// port of a router whose gateway group holds the host.

const ROUTER_OWNERS: ReadonlySet<string> = new Set([
  'network:router_interface', 'network:router_interface_distributed', 'network:router_gateway',
]);

/** The router of a router port, if it is one. */
export const routerOfRouterPort = (port: Doc): string | undefined =>
  ROUTER_OWNERS.has(port.device_owner as string) && port.device_id ? (port.device_id as string) : undefined;

/** Whether `host` carries the port, given how its router is (`routerOf` returns the router doc, or null). */
export function carries(host: string, port: Doc, routerOf: (id: string) => Doc | null | undefined): boolean {
  if ((port['binding:host_id'] || '') === host) return true;
  const router = routerOfRouterPort(port);
  return router !== undefined && gatewayHostsOf(routerOf(router)).includes(host);
}

/** Whether two versions of a router have the same gateway group. */
export function sameGroup(a: Doc | null, b: Doc | null): boolean {
  const x = gatewayHostsOf(a);
  const y = gatewayHostsOf(b);
  return x.length === y.length && x.every((h, i) => h === y[i]);
}

/** The ports `host` carries: bound to it, or router ports of routers whose gateway group holds it. */
export function carriedPorts(view: ReadView, host: string): Doc[] {
  const out = new Map<string, Doc>();
  for (const p of view.find('port', 'host', host)) out.set(p.id, p);
  for (const r of view.find('router', 'gateway_host', host)) {
    for (const p of view.find('port', 'device_id', r.id)) if (routerOfRouterPort(p) === r.id) out.set(p.id, p);
  }
  return [...out.values()];
}
