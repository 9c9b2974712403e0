import type { RequestContext } from '../auth/context.ts';
import { badRequest, conflict, NeutronError, notFound } from '../errors.ts';
import type { Doc, ReadView, Tx } from '../store/types.ts';
import type { PortForwardingCreate, PortForwardingUpdate, StoredPortForwarding } from '../../schemas/api/port-forwarding.ts';
import { routerForFloatingIp } from './floatingips.ts';
import { portVisible } from './ports.ts';
import { badResource, ipVersion, sameIp, type FixedIp } from './routers.ts';
import { newId, revise } from './standard-attrs.ts';

/** Neutron turns the database's duplicate entry into a BadRequest for port forwardings (400, not 409). */
const duplicate = (what: string) => new NeutronError(400, 'BadRequest', `Bad port_forwarding request: ${what}.`);

// Floating IP port forwardings (Neutron's floating-ip-port-forwarding). They live INSIDE the
// floating IP document as `port_forwardings` (StoredPortForwarding[]), so the agent view and
// the sync carry them with the floating IP. A floating IP with port forwardings is not
// associated with a port and has the router_id of the internal port's router.

const bad = (msg: string) => badResource('port_forwarding', msg);

export const pfNotFound = (id: string) => notFound('port_forwarding', id);

export const storedPortForwardings = (fip: Doc): StoredPortForwarding[] =>
  Array.isArray(fip.port_forwardings) ? (fip.port_forwardings as StoredPortForwarding[]) : [];

const rangeText = (lo: number, hi: number) => `${lo}:${hi}`;

/** The API body of one port forwarding. */
export function presentPortForwarding(pf: StoredPortForwarding): Record<string, unknown> {
  const single = (lo: number, hi: number) => (lo === hi ? lo : null);
  return {
    id: pf.id,
    protocol: pf.protocol,
    internal_ip_address: pf.internal_ip_address,
    internal_port_id: pf.internal_port_id,
    internal_port: single(pf.internal_port_start, pf.internal_port_end),
    external_port: single(pf.external_port_start, pf.external_port_end),
    internal_port_range: rangeText(pf.internal_port_start, pf.internal_port_end),
    external_port_range: rangeText(pf.external_port_start, pf.external_port_end),
    description: pf.description,
  };
}

/** What a floating IP body shows of its port forwardings (expose-port-forwarding-in-fip). */
export function fipPortForwardings(fip: Doc): Record<string, unknown>[] {
  return storedPortForwardings(fip).map((pf) => {
    const single = pf.internal_port_start === pf.internal_port_end && pf.external_port_start === pf.external_port_end;
    return single
      ? { protocol: pf.protocol, internal_ip_address: pf.internal_ip_address, internal_port: pf.internal_port_start, external_port: pf.external_port_start }
      : { protocol: pf.protocol, internal_ip_address: pf.internal_ip_address,
        internal_port_range: rangeText(pf.internal_port_start, pf.internal_port_end),
        external_port_range: rangeText(pf.external_port_start, pf.external_port_end) };
  });
}

function parseRange(text: string, field: string): [number, number] {
  const [a, b = a] = text.split(':').map(Number);
  for (const n of [a, b]) {
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw badRequest(`Invalid input for ${field}. Reason: '${text}' is not a valid port range.`);
  }
  if (a > b) throw badRequest(`Invalid input for ${field}. Reason: '${text}' is not a valid port range.`);
  return [a, b];
}

interface Ports { internal: [number, number]; external: [number, number] }

/** Single ports or ranges, never both (Neutron's _validate_port_forwarding_ranges). */
function requestedPorts(input: PortForwardingUpdate, current?: StoredPortForwarding): Ports {
  const singles = input.internal_port !== undefined || input.external_port !== undefined;
  const ranges = input.internal_port_range !== undefined || input.external_port_range !== undefined;
  if (singles && ranges) throw bad('The internal_port and external_port attributes cannot be used together with internal_port_range and external_port_range');
  let internal: [number, number] | undefined = current ? [current.internal_port_start, current.internal_port_end] : undefined;
  let external: [number, number] | undefined = current ? [current.external_port_start, current.external_port_end] : undefined;
  if (input.internal_port !== undefined) internal = [input.internal_port, input.internal_port];
  if (input.external_port !== undefined) external = [input.external_port, input.external_port];
  if (input.internal_port_range !== undefined) internal = parseRange(input.internal_port_range, 'internal_port_range');
  if (input.external_port_range !== undefined) external = parseRange(input.external_port_range, 'external_port_range');
  if (!internal) throw bad('The internal_port or internal_port_range attribute is required');
  if (!external) throw bad('The external_port or external_port_range attribute is required');
  if (internal[0] !== internal[1] && internal[1] - internal[0] !== external[1] - external[0]) {
    throw bad(`The relation between internal and external ports does not match the pattern 1:N and N:N: internal ${rangeText(...internal)}, external ${rangeText(...external)}`);
  }
  return { internal, external };
}

const overlaps = (a: [number, number], b: [number, number]) => a[0] <= b[1] && b[0] <= a[1];

/** Check a port forwarding against the floating IP, its internal port and the others; returns the router it needs. */
function validate(tx: Tx, ctx: RequestContext, fip: Doc, pf: StoredPortForwarding): string {
  if (fip.port_id) {
    throw conflict('FipInUse', `Port forwarding cannot be created on floating IP ${fip.id}: it is associated with port ${fip.port_id as string}.`);
  }
  const port = tx.get('port', pf.internal_port_id);
  if (!port || !portVisible(tx, ctx, port)) throw notFound('port', pf.internal_port_id);
  if (ipVersion(pf.internal_ip_address) !== 4) throw bad(`The internal IP address ${pf.internal_ip_address} is not an IPv4 address`);
  const fixed = (port.fixed_ips as FixedIp[]).find((f) => sameIp(f.ip_address, pf.internal_ip_address));
  if (!fixed) throw bad(`The internal IP address ${pf.internal_ip_address} is not one of the fixed IPs of port ${port.id}`);
  // Neutron: a port whose fixed IP has a floating IP of its own cannot be the target.
  const bound = tx.find('floatingip', 'port_id', port.id).find((f) => sameIp(f.fixed_ip_address as string, pf.internal_ip_address));
  if (bound) {
    throw conflict('PortHasBindingFloatingIP', `Cannot create port forwarding to floating IP ${fip.floating_ip_address as string} (${fip.id}) with port ${port.id} using fixed IP ${pf.internal_ip_address}, as that port already has a binding floating IP.`);
  }
  const subnet = tx.get('subnet', fixed.subnet_id);
  if (!subnet) throw notFound('subnet', fixed.subnet_id);
  const routerId = routerForFloatingIp(tx, port, subnet, fip.floating_network_id as string);
  const others = storedPortForwardings(fip).filter((o) => o.id !== pf.id);
  if (fip.router_id && fip.router_id !== routerId && others.length) {
    throw bad(`The internal port ${port.id} is not behind router ${fip.router_id as string} of floating IP ${fip.id}`);
  }
  const ext: [number, number] = [pf.external_port_start, pf.external_port_end];
  const int: [number, number] = [pf.internal_port_start, pf.internal_port_end];
  for (const o of others) {
    if (o.protocol !== pf.protocol) continue;
    if (overlaps(ext, [o.external_port_start, o.external_port_end])) {
      throw duplicate(`A duplicate port forwarding entry with same attributes already exists, conflicting values are {'floatingip_id': '${fip.id}', 'external_port': ${rangeText(...ext)}, 'protocol': '${pf.protocol}'}`);
    }
    if (o.internal_port_id === pf.internal_port_id && sameIp(o.internal_ip_address, pf.internal_ip_address)
      && overlaps(int, [o.internal_port_start, o.internal_port_end])) {
      throw duplicate(`A duplicate port forwarding entry with same attributes already exists, conflicting values are {'internal_port_id': '${pf.internal_port_id}', 'internal_ip_address': '${pf.internal_ip_address}', 'internal_port': ${rangeText(...int)}, 'protocol': '${pf.protocol}'}`);
    }
  }
  return routerId;
}

/** The floating IP a member may act on (its project's, or any for an admin), or FloatingIPNotFound. */
export function floatingIpFor(view: ReadView, ctx: RequestContext, fipId: string): Doc {
  const fip = view.get('floatingip', fipId);
  if (!fip || !(ctx.isAdmin || fip.project_id === ctx.projectId)) throw notFound('floatingip', fipId);
  return fip;
}

export function findPortForwarding(fip: Doc, id: string): StoredPortForwarding {
  const pf = storedPortForwardings(fip).find((p) => p.id === id);
  if (!pf) throw pfNotFound(id);
  return pf;
}

function store(tx: Tx, fip: Doc, list: StoredPortForwarding[], routerId: string | null): void {
  tx.put('floatingip', revise(fip, { port_forwardings: list, router_id: routerId } as Partial<Doc>));
}

export function createPortForwarding(tx: Tx, ctx: RequestContext, fipId: string, input: PortForwardingCreate): StoredPortForwarding {
  const fip = floatingIpFor(tx, ctx, fipId);
  const { internal, external } = requestedPorts(input);
  const pf: StoredPortForwarding = {
    id: newId(),
    protocol: input.protocol,
    internal_ip_address: input.internal_ip_address,
    internal_port_id: input.internal_port_id,
    internal_port_start: internal[0],
    internal_port_end: internal[1],
    external_port_start: external[0],
    external_port_end: external[1],
    description: input.description ?? '',
  };
  const routerId = validate(tx, ctx, fip, pf);
  store(tx, fip, [...storedPortForwardings(fip), pf], routerId);
  return pf;
}

export function updatePortForwarding(tx: Tx, ctx: RequestContext, fipId: string, id: string, input: PortForwardingUpdate): StoredPortForwarding {
  const fip = floatingIpFor(tx, ctx, fipId);
  const current = findPortForwarding(fip, id);
  // A request that gives single ports replaces ranges and the other way round.
  const { internal, external } = requestedPorts(input, current);
  const next: StoredPortForwarding = {
    ...current,
    ...(input.protocol !== undefined ? { protocol: input.protocol } : {}),
    ...(input.internal_ip_address !== undefined ? { internal_ip_address: input.internal_ip_address } : {}),
    ...(input.internal_port_id !== undefined ? { internal_port_id: input.internal_port_id } : {}),
    ...(input.description !== undefined ? { description: input.description } : {}),
    internal_port_start: internal[0],
    internal_port_end: internal[1],
    external_port_start: external[0],
    external_port_end: external[1],
  };
  if (input.internal_port_id !== undefined && input.internal_ip_address === undefined) {
    throw bad('The internal_ip_address attribute is required when internal_port_id changes');
  }
  const routerId = validate(tx, ctx, fip, next);
  store(tx, fip, storedPortForwardings(fip).map((p) => (p.id === id ? next : p)), routerId);
  return next;
}

export function deletePortForwarding(tx: Tx, ctx: RequestContext, fipId: string, id: string): void {
  const fip = floatingIpFor(tx, ctx, fipId);
  findPortForwarding(fip, id);
  const rest = storedPortForwardings(fip).filter((p) => p.id !== id);
  // The last one gone: the floating IP no longer needs a router (Neutron clears router_id).
  store(tx, fip, rest, rest.length ? (fip.router_id as string | null) : null);
}

/** A floating IP with port forwardings cannot be associated with a port (Neutron's FipInUseByPortForwarding). */
export function checkNoPortForwardings(fip: Doc): void {
  if (storedPortForwardings(fip).length) {
    throw new NeutronError(409, 'FipInUseByPortForwarding', `Floating IP ${fip.id} in use by Port Forwarding resources.`);
  }
}

/** A port goes away: the port forwardings to it go too (Neutron's _process_port_request on delete). */
export function removePortForwardingsOfPort(tx: Tx, port: Doc): void {
  const routers = new Set<string>();
  for (const p of tx.find('port', 'router_interface_network', port.network_id as string)) {
    if (p.device_id) routers.add(p.device_id as string);
  }
  for (const routerId of routers) {
    for (const fip of tx.find('floatingip', 'router_id', routerId)) {
      const list = storedPortForwardings(fip);
      const rest = list.filter((pf) => pf.internal_port_id !== port.id);
      if (rest.length !== list.length) store(tx, fip, rest, rest.length ? (fip.router_id as string | null) : null);
    }
  }
}
