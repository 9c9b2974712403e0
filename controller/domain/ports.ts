import { randomInt } from 'node:crypto';
import type { RequestContext } from '../auth/context.ts';
import { conflict, forbidden, inUse, NeutronError } from '../errors.ts';
import type { Doc, ReadView, Tx } from '../store/types.ts';
import type { AddressPairRequest, PortCreate, PortUpdate } from '../../schemas/api/port.ts';
import { eui64Address, normalizeIp, parseCidr } from './cidr.ts';
import { allocateEui64, isAutoAddressSubnet, releaseIp } from './ipam.ts';
import { macScope, releasePortClaims, type FixedIp } from './claims.ts';
import { planCreateIps, planUpdateIps } from './port-ips.ts';
import { hideFrom, owningProject, requireAdminFor } from './policy.ts';
import { checkQuota } from './quotas.ts';
import { ensureDefaultSecurityGroup } from './security-groups.ts';
import { revise, standard } from './standard-attrs.ts';
import { usableNetwork } from './subnets.ts';
import { removePortForwardingsOfPort } from './port-forwardings.ts';
import { dropPortFromFirewallGroups } from './fwaas-ports.ts';

// Ports: MAC and fixed IPs (claims), port security, security groups, allowed address
// pairs and the port-binding attributes, with Neutron's policies and errors.

export const DEFAULT_BASE_MAC = 'fa:16:3e';
export const MAX_ALLOWED_ADDRESS_PAIRS = 10;
const MAC_RETRIES = 16;

/** Port-binding attributes only admins see (Neutron's get_port:binding:* policies). */
export const BINDING_ADMIN_ATTRS = ['binding:host_id', 'binding:vif_type', 'binding:vif_details', 'binding:profile'] as const;
const ADMIN_CREATE = ['binding:host_id', 'binding:profile'] as const;
const ADMIN_UPDATE = ['binding:host_id', 'binding:profile', 'mac_address'] as const;
/** Device owners that make a port part of a router (deleting it goes through the router). */
const L3_OWNERS = new Set(['network:router_interface', 'network:router_interface_distributed', 'network:ha_router_replicated_interface', 'network:router_gateway', 'network:router_centralized_snat']);

export interface CreatePortOptions {
  /** First three octets of generated MACs (config.baseMac). */
  baseMac?: string;
  /** Network-owned ports (router, DHCP, floating IP): no security groups, port security off. */
  noSecurity?: boolean;
  /** Skip the port quota check (the caller accounts for it). */
  skipQuota?: boolean;
}

/** Neutron's is_port_trusted: network:* ports do not get the default security group. */
export const isNetworkOwned = (deviceOwner: string) => deviceOwner.startsWith('network:');

export function portVisible(view: ReadView, ctx: RequestContext, port: Doc): boolean {
  if (ctx.isAdmin || port.project_id === ctx.projectId) return true;
  return view.get('network', port.network_id as string)?.project_id === ctx.projectId;
}

export function presentPort(_view: ReadView, ctx: RequestContext, port: Doc): Record<string, unknown> {
  return hideFrom(ctx, { ...port }, BINDING_ADMIN_ATTRS);
}

function isNetworkOwner(ctx: RequestContext, network: Doc): boolean {
  return ctx.isAdmin || network.project_id === ctx.projectId;
}

/** Attributes Neutron lets only the network owner (or an admin) set. */
function checkNetworkOwnerAttrs(ctx: RequestContext, network: Doc, input: PortCreate | PortUpdate, action: string): void {
  if (isNetworkOwner(ctx, network)) return;
  const denied = (attr: string) => { throw forbidden(`${action}:${attr}`); };
  if ('mac_address' in input && input.mac_address !== undefined) denied('mac_address');
  if (input.port_security_enabled !== undefined) denied('port_security_enabled');
  if (input.allowed_address_pairs?.length) denied('allowed_address_pairs');
  if (input.fixed_ips?.some((f) => f.ip_address !== undefined)) denied('fixed_ips:ip_address');
  if (input.device_owner !== undefined && isNetworkOwned(input.device_owner)) denied('device_owner');
}

const macInUse = (networkId: string, mac: string) =>
  conflict('MacAddressInUse', `Unable to complete operation for network ${networkId}. The mac address ${mac} is in use.`);

function claimMac(tx: Tx, networkId: string, portId: string, requested: string | undefined, baseMac: string): string {
  const scope = macScope(networkId);
  if (requested !== undefined) {
    if (tx.claimOwner(scope, requested) !== undefined) throw macInUse(networkId, requested);
    tx.claim(scope, requested, portId);
    return requested;
  }
  for (let i = 0; i < MAC_RETRIES; i++) {
    const tail = [0, 0, 0].map(() => randomInt(256).toString(16).padStart(2, '0')).join(':');
    const mac = `${baseMac}:${tail}`;
    if (tx.claimOwner(scope, mac) === undefined) {
      tx.claim(scope, mac, portId);
      return mac;
    }
  }
  throw new NeutronError(503, 'MacAddressGenerationFailure', `Unable to generate unique mac on network ${networkId}.`);
}

/** Validate security groups for a port of `projectId` (they must exist in that project). */
function checkSecurityGroups(view: ReadView, projectId: string, ids: string[]): string[] {
  const unique = [...new Set(ids)];
  const missing = unique.filter((id) => view.get('security_group', id)?.project_id !== projectId);
  if (missing.length) throw new NeutronError(404, 'SecurityGroupNotFound', `Security group ${missing.join(', ')} does not exist`);
  return unique;
}

function addressPairs(pairs: AddressPairRequest[], mac: string): Array<{ ip_address: string; mac_address: string }> {
  if (pairs.length > MAX_ALLOWED_ADDRESS_PAIRS) {
    throw new NeutronError(400, 'AllowedAddressPairExhausted', `The number of allowed address pair exceeds the maximum ${MAX_ALLOWED_ADDRESS_PAIRS}.`);
  }
  const seen = new Set<string>();
  return pairs.map((p) => {
    const [addr, len] = p.ip_address.split('/');
    const ip = len === undefined ? normalizeIp(addr) : `${normalizeIp(addr)}/${Number(len)}`;
    const pair = { ip_address: ip, mac_address: p.mac_address ?? mac };
    const key = `${pair.mac_address} ${pair.ip_address}`;
    if (seen.has(key)) {
      throw new NeutronError(400, 'DuplicateAddressPairInRequest',
        `Request contains duplicate address pair: mac_address ${pair.mac_address} ip_address ${pair.ip_address}.`);
    }
    seen.add(key);
    return pair;
  });
}

const pairsNeedPortSecurity = () =>
  conflict('AddressPairAndPortSecurityRequired', 'Port Security must be enabled in order to have allowed address pairs on a port.');
const groupsNeedPortSecurity = () =>
  new NeutronError(400, 'PortSecurityAndIPRequiredForSecurityGroups',
    'Port security must be enabled and port must have an IP address in order to use security groups.');

export function binding(host: string): Record<string, unknown> {
  return { 'binding:host_id': host, 'binding:vif_type': host ? 'ovs' : 'unbound' };
}

/** Create a port (API and internal callers such as routers, DHCP and floating IPs). */
export function createPort(tx: Tx, ctx: RequestContext, input: PortCreate, options: CreatePortOptions = {}): Doc {
  requireAdminFor(ctx, input, ADMIN_CREATE, 'create_port');
  const project = owningProject(ctx, input);
  const network = usableNetwork(tx, ctx, input.network_id, project);
  checkNetworkOwnerAttrs(ctx, network, input, 'create_port');
  const base = standard(project);
  const deviceOwner = input.device_owner ?? '';
  const mac = claimMac(tx, network.id, base.id, input.mac_address, options.baseMac ?? DEFAULT_BASE_MAC);
  const identity = { id: base.id, network_id: network.id, mac_address: mac, device_owner: deviceOwner };
  const fixedIps = planCreateIps(tx, identity, input.fixed_ips);

  const portSecurity = options.noSecurity ? (input.port_security_enabled ?? false) : (input.port_security_enabled ?? (network.port_security_enabled as boolean) ?? true);
  const pairs = addressPairs(input.allowed_address_pairs ?? [], mac);
  if (pairs.length && !portSecurity) throw pairsNeedPortSecurity();
  let groups: string[];
  if (!portSecurity) {
    if (input.security_groups?.length) throw groupsNeedPortSecurity();
    groups = [];
  } else if (input.security_groups !== undefined && input.security_groups !== null) {
    groups = checkSecurityGroups(tx, project, input.security_groups);
  } else if (options.noSecurity || isNetworkOwned(deviceOwner)) {
    groups = [];
  } else {
    groups = [ensureDefaultSecurityGroup(tx, project).id];
  }

  const doc: Doc = {
    ...base,
    name: input.name ?? '',
    description: input.description ?? '',
    network_id: network.id,
    admin_state_up: input.admin_state_up ?? true,
    mac_address: mac,
    fixed_ips: fixedIps,
    device_id: input.device_id ?? '',
    device_owner: deviceOwner,
    status: 'DOWN',
    security_groups: groups,
    allowed_address_pairs: pairs,
    port_security_enabled: portSecurity,
    ip_allocation: 'immediate',
    extra_dhcp_opts: [],
    ...binding(input['binding:host_id'] ?? ''),
    'binding:vif_details': {},
    'binding:vnic_type': input['binding:vnic_type'] ?? 'normal',
    'binding:profile': input['binding:profile'] ?? {},
    tags: [...new Set(input.tags ?? [])],
  };
  tx.put('port', doc);
  if (!options.skipQuota) checkQuota(tx, project, 'port');
  return doc;
}

export function updatePort(tx: Tx, ctx: RequestContext, current: Doc, input: PortUpdate): Doc {
  requireAdminFor(ctx, input, ADMIN_UPDATE, 'update_port');
  const network = tx.get('network', current.network_id as string)!;
  checkNetworkOwnerAttrs(ctx, network, input, 'update_port');
  const patch: Record<string, unknown> = {};
  for (const key of ['name', 'description', 'admin_state_up', 'device_id', 'device_owner', 'binding:vnic_type'] as const) {
    if (input[key] !== undefined) patch[key] = input[key];
  }
  if (input['binding:profile'] !== undefined) patch['binding:profile'] = input['binding:profile'] ?? {};
  if (input['binding:host_id'] !== undefined && input['binding:host_id'] !== current['binding:host_id']) {
    // A port that moves host is DOWN until the new host's agent reports it up.
    Object.assign(patch, binding(input['binding:host_id']), { status: 'DOWN' });
  }

  let mac = current.mac_address as string;
  if (input.mac_address !== undefined && input.mac_address !== mac) {
    if (current['binding:vif_type'] !== 'unbound') {
      throw inUse('PortBound', `Unable to complete operation on port ${current.id}, port is already bound, port type: ${current['binding:vif_type']}, old_mac ${mac}, new_mac ${input.mac_address}.`);
    }
    if (tx.claimOwner(macScope(network.id), input.mac_address) !== undefined) throw macInUse(network.id, input.mac_address);
    tx.release(macScope(network.id), mac);
    tx.claim(macScope(network.id), input.mac_address, current.id);
    mac = input.mac_address;
    patch.mac_address = mac;
  }

  const deviceOwner = (input.device_owner ?? current.device_owner) as string;
  let fixedIps = current.fixed_ips as FixedIp[];
  if (mac !== current.mac_address) {
    // EUI-64 addresses follow the MAC.
    fixedIps = fixedIps.map((f) => {
      const subnet = tx.get('subnet', f.subnet_id);
      if (!subnet || !isAutoAddressSubnet(subnet) || f.ip_address !== eui64Address(parseCidr(subnet.cidr as string), current.mac_address as string)) return f;
      releaseIp(tx, f.subnet_id, f.ip_address);
      return { subnet_id: f.subnet_id, ip_address: allocateEui64(tx, subnet, current.id, mac) };
    });
    patch.fixed_ips = fixedIps;
  }
  if (input.fixed_ips !== undefined) {
    const identity = { id: current.id, network_id: network.id, mac_address: mac, device_owner: deviceOwner };
    patch.fixed_ips = planUpdateIps(tx, identity, fixedIps, input.fixed_ips);
  }

  const portSecurity = input.port_security_enabled ?? (current.port_security_enabled as boolean);
  const groupsGiven = input.security_groups !== undefined;
  const groups = groupsGiven ? checkSecurityGroups(tx, current.project_id as string, input.security_groups ?? []) : (current.security_groups as string[]);
  const pairs = input.allowed_address_pairs !== undefined
    ? addressPairs(input.allowed_address_pairs ?? [], mac)
    : (current.allowed_address_pairs as Array<{ ip_address: string; mac_address: string }>);
  if (!portSecurity) {
    if (pairs.length) throw pairsNeedPortSecurity();
    if (groups.length) {
      if (groupsGiven) throw groupsNeedPortSecurity();
      throw inUse('PortSecurityPortHasSecurityGroup', 'Port has security group associated. Cannot disable port security or ip address until security group is removed');
    }
  }
  if (input.port_security_enabled !== undefined) patch.port_security_enabled = portSecurity;
  if (groupsGiven) patch.security_groups = groups;
  if (input.allowed_address_pairs !== undefined) patch.allowed_address_pairs = pairs;

  const next = revise(current, patch as Partial<Doc>);
  tx.put('port', next);
  return next;
}

/** Delete a port: give back its addresses and MAC, and detach floating IPs from it. */
export function deletePort(tx: Tx, port: Doc): void {
  releasePortClaims(tx, port);
  removePortForwardingsOfPort(tx, port);
  dropPortFromFirewallGroups(tx, port.id);
  for (const fip of tx.find('floatingip', 'port_id', port.id)) {
    tx.put('floatingip', revise(fip, { port_id: null, fixed_ip_address: null, router_id: null } as Partial<Doc>));
  }
  tx.remove('port', port.id);
}

/** The DELETE /ports/{id} path: ports owned by a router or a floating IP go away with their owner. */
export function removePortViaApi(tx: Tx, _ctx: RequestContext, port: Doc): void {
  const owner = port.device_owner as string;
  const deviceId = port.device_id as string;
  const ownedBy = L3_OWNERS.has(owner) && deviceId && tx.get('router', deviceId) ? `has device owner ${owner}`
    : owner === 'network:floatingip' && deviceId && tx.get('floatingip', deviceId) ? `has device owner ${owner}` : undefined;
  if (ownedBy) {
    throw conflict('ServicePortInUse', `Port ${port.id} cannot be deleted directly via the port API: ${ownedBy}.`);
  }
  deletePort(tx, port);
}
