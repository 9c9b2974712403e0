import type { RequestContext } from '../auth/context.ts';
import { inUse, NeutronError, notFound } from '../errors.ts';
import type { Doc, ReadView, Tx } from '../store/types.ts';
import type { Route, RouterInterfaceInfo } from '../../schemas/api/router.ts';
import { releaseIp } from './ipam.ts';
import { storedPortForwardings } from './port-forwardings.ts';
import { createPort, deletePort, portVisible } from './ports.ts';
import { placeRouter } from './l3-scheduler.ts';
import {
  badResource, checkDupRouterSubnets, interfacePorts, ipInCidr, ipVersion, ROUTER_INTERFACE, systemContext, type FixedIp,
} from './routers.ts';
import { subnetVisible } from './subnets.ts';
import { revise } from './standard-attrs.ts';

// PUT /routers/{id}/add_router_interface and remove_router_interface, as Neutron's
// l3_db does them: by subnet (a new port holding the subnet's gateway IP) or by an
// existing unbound port.

export interface InterfaceInfo {
  id: string;
  tenant_id: string;
  project_id: string;
  port_id: string;
  network_id: string;
  subnet_id: string;
  subnet_ids: string[];
}

function infoOf(router: Doc, port: Doc, subnetIds: string[]): InterfaceInfo {
  return {
    id: router.id,
    tenant_id: router.project_id as string,
    project_id: router.project_id as string,
    port_id: port.id,
    network_id: port.network_id as string,
    subnet_id: subnetIds[0],
    subnet_ids: subnetIds,
  };
}

function checkInterfaceInfo(info: RouterInterfaceInfo, forRemoval: boolean): void {
  if (info.port_id === undefined && info.subnet_id === undefined) {
    throw badResource('router', 'Either subnet_id or port_id must be specified');
  }
  if (!forRemoval && info.port_id !== undefined && info.subnet_id !== undefined) {
    throw badResource('router', 'Cannot specify both subnet-id and port-id');
  }
}

function visibleSubnet(view: ReadView, ctx: RequestContext, id: string): Doc {
  const subnet = view.get('subnet', id);
  if (!subnet || !subnetVisible(view, ctx, subnet)) throw notFound('subnet', id);
  return subnet;
}

function visiblePort(view: ReadView, ctx: RequestContext, id: string): Doc {
  const port = view.get('port', id);
  if (!port || !portVisible(view, ctx, port)) throw notFound('port', id);
  return port;
}

export function addRouterInterface(tx: Tx, ctx: RequestContext, router: Doc, info: RouterInterfaceInfo): InterfaceInfo {
  checkInterfaceInfo(info, false);
  const added = info.port_id !== undefined ? addByPort(tx, ctx, router, info.port_id) : addBySubnet(tx, ctx, router, info.subnet_id as string);
  // The new port goes to the router's gateway host, or the router is placed now (l3-scheduler.ts).
  placeRouter(tx, router);
  return added;
}

function addBySubnet(tx: Tx, ctx: RequestContext, router: Doc, subnetId: string): InterfaceInfo {
  const subnet = visibleSubnet(tx, ctx, subnetId);
  if (!subnet.gateway_ip) throw badResource('router', 'Subnet for router interface must have a gateway IP');
  if (!ctx.isAdmin && subnet.project_id !== ctx.projectId) {
    throw badResource('router', `Cannot add interface to router because subnet ${subnet.id} is not owned by project making the request`);
  }
  checkDupRouterSubnets(tx, router.id, [subnet]);
  const port = createPort(tx, systemContext(router.project_id as string), {
    project_id: router.project_id as string,
    network_id: subnet.network_id as string,
    fixed_ips: [{ subnet_id: subnet.id, ip_address: subnet.gateway_ip as string }],
    admin_state_up: true,
    device_id: router.id,
    device_owner: ROUTER_INTERFACE,
    name: '',
  }, { noSecurity: true });
  return infoOf(router, port, [subnet.id]);
}

function addByPort(tx: Tx, ctx: RequestContext, router: Doc, portId: string): InterfaceInfo {
  const port = visiblePort(tx, ctx, portId);
  if (port.device_id) {
    throw inUse('PortInUse', `Unable to complete operation on port ${port.id} for network ${port.network_id}. Port already has an attached device ${port.device_id}.`);
  }
  const fixed = port.fixed_ips as FixedIp[];
  if (!fixed.length) throw badResource('router', 'Router port must have at least one fixed IP');
  const subnets = fixed.map((f) => tx.get('subnet', f.subnet_id)).filter((s): s is Doc => !!s);
  checkDupRouterSubnets(tx, router.id, subnets, port.id);
  if (subnets.filter((s) => s.ip_version === 4 || ipVersion(s.cidr as string) === 4).length > 1) {
    throw badResource('router', 'Cannot have multiple IPv4 subnets on router port');
  }
  const next = revise(port, { device_id: router.id, device_owner: ROUTER_INTERFACE });
  tx.put('port', next);
  return infoOf(router, next, subnets.map((s) => s.id));
}

/**
 * Floating IPs, port forwardings and extra routes that still need an interface on `subnet`
 * (Neutron's l3_db _check_router_interface_not_in_use and extraroute_db's override). A port
 * forwarding of one of the router's floating IPs to an address on the subnet counts like a
 * floating IP: Neutron raises RouterInterfaceInUseByFloatingIP for both.
 */
function confirmNotInUse(view: ReadView, router: Doc, subnet: Doc): void {
  const cidr = subnet.cidr as string;
  const onSubnet = new Set(view.find('port', 'subnet_id', subnet.id).map((p) => p.id));
  const fipInUse = () => inUse('RouterInterfaceInUseByFloatingIP',
    `Router interface for subnet ${subnet.id} on router ${router.id} cannot be deleted, as it is required by one or more floating IPs.`);
  const fips = view.find('floatingip', 'router_id', router.id);
  for (const fip of fips) {
    for (const pf of storedPortForwardings(fip)) {
      if (ipInCidr(pf.internal_ip_address, cidr) && onSubnet.has(pf.internal_port_id)) throw fipInUse();
    }
  }
  for (const fip of fips) {
    const fixed = fip.fixed_ip_address as string | null;
    if (fixed && ipInCidr(fixed, cidr) && onSubnet.has(fip.port_id as string)) throw fipInUse();
  }
  for (const route of (router.routes as Route[]) ?? []) {
    if (ipInCidr(route.nexthop, cidr)) {
      throw inUse('RouterInterfaceInUseByRoute', `Router interface for subnet ${subnet.id} on router ${router.id} cannot be deleted, as it is required by one or more routes.`);
    }
  }
}

export function removeRouterInterface(tx: Tx, ctx: RequestContext, router: Doc, info: RouterInterfaceInfo): InterfaceInfo {
  checkInterfaceInfo(info, true);
  if (info.port_id !== undefined) return removeByPort(tx, router, info.port_id, info.subnet_id);
  return removeBySubnet(tx, ctx, router, info.subnet_id as string);
}

function removeByPort(tx: Tx, router: Doc, portId: string, subnetId?: string): InterfaceInfo {
  const port = interfacePorts(tx, router.id).find((p) => p.id === portId);
  if (!port) {
    throw new NeutronError(404, 'RouterInterfaceNotFound', `Router ${router.id} does not have an interface with id ${portId}`);
  }
  const subnetIds = (port.fixed_ips as FixedIp[]).map((f) => f.subnet_id);
  if (subnetId !== undefined && !subnetIds.includes(subnetId)) {
    throw new NeutronError(400, 'SubnetMismatchForPort', `Subnet on port ${portId} does not match the requested subnet ${subnetId}.`);
  }
  for (const id of subnetIds) {
    const subnet = tx.get('subnet', id);
    if (subnet) confirmNotInUse(tx, router, subnet);
  }
  deletePort(tx, port);
  return infoOf(router, port, subnetIds);
}

function removeBySubnet(tx: Tx, ctx: RequestContext, router: Doc, subnetId: string): InterfaceInfo {
  const subnet = visibleSubnet(tx, ctx, subnetId);
  const ports = interfacePorts(tx, router.id).filter((p) => p.network_id === subnet.network_id);
  if (ports.length) confirmNotInUse(tx, router, subnet);
  for (const port of ports) {
    const fixed = port.fixed_ips as FixedIp[];
    if (!fixed.some((f) => f.subnet_id === subnetId)) continue;
    if (fixed.length > 1) {
      // A multi-prefix (IPv6) port: drop only this subnet's address.
      for (const f of fixed.filter((f) => f.subnet_id === subnetId)) releaseIp(tx, f.subnet_id, f.ip_address);
      tx.put('port', revise(port, { fixed_ips: fixed.filter((f) => f.subnet_id !== subnetId) }));
    } else {
      deletePort(tx, port);
    }
    return infoOf(router, port, [subnetId]);
  }
  throw new NeutronError(404, 'RouterInterfaceNotFoundForSubnet', `Router ${router.id} has no interface on subnet ${subnetId}`);
}
