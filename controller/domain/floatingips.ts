import type { RequestContext } from '../auth/context.ts';
import { forbidden, inUse, invalidInput, NeutronError, notFound } from '../errors.ts';
import type { Doc, ReadView, Tx } from '../store/types.ts';
import type { FloatingIpCreate, FloatingIpUpdate } from '../../schemas/api/floatingip.ts';
import { allocateIp, invalidIpForNetwork, ipGenerationFailure, releaseIp } from './ipam.ts';
import { owningProject } from './policy.ts';
import {
  badResource, gatewayInfo, ipInCidr, ipVersion, sameIp, type FixedIp,
} from './routers.ts';
import { portVisible } from './ports.ts';
import { networkVisibleTo } from './subnets.ts';
import { newId, revise, standard } from './standard-attrs.ts';
import { checkNoPortForwardings, storedPortForwardings } from './port-forwardings.ts';

// Floating IPs. The address is a claim in the external subnet's IP scope held by the
// floating IP's id (no external port is made), so it can never collide with a port.
// The document keeps `floating_subnet_id` (internal, not presented) to give it back.

const bad = (msg: string) => badResource('floatingip', msg);

interface Association { port_id: string | null; fixed_ip_address: string | null; router_id: string | null }
const NONE: Association = { port_id: null, fixed_ip_address: null, router_id: null };

const isV4Subnet = (s: Doc) => (s.ip_version ?? ipVersion(s.cidr as string)) === 4;

/** Neutron's get_router_for_floatingip: a router with an interface on the subnet and its gateway on the external network. */
export function routerForFloatingIp(view: ReadView, port: Doc, subnet: Doc, externalNetworkId: string): string {
  if (!subnet.gateway_ip) throw bad(`Cannot add floating IP to port on subnet ${subnet.id} which has no gateway_ip`);
  let first: string | undefined;
  for (const rport of view.find('port', 'router_interface_subnet', subnet.id)) {
    if (rport.network_id !== port.network_id) continue;
    const router = view.get('router', rport.device_id as string);
    if (!router || gatewayInfo(router)?.network_id !== externalNetworkId) continue;
    const ifaceIps = (rport.fixed_ips as FixedIp[]).filter((f) => f.subnet_id === subnet.id).map((f) => f.ip_address);
    if (ifaceIps.some((ip) => sameIp(ip, subnet.gateway_ip as string))) return router.id;
    first ??= router.id;
  }
  if (first) return first;
  throw new NeutronError(404, 'ExternalGatewayForFloatingIPNotFound',
    `External network ${externalNetworkId} is not reachable from subnet ${subnet.id}.  Therefore, cannot associate Port ${port.id} with a Floating IP.`);
}

/** Work out port, fixed IP and router for associating `fip` with `portId` (Neutron's _get_assoc_data). */
function association(tx: Tx, ctx: RequestContext, fip: Doc, portId: string, fixedIp: string | null | undefined): Association {
  const port = tx.get('port', portId);
  if (!port || !portVisible(tx, ctx, port)) throw notFound('port', portId);
  if (port.project_id !== fip.project_id && !ctx.isAdmin) {
    throw bad(`Cannot process floating IP association with Port ${portId}, since that port is owned by a different project`);
  }
  if (port.device_owner === 'network:dhcp') throw bad(`Port ${portId} is unable to be assigned a floating IP`);
  const fixed = port.fixed_ips as FixedIp[];
  let chosen: FixedIp | undefined;
  if (fixedIp) {
    if (ipVersion(fixedIp) !== 4) throw bad(`Cannot process floating IP association with ${fixedIp}, since that is not an IPv4 address`);
    chosen = fixed.find((f) => sameIp(f.ip_address, fixedIp));
    if (!chosen) throw bad(`Port ${portId} does not have fixed ip ${fixedIp}`);
  } else {
    const v4 = fixed.filter((f) => ipVersion(f.ip_address) === 4);
    if (!v4.length) throw bad(`Cannot add floating IP to port ${portId} that has no fixed IPv4 addresses`);
    if (v4.length > 1) throw bad(`Port ${portId} has multiple fixed IPv4 addresses.  Must provide a specific IPv4 address when assigning a floating IP`);
    chosen = v4[0];
  }
  const subnet = tx.get('subnet', chosen.subnet_id);
  if (!subnet) throw notFound('subnet', chosen.subnet_id);
  const routerId = routerForFloatingIp(tx, port, subnet, fip.floating_network_id as string);
  if (port.id === fip.port_id) return { port_id: port.id, fixed_ip_address: chosen.ip_address, router_id: routerId };
  const taken = tx.find('floatingip', 'port_id', port.id).some((other) => other.id !== fip.id
    && other.floating_network_id === fip.floating_network_id && sameIp(other.fixed_ip_address as string, chosen.ip_address));
  if (taken) {
    throw inUse('FloatingIPPortAlreadyAssociated', `Cannot associate floating IP ${fip.floating_ip_address} (${fip.id}) with port ${port.id} using fixed IP ${chosen.ip_address}, as that fixed IP already has a floating IP on external network ${fip.floating_network_id}.`);
  }
  return { port_id: port.id, fixed_ip_address: chosen.ip_address, router_id: routerId };
}

/** The association an update asks for (Neutron's _check_and_get_fip_assoc). */
function requestedAssociation(tx: Tx, ctx: RequestContext, fip: Doc, input: { port_id?: string | null; fixed_ip_address?: string | null }): Association {
  if (input.fixed_ip_address && !input.port_id) throw bad('fixed_ip_address cannot be specified without a port_id');
  if (input.port_id) return association(tx, ctx, fip, input.port_id, input.fixed_ip_address);
  if (input.port_id === undefined && fip.port_id) {
    // No port_id given: keep the association (the router is worked out again).
    return association(tx, ctx, fip, fip.port_id as string, fip.fixed_ip_address as string);
  }
  return NONE;
}

/** Take the floating address: the requested one, or the first free one on the network's IPv4 subnets. */
function allocateFloatingAddress(tx: Tx, net: Doc, fipId: string, subnetId?: string | null, requested?: string): { subnet: Doc; ip: string } {
  const subnets = tx.find('subnet', 'network_id', net.id);
  if (!subnets.some(isV4Subnet)) throw bad(`Network ${net.id} does not contain any IPv4 subnet`);
  let candidates: Doc[];
  if (subnetId) {
    const subnet = subnets.find((s) => s.id === subnetId);
    if (!subnet) throw invalidInput(`Failed to create port on network ${net.id}, because fixed_ips included invalid subnet ${subnetId}`);
    candidates = [subnet];
  } else if (requested) {
    candidates = subnets.filter((s) => ipInCidr(requested, s.cidr as string));
    if (!candidates.length) {
      throw invalidIpForNetwork(requested);
    }
  } else {
    candidates = subnets.filter(isV4Subnet);
  }
  if (!candidates.some(isV4Subnet)) throw new NeutronError(400, 'ExternalIpAddressExhausted', `Unable to find any IP address on external network ${net.id}.`);
  let lastError: unknown;
  for (const subnet of candidates.filter(isV4Subnet)) {
    try {
      return { subnet, ip: allocateIp(tx, subnet, fipId, requested) };
    } catch (err) {
      // A full subnet: try the next one; any other error (e.g. the requested address is taken) stands.
      if (requested || !(err instanceof NeutronError) || err.type !== 'IpAddressGenerationFailure') throw err;
      lastError = err;
    }
  }
  throw lastError ?? ipGenerationFailure(net.id);
}

export function createFloatingIp(tx: Tx, ctx: RequestContext, input: FloatingIpCreate): Doc {
  const project = owningProject(ctx, input);
  if (input.floating_ip_address !== undefined && !ctx.isAdmin && !ctx.roles.some((r) => r.toLowerCase() === 'manager')) {
    throw forbidden('create_floatingip:floating_ip_address');
  }
  const net = tx.get('network', input.floating_network_id);
  if (!net || !networkVisibleTo(ctx, net)) throw notFound('network', input.floating_network_id);
  if (!net['router:external']) throw bad(`Network ${net.id} is not a valid external network`);
  const id = newId();
  const { subnet, ip } = allocateFloatingAddress(tx, net, id, input.subnet_id, input.floating_ip_address);
  const base: Doc = {
    ...standard(project, id),
    description: input.description ?? '',
    floating_network_id: net.id,
    floating_ip_address: ip,
    floating_subnet_id: subnet.id,
    ...NONE,
    status: 'DOWN',
    qos_policy_id: null,
    tags: [...new Set(input.tags ?? [])],
  };
  const doc = { ...base, ...requestedAssociation(tx, ctx, base, { port_id: input.port_id ?? null, fixed_ip_address: input.fixed_ip_address }) };
  tx.put('floatingip', doc);
  return doc;
}

export function updateFloatingIp(tx: Tx, ctx: RequestContext, current: Doc, input: FloatingIpUpdate): Doc {
  // An empty update disassociates (the API's oldest form, kept by Neutron); any other one without
  // port_id keeps the association (Neutron bug #1610045).
  const blank = Object.values(input).every((v) => v === undefined);
  const assoc = requestedAssociation(tx, ctx, current, blank ? { port_id: null } : input);
  if (assoc.port_id) checkNoPortForwardings(current);
  const patch: Record<string, unknown> = { ...assoc };
  // Unassociated with port forwardings: the router stays that of the forwardings' internal ports.
  if (!assoc.port_id && storedPortForwardings(current).length) patch.router_id = current.router_id ?? null;
  if (input.description !== undefined) patch.description = input.description;
  const next = revise(current, patch as Partial<Doc>);
  tx.put('floatingip', next);
  return next;
}

/** DELETE of a floating IP: refused while it carries port forwardings, as in Neutron. */
export function deleteFloatingIp(tx: Tx, fip: Doc): void {
  checkNoPortForwardings(fip);
  removeFloatingIp(tx, fip);
}

/** The floating IP goes, with any port forwardings it carries (its network is being deleted). */
export function removeFloatingIp(tx: Tx, fip: Doc): void {
  releaseIp(tx, fip.floating_subnet_id as string, fip.floating_ip_address as string);
  tx.remove('floatingip', fip.id);
}

/** A port goes away: its floating IPs stay, unassociated (Neutron's disassociate_floatingips; ports.deletePort does the same inline). */
export function disassociateFloatingIpsOfPort(tx: Tx, portId: string): void {
  for (const fip of tx.find('floatingip', 'port_id', portId)) tx.put('floatingip', revise(fip, { ...NONE } as Partial<Doc>));
}

/** Neutron's prevent_internal_ip_change_for_fip: a port update may not drop a fixed IP a floating IP maps to. */
export function preventInternalIpChangeForFip(view: ReadView, portId: string, newFixedIps: ReadonlyArray<{ ip_address?: string }>): void {
  for (const fip of view.find('floatingip', 'port_id', portId)) {
    const internal = fip.fixed_ip_address as string | null;
    if (!internal) continue;
    if (!newFixedIps.some((f) => f.ip_address && sameIp(f.ip_address, internal))) {
      throw badResource('port', `Cannot update the fixed_ips of the port ${portId}, because its original fixed_ip has been associated to a floating ip`);
    }
  }
}

/** fip-port-details: what a floating IP shows of its port. */
export function portDetails(view: ReadView, fip: Doc): Record<string, unknown> | null {
  const port = fip.port_id ? view.get('port', fip.port_id as string) : undefined;
  if (!port) return null;
  const { name, network_id, mac_address, admin_state_up, status, device_id, device_owner } = port;
  return { name, network_id, mac_address, admin_state_up, status, device_id, device_owner };
}
