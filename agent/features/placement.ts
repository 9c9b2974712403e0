// Where ports are and which networks this host carries, shared by the forwarding features
// (classify, port security, l2, tunnels, provider, output), and which ports and networks a
// model event touches. Pure.
//
// Definitions (every forwarding feature uses exactly these, so that they agree):
// - a network is *usable* here when it exists, is admin up and has a key on this host;
// - a port is *active here* when it is bound to this host, plugged (has an ofport), admin up and
//   in a usable network. Only active ports get flows (an admin-down port drops everything);
// - a network is *carried* when it has at least one active port here. Only carried networks get
//   network flows (tunnel/uplink classify, flood) and l2 entries for their other ports, so a
//   host's flows follow what it serves, not the size of the deployment.
import type { NetworkView, PortView } from '../../schemas/agent/view.ts';
import { isIpv4, isIpv6 } from '../../schemas/common.ts';
import type { ModelEvent } from '../model/host-model.ts';
import type { Action } from '../openflow/actions.ts';
import type { Masked, Match } from '../openflow/fields.ts';
import { bits, type BitField } from '../pipeline/fields.ts';
import { networkKey, tunnelIpOf } from './common.ts';
import type { CompileState } from './engine.ts';

export interface UsableNetwork {
  readonly net: NetworkView;
  /** The network's key in metadata (NETWORK). */
  readonly key: number;
}

export function usableNetwork(s: CompileState, networkId: string): UsableNetwork | undefined {
  const net = s.model.get('network', networkId);
  if (!net || !net.admin_state_up) return undefined;
  const key = networkKey(net, s.host);
  return key === undefined ? undefined : { net, key };
}

/** The ofport of a port that is active here, else undefined. */
export function activeOfport(s: CompileState, port: PortView | undefined): number | undefined {
  return port && activeWith(s, port, s.bindings.get(port.id));
}

/** activeOfport with a given binding (affected() asks "was it active with the previous ofport"). */
export function activeWith(s: CompileState, port: PortView | undefined, ofport: number | undefined): number | undefined {
  if (!port || ofport === undefined || port['binding:host_id'] !== s.host.host || !port.admin_state_up) return undefined;
  return usableNetwork(s, port.network_id) ? ofport : undefined;
}

/** Active ports of a network on this host, by ofport. O(ports of the network on this host). */
export function activeLocalPorts(s: CompileState, networkId: string): { port: PortView; ofport: number }[] {
  if (!usableNetwork(s, networkId)) return [];
  const out: { port: PortView; ofport: number }[] = [];
  for (const id of s.model.portsOnHost(networkId, s.host.host)) {
    const port = s.model.get('port', id);
    const ofport = s.bindings.get(id);
    if (port && ofport !== undefined && port.admin_state_up) out.push({ port, ofport });
  }
  return out.sort((a, b) => a.ofport - b.ofport || cmp(a.port.id, b.port.id));
}

/** The network if this host carries it (usable, with an active port here). Stops at the first active port. */
export function carriedNetwork(s: CompileState, networkId: string): UsableNetwork | undefined {
  const u = usableNetwork(s, networkId);
  if (!u) return undefined;
  for (const id of s.model.portsOnHost(networkId, s.host.host)) {
    if (s.bindings.has(id) && s.model.get('port', id)?.admin_state_up) return u;
  }
  return undefined;
}

/** Ids of the networks this host carries (from the plugged ports). */
export function carriedNetworks(s: CompileState): Set<string> {
  const out = new Set<string>();
  const seen = new Set<string>();
  for (const id of s.bindings.keys()) {
    const port = s.model.get('port', id);
    if (!port || seen.has(port.network_id)) continue;
    seen.add(port.network_id);
    if (carriedNetwork(s, port.network_id)) out.add(port.network_id);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Addresses

const MAC_RE = /^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$/i;

/** "FA-16-3E-..." -> "fa:16:3e:...", undefined if not a MAC. */
export function normMac(mac: string): string | undefined {
  return MAC_RE.test(mac) ? mac.toLowerCase().replaceAll('-', ':') : undefined;
}

export const isMulticastMac = (mac: string): boolean => (Number.parseInt(mac.slice(0, 2), 16) & 1) === 1;

/** The distinct allowed-address-pair MACs of a port that differ from its own MAC (unicast only). */
export function pairMacs(port: PortView): string[] {
  const own = normMac(port.mac_address);
  const out = new Set<string>();
  for (const p of port.allowed_address_pairs) {
    const m = normMac(p.mac_address);
    if (m && m !== own && !isMulticastMac(m)) out.add(m);
  }
  return [...out].sort();
}

/** An IP address or CIDR as match text ("10.0.0.5", "10.0.0.0/24"). */
export interface IpSource {
  readonly version: 4 | 6;
  /** Match text, or undefined for "any address" (a /0 pair). */
  readonly text: string | undefined;
}

export function parseIpSource(raw: string): IpSource | undefined {
  const [addr, len, extra] = raw.split('/');
  if (extra !== undefined) return undefined;
  const version = isIpv4(addr) ? 4 : isIpv6(addr) ? 6 : undefined;
  if (version === undefined) return undefined;
  const max = version === 4 ? 32 : 128;
  if (len === undefined) return { version, text: addr };
  if (!/^\d{1,3}$/.test(len) || Number(len) > max) return undefined;
  const n = Number(len);
  if (n === 0) return { version, text: undefined };
  return { version, text: n === max ? addr : `${addr}/${n}` };
}

// ---------------------------------------------------------------------------------------------
// Pipeline values

/** Match on the network in metadata. The whole of metadata: classify writes all of it. */
export const networkMatch = (key: number): Masked<bigint> => ({ value: BigInt(key) });
/** Sets the network; classify is the first table, so the other metadata bits are zero anyway. */
export const setNetwork = (key: number): Action => ({ type: 'setField', field: 'metadata', value: { value: BigInt(key) } });

/** Sets a bit field of fields.ts (a masked register load unless it is the whole register). */
export const setBits = (f: BitField, value: number): Action => ({ type: 'setField', field: f.field, value: bits(f, value) } as Action);
/** Matches a bit field of fields.ts: { [f.field]: value/mask } for a Match. */
export const matchBits = (f: BitField, value: number): Match => ({ [f.field]: bits(f, value) }) as Match;

export const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Another host's VXLAN endpoint, when it has a usable (IPv4) one: tun_dst is IPv4. */
export function tunnelEndpointOf(s: CompileState, host: string): string | undefined {
  const ip = tunnelIpOf(s, host);
  return ip !== undefined && isIpv4(ip) ? ip : undefined;
}

/** IPv4 dotted text to a number, for sorting tunnel endpoints. */
export const ipv4Number = (ip: string): number => ip.split('.').reduce((n, x) => n * 256 + Number(x), 0);

// ---------------------------------------------------------------------------------------------
// What an event touches

/** Port fields that decide where a port is (and so whether it is active, and which hosts a network spans). */
function placementChanged(a: PortView | undefined, b: PortView | undefined): boolean {
  if (!a || !b) return a !== b;
  return a.network_id !== b.network_id || a['binding:host_id'] !== b['binding:host_id'] || a.admin_state_up !== b.admin_state_up;
}

/** Network fields that decide whether a network is usable and what its key and segment are. */
function networkChanged(a: NetworkView | undefined, b: NetworkView | undefined): boolean {
  if (!a || !b) return a !== b;
  return a.admin_state_up !== b.admin_state_up || a['provider:network_type'] !== b['provider:network_type']
    || a['provider:segmentation_id'] !== b['provider:segmentation_id']
    || a['provider:physical_network'] !== b['provider:physical_network'];
}

/**
 * Ports bound here whose own flows (classify, spoof guard, output) may change: they depend on the
 * port, its binding and its network only.
 */
export function localPortsTouched(s: CompileState, e: ModelEvent): Iterable<string> {
  if (e.type === 'binding') return [e.portId];
  if (e.kind === 'port') return [e.id];
  if (e.kind === 'network' && networkChanged(e.prev as NetworkView | undefined, e.next as NetworkView | undefined)) {
    return s.model.portsOnHost(e.id, s.host.host);
  }
  return [];
}

/**
 * Networks whose network-level flows may change: flood (active ports here, hosts of the network
 * and their tunnel endpoints) and the tunnel/uplink classify flows (carried or not).
 * `withAgents`: also the networks an agent (tunnel endpoint) change touches.
 */
export function networksTouched(s: CompileState, e: ModelEvent, withAgents: boolean): Iterable<string> {
  if (e.type === 'binding') {
    const port = s.model.get('port', e.portId);
    return port ? [port.network_id] : [];
  }
  switch (e.kind) {
    case 'network':
      return [e.id];
    case 'port': {
      const prev = e.prev as PortView | undefined;
      const next = e.next as PortView | undefined;
      if (!placementChanged(prev, next)) return [];
      return new Set([prev?.network_id, next?.network_id].filter((n): n is string => n !== undefined));
    }
    case 'agent':
      return withAgents ? networksOfAgentEvent(s, e).keys() : [];
    default:
      return [];
  }
}

/** For an agent change: the networks with ports on its host(s) -> those ports. Scans the networks. */
function networksOfAgentEvent(s: CompileState, e: ModelEvent & { type: 'doc' }): Map<string, ReadonlySet<string>> {
  const hosts = new Set<string>();
  for (const d of [e.prev, e.next]) {
    const host = (d as { host?: string } | undefined)?.host;
    if (host && host !== s.host.host) hosts.add(host);
  }
  const out = new Map<string, ReadonlySet<string>>();
  if (hosts.size === 0) return out;
  for (const net of s.model.all('network')) {
    for (const host of hosts) {
      const ports = s.model.portsOnHost(net.id, host);
      if (ports.size === 0) continue;
      const have = out.get(net.id);
      out.set(net.id, have ? new Set([...have, ...ports]) : ports);
    }
  }
  return out;
}

/**
 * Whether the network's carried state may have flipped because port `portId` went from active
 * (was) to inactive (is) or back. Events may come in batches and affected() sees the state after
 * the whole batch, so "no other active port" is not enough (two ports plugged in one batch would
 * each see the other). Rule, exact for batches: when the port flipped, the network may have
 * flipped iff no port is active now, or this port is now the first (smallest id) active port -
 * if the network became carried in the batch, all of its now-active ports flipped, the first one
 * included. Costs O(ports of the network on this host), only when a port flips.
 */
function mayFlipCarried(s: CompileState, networkId: string, portId: string, was: boolean, is: boolean): boolean {
  if (was === is) return false;
  const first = firstActiveLocalPort(s, networkId);
  return first === undefined || first === portId;
}

/**
 * The smallest id of the ports active here on a network (activeLocalPorts without the list and its
 * sort: a failover rebinds every gateway port of an external network in one batch, and this runs per port).
 */
function firstActiveLocalPort(s: CompileState, networkId: string): string | undefined {
  if (!usableNetwork(s, networkId)) return undefined;
  let first: string | undefined;
  for (const id of s.model.portsOnHost(networkId, s.host.host)) {
    if (first !== undefined && id >= first) continue;
    if (s.bindings.has(id) && s.model.get('port', id)?.admin_state_up) first = id;
  }
  return first;
}

export interface L2Touched {
  /** Ports whose l2 entry may change. */
  readonly ports: Set<string>;
  /** Port documents (current and previous versions) whose pair MACs name l2 units. */
  readonly docs: PortView[];
  /** Networks whose flood flows may change. */
  readonly networks: Set<string>;
}

/** What an event touches in l2_lookup: ports (their unicast entries), pair-MAC entries, floods. */
export function l2Touched(s: CompileState, e: ModelEvent): L2Touched {
  const ports = new Set<string>();
  const docs: PortView[] = [];
  const networks = new Set<string>(networksTouched(s, e, true));
  const allPortsOf = (networkId: string) => {
    for (const id of s.model.portsOfNetwork(networkId)) ports.add(id);
  };
  if (e.type === 'binding') {
    ports.add(e.portId);
    const port = s.model.get('port', e.portId);
    if (port && mayFlipCarried(s, port.network_id, port.id,
      activeWith(s, port, e.prev) !== undefined, activeWith(s, port, e.next) !== undefined)) {
      allPortsOf(port.network_id);
    }
  } else if (e.kind === 'port') {
    ports.add(e.id);
    const prev = e.prev as PortView | undefined;
    const next = e.next as PortView | undefined;
    for (const d of [prev, next]) if (d) docs.push(d);
    if (placementChanged(prev, next)) {
      // The bindings are those after the whole batch: a port unplugged in the batch that also moved
      // or deleted it has lost its ofport already, and the binding event only sees its new network.
      // So judge the previous document as if it was bound (at worst a network is recompiled for nothing).
      const ofport = s.bindings.get(e.id);
      for (const net of networks) {
        const was = prev?.network_id === net && activeWith(s, prev, ofport ?? 0) !== undefined;
        const is = next?.network_id === net && activeWith(s, next, ofport) !== undefined;
        if (mayFlipCarried(s, net, e.id, was, is)) allPortsOf(net);
      }
    }
  } else if (e.kind === 'network') {
    if (networkChanged(e.prev as NetworkView | undefined, e.next as NetworkView | undefined)) allPortsOf(e.id);
  } else if (e.kind === 'agent') {
    for (const ids of networksOfAgentEvent(s, e).values()) for (const id of ids) ports.add(id);
  }
  for (const id of ports) {
    const d = s.model.get('port', id);
    if (d) docs.push(d);
  }
  return { ports, docs, networks };
}
