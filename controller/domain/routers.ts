import { makeContext, type RequestContext } from '../auth/context.ts';
import { refreshGatewayCapable } from './gateway-capable.ts';
import { badRequest, forbidden, inUse, NeutronError, notFound } from '../errors.ts';
import type { Doc, ReadView, Tx } from '../store/types.ts';
import type { ExternalGatewayInfo, Route, RouterCreate, RouterUpdate } from '../../schemas/api/router.ts';
import { cidrContains, cidrsOverlap, tryParseCidr, tryParseIp } from './cidr.ts';
import { createPort, deletePort } from './ports.ts';
import { placeRouter, refreshGatewayGroup, routerHost } from './l3-scheduler.ts';
import { DEFAULT_MAX_L3_AGENTS_PER_ROUTER, gatewayHostsOf } from './l3-ha.ts';
import { networkVisibleTo } from './subnets.ts';
import { owningProject, requireAdminFor } from './policy.ts';
import { revise, standard } from './standard-attrs.ts';
import { ROUTER_INTERFACE_OWNERS } from './indexes.ts';

// Routers: the router document, its external gateway (a port on an external network,
// owned by no project, like Neutron's) and its extra routes. Interfaces live in
// router-interfaces.ts.
//
// A router document stores what the API shows plus `gw_port_id` (internal, never
// presented): external_gateway_info mirrors the gateway port's fixed IPs. An HA router (`ha`,
// l3-ha.ts) also stores `gateway_hosts` and `ha_max_hosts`, never presented either.

export const ROUTER_INTERFACE = 'network:router_interface';
export const ROUTER_GATEWAY = 'network:router_gateway';
export { ROUTER_INTERFACE_OWNERS };
/** Neutron's max_routes default. */
export const MAX_ROUTES = 30;

export interface FixedIp { subnet_id: string; ip_address: string }
export interface GatewayInfo { network_id: string; enable_snat: boolean; external_fixed_ips: FixedIp[] }

// ---- errors in Neutron's words ------------------------------------------------------

/** neutron_lib BadRequest: "Bad <resource> request: <msg>." */
export const badResource = (resource: string, msg: string) => new NeutronError(400, 'BadRequest', `Bad ${resource} request: ${msg}.`);

function pyRoutes(routes: readonly Route[]): string {
  return `[${routes.map((r) => `{'destination': '${r.destination}', 'nexthop': '${r.nexthop}'}`).join(', ')}]`;
}
const invalidRoutes = (routes: readonly Route[], reason: string) =>
  new NeutronError(400, 'InvalidRoutes', `Invalid format for routes: ${pyRoutes(routes)}, ${reason}.`);

const gatewayInUseByFip = (routerId: string, netId: string) => inUse('RouterExternalGatewayInUseByFloatingIp',
  `Gateway cannot be updated for router ${routerId}, since a gateway to external network ${netId} is required by one or more floating IPs.`);

// ---- addresses -------------------------------------------------------------------

export function ipVersion(ip: string): 4 | 6 {
  return ip.includes(':') ? 6 : 4;
}

export function ipInCidr(ip: string, cidr: string): boolean {
  const a = tryParseIp(ip);
  const c = tryParseCidr(cidr);
  return !!a && !!c && a.version === c.version && cidrContains(c, a);
}

export function cidrTextsOverlap(x: string, y: string): boolean {
  const a = tryParseCidr(x);
  const b = tryParseCidr(y);
  return !!a && !!b && a.version === b.version && cidrsOverlap(a, b);
}

/** Two spellings of one address compare equal. */
export function sameIp(x: string, y: string): boolean {
  const a = tryParseIp(x);
  const b = tryParseIp(y);
  return !!a && !!b && a.version === b.version && a.value === b.value;
}

// ---- lookups -----------------------------------------------------------------------

/** A context that may create ports on any network for any project (router-owned ports). */
export const systemContext = (projectId: string): RequestContext => makeContext(projectId, ['admin'], 'weft-l3');

export function routerPorts(view: ReadView, routerId: string): Doc[] {
  return view.find('port', 'device_id', routerId);
}

export function interfacePorts(view: ReadView, routerId: string): Doc[] {
  return routerPorts(view, routerId).filter((p) => ROUTER_INTERFACE_OWNERS.includes(p.device_owner as string));
}

export function gatewayPort(view: ReadView, router: Doc): Doc | undefined {
  const id = router.gw_port_id as string | null | undefined;
  return id ? view.get('port', id) : undefined;
}

export function gatewayInfo(router: Doc): GatewayInfo | null {
  return (router.external_gateway_info as GatewayInfo | null | undefined) ?? null;
}

/** The subnets of a router's ports; the gateway port counts with every subnet of its network. */
function routerSubnets(view: ReadView, routerId: string, exceptPort?: string): Array<{ subnet: Doc; port: Doc }> {
  const out: Array<{ subnet: Doc; port: Doc }> = [];
  for (const port of routerPorts(view, routerId)) {
    if (port.id === exceptPort) continue;
    const subnets = port.device_owner === ROUTER_GATEWAY
      ? view.find('subnet', 'network_id', port.network_id)
      : (port.fixed_ips as FixedIp[]).map((f) => view.get('subnet', f.subnet_id)).filter((s): s is Doc => !!s);
    for (const subnet of subnets) out.push({ subnet, port });
  }
  return out;
}

/** Neutron's _check_for_dup_router_subnets: one port per subnet, no overlapping CIDRs. */
export function checkDupRouterSubnets(view: ReadView, routerId: string, newSubnets: readonly Doc[], exceptPort?: string): void {
  const ids = new Set(newSubnets.map((s) => s.id));
  for (const port of routerPorts(view, routerId)) {
    if (port.id === exceptPort) continue;
    for (const ip of port.fixed_ips as FixedIp[]) {
      if (ids.has(ip.subnet_id)) throw badResource('router', `Router already has a port on subnet ${ip.subnet_id}`);
    }
  }
  for (const { subnet: sub } of routerSubnets(view, routerId, exceptPort)) {
    for (const s of newSubnets) {
      if (cidrTextsOverlap(sub.cidr as string, s.cidr as string)) {
        throw badResource('router', `Cidr ${s.cidr} of subnet ${s.id} overlaps with cidr ${sub.cidr} of subnet ${sub.id}`);
      }
    }
  }
}

// ---- extra routes ------------------------------------------------------------------

/** Every nexthop must sit on a subnet of the router and must not be one of its own addresses. */
export function validateRoutes(view: ReadView, routerId: string, routes: readonly Route[]): void {
  if (routes.length > MAX_ROUTES) {
    throw new NeutronError(400, 'RoutesExhausted', `Unable to complete operation for ${routerId}. The number of routes exceeds the maximum ${MAX_ROUTES}.`);
  }
  const seen = new Set<string>();
  for (const r of routes) {
    const key = `${r.destination}|${r.nexthop}`;
    if (seen.has(key)) throw badRequest(`Invalid input for routes. Reason: Duplicate hostroute '${pyRoutes([r]).slice(1, -1)}'.`);
    seen.add(key);
  }
  const cidrs = routerSubnets(view, routerId).map(({ subnet }) => subnet.cidr as string);
  const ips = routerPorts(view, routerId).flatMap((p) => (p.fixed_ips as FixedIp[]).map((f) => f.ip_address));
  for (const r of routes) {
    if (!cidrs.some((c) => ipInCidr(r.nexthop, c))) throw invalidRoutes(routes, 'the nexthop is not connected with router');
    if (ips.some((ip) => sameIp(ip, r.nexthop))) throw invalidRoutes(routes, 'the nexthop is used by router');
  }
}

export function addRoutes(old: readonly Route[], add: readonly Route[]): Route[] {
  const out = [...old];
  for (const r of add) if (!out.some((o) => o.destination === r.destination && o.nexthop === r.nexthop)) out.push(r);
  return out;
}

export function removeRoutes(old: readonly Route[], remove: readonly Route[]): Route[] {
  return old.filter((o) => !remove.some((r) => o.destination === r.destination && o.nexthop === r.nexthop));
}

// ---- gateway -----------------------------------------------------------------------

function assertGatewayNotUsedByFips(view: ReadView, router: Doc): void {
  const gw = gatewayInfo(router);
  if (gw && view.find('floatingip', 'router_id', router.id).length) throw gatewayInUseByFip(router.id, gw.network_id);
}

function dropGatewayPort(tx: Tx, router: Doc): void {
  const port = gatewayPort(tx, router);
  if (port) deletePort(tx, port);
}

type GatewayPatch = { external_gateway_info: GatewayInfo | null; gw_port_id: string | null };

/**
 * Apply a requested external_gateway_info to `router` (already stored in tx); returns the
 * fields to write. null / {} clears the gateway.
 */
function applyGateway(tx: Tx, ctx: RequestContext, router: Doc, info: ExternalGatewayInfo, action: string): GatewayPatch {
  const current = gatewayInfo(router);
  if (!info || !('network_id' in info)) {
    if (current) {
      assertGatewayNotUsedByFips(tx, router);
      dropGatewayPort(tx, router);
    }
    return { external_gateway_info: null, gw_port_id: null };
  }
  if (!ctx.isAdmin) {
    if (info.enable_snat !== undefined) throw forbidden(`${action}:external_gateway_info:enable_snat`);
    if (info.external_fixed_ips !== undefined) throw forbidden(`${action}:external_gateway_info:external_fixed_ips`);
  }
  const net = tx.get('network', info.network_id);
  if (!net || !networkVisibleTo(ctx, net)) throw notFound('network', info.network_id);
  if (!net['router:external']) throw badResource('router', `Network ${net.id} is not an external network`);
  const subnets = tx.find('subnet', 'network_id', net.id);
  const wanted = info.external_fixed_ips;
  for (const ext of wanted ?? []) {
    if (ext.ip_address && subnets.some((s) => s.gateway_ip && s.gateway_ip === ext.ip_address)) {
      throw badResource('router', `External IP ${ext.ip_address} is the same as the gateway IP`);
    }
  }
  const enable_snat = info.enable_snat ?? true;
  const port = gatewayPort(tx, router);
  if (current && port && current.network_id === net.id) {
    const have = (port.fixed_ips as FixedIp[]).map((f) => f.ip_address).sort().join(',');
    const want = (wanted ?? []).map((f) => f.ip_address).filter(Boolean).sort().join(',');
    const unchanged = wanted === undefined || want === have;
    if (unchanged) return { external_gateway_info: { ...current, enable_snat }, gw_port_id: port.id };
    dropGatewayPort(tx, router); // same network, new addresses: floating IPs stay valid
  } else if (current) {
    assertGatewayNotUsedByFips(tx, router);
    dropGatewayPort(tx, router);
  }
  checkDupRouterSubnets(tx, router.id, subnets, port?.id);
  // Like Neutron's, the gateway port belongs to no project: tenants do not see it and it counts against no quota.
  const created = createPort(tx, systemContext(''), {
    network_id: net.id,
    project_id: '',
    name: '',
    admin_state_up: true,
    device_id: router.id,
    device_owner: ROUTER_GATEWAY,
    ...(wanted && wanted.length ? { fixed_ips: wanted } : {}),
  }, { noSecurity: true, skipQuota: true });
  const fixed = (created.fixed_ips as FixedIp[]).map((f) => ({ subnet_id: f.subnet_id, ip_address: f.ip_address }));
  return { external_gateway_info: { network_id: net.id, enable_snat, external_fixed_ips: fixed }, gw_port_id: created.id };
}

// ---- the router resource -------------------------------------------------------------

const ADMIN_ATTRS = ['distributed', 'ha'] as const;

/** The controller's L3 HA settings (config l3Ha, maxL3AgentsPerRouter). */
export interface RouterHaOptions {
  /** `ha` of a router created without it. */
  defaultHa: boolean;
  /** Gateway hosts (active plus standbys) an HA router gets at most. */
  maxHosts: number;
}
const NO_HA: RouterHaOptions = { defaultHa: false, maxHosts: DEFAULT_MAX_L3_AGENTS_PER_ROUTER };

export function createRouter(tx: Tx, ctx: RequestContext, input: RouterCreate, haOpts: RouterHaOptions = NO_HA): Doc {
  requireAdminFor(ctx, input, ADMIN_ATTRS, 'create_router');
  const ha = input.ha ?? haOpts.defaultHa;
  const project = owningProject(ctx, input);
  let doc: Doc = {
    ...standard(project),
    name: input.name ?? '',
    description: input.description ?? '',
    admin_state_up: input.admin_state_up ?? true,
    status: 'ACTIVE',
    external_gateway_info: null,
    gw_port_id: null,
    routes: [],
    distributed: input.distributed ?? false,
    ha,
    ...(ha ? { ha_max_hosts: haOpts.maxHosts } : {}),
    flavor_id: null,
    availability_zone_hints: input.availability_zone_hints ?? [],
    tags: [...new Set(input.tags ?? [])],
  };
  tx.put('router', doc);
  if (input.external_gateway_info !== undefined) {
    doc = { ...doc, ...applyGateway(tx, ctx, doc, input.external_gateway_info, 'create_router') };
    tx.put('router', doc);
    // The gateway port goes to the router's gateway host (l3-scheduler.ts).
    if (doc.gw_port_id) placeRouter(tx, doc);
  }
  return doc;
}

export function updateRouter(tx: Tx, ctx: RequestContext, current: Doc, input: RouterUpdate, haOpts: RouterHaOptions = NO_HA): Doc {
  requireAdminFor(ctx, input, ADMIN_ATTRS, 'update_router');
  const { external_gateway_info, routes, ...plain } = input;
  const patch: Record<string, unknown> = { ...plain };
  // Neutron (l3_hamode_db): `ha` changes only on a router that is (or is being set) admin-down.
  const haChanged = input.ha !== undefined && input.ha !== !!current.ha;
  if (haChanged && (input.admin_state_up ?? current.admin_state_up)) {
    throw badResource('router', 'Cannot change HA attribute of active routers. Please set router admin_state_up to False prior to upgrade');
  }
  if (haChanged) patch.ha_max_hosts = input.ha ? haOpts.maxHosts : undefined;
  if (external_gateway_info !== undefined) Object.assign(patch, applyGateway(tx, ctx, current, external_gateway_info, 'update_router'));
  if (routes !== undefined) patch.routes = routes ?? [];
  // Routes are checked against the ports the router has after any gateway change.
  validateRoutes(tx, current.id, (patch.routes ?? current.routes) as Route[]);
  let next = revise(current, patch as Partial<Doc>);
  if (haChanged && !input.ha) {
    const { ha_max_hosts: _m, gateway_hosts: _g, ...rest } = next;
    next = rest as Doc;
  }
  tx.put('router', next);
  if (haChanged && !input.ha) refreshGatewayCapable(tx, gatewayHostsOf(current));
  if (external_gateway_info !== undefined && next.gw_port_id) placeRouter(tx, next);
  else if (haChanged) refreshGatewayGroup(tx, next.id, routerHost(tx, next.id));
  return tx.get('router', next.id) ?? next;
}

export function removeRouter(tx: Tx, _ctx: RequestContext, router: Doc): void {
  const interfaces = interfacePorts(tx, router.id);
  if (interfaces.length) {
    throw inUse('RouterInUse', `Router ${router.id} has ports still attached: ${interfaces.map((p) => p.id).join(', ')}`);
  }
  assertGatewayNotUsedByFips(tx, router);
  dropGatewayPort(tx, router);
  tx.remove('router', router.id);
  refreshGatewayCapable(tx, gatewayHostsOf(router));
}

/** add_extraroutes / remove_extraroutes (extraroute-atomic): one update of the whole set. */
export function changeExtraRoutes(tx: Tx, ctx: RequestContext, router: Doc, routes: readonly Route[], op: 'add' | 'remove'): Doc {
  const old = (router.routes as Route[]) ?? [];
  return updateRouter(tx, ctx, router, { routes: op === 'add' ? addRoutes(old, routes) : removeRoutes(old, routes) });
}
