// Table l2_lookup: destination MAC within the network (metadata) -> a local port (reg7, then the
// ingress security groups), another host through the tunnel, or the provider uplink. Known
// unicast is never flooded; broadcast, multicast and unknown unicast are flooded per network.
//
// Units:
//   port:<id>            the port's own MAC: local port, or remote port on its host
//   mac:<net>|<mac>      an allowed-address-pair MAC that differs from its port's MAC, delivered
//                        to every port that holds it (several ports may share one, e.g. VRRP);
//                        one priority below the ports' own MACs, which win on a clash
//   flood:<net>          the network's flood flows
// Only networks this host carries (placement.ts) get any of these.
//
// Fabric and hair-pins: packets from the fabric (FROM_FABRIC) are flooded to local ports only.
// A remote entry needs no FROM_FABRIC check: a fabric packet always entered through the very port
// (the tunnel port, or its network's uplink) that the entry outputs to, and OVS never outputs a
// packet to its in_port, so a fabric packet to a MAC that is not local is dropped, never sent
// back. The same rule keeps a port's own broadcast from coming back to it: the flood resubmits to
// every local port, but output:<in_port> in table output does nothing (checked against the real
// switch in test/integration/features-install.test.ts).
import type { PortView } from '../../schemas/agent/view.ts';
import type { Action } from '../openflow/actions.ts';
import { DST_PORT, FROM_FABRIC } from '../pipeline/fields.ts';
import { flow, resubmit, type Flow } from '../pipeline/flow.ts';
import { PRIORITY } from '../pipeline/priorities.ts';
import type { CompileState, Feature } from './engine.ts';
import {
  activeLocalPorts, activeOfport, carriedNetwork, carriedNetworks, isMulticastMac, l2Touched, matchBits, networkMatch,
  normMac, pairMacs, setBits, tunnelEndpointOf, type UsableNetwork,
} from './placement.ts';
import { uplinkActions, uplinkOf } from './provider.ts';
import { tunnelActions } from './tunnels.ts';

const PORT_UNIT = 'port:';
const MAC_UNIT = 'mac:';
const FLOOD_UNIT = 'flood:';
/** Allowed-address-pair MACs: below the ports' own MACs. */
const P_PAIR_MAC = PRIORITY.port - 1;

/** Where a port on another host is reached: a tunnel endpoint, or the uplink. */
type Remote = { readonly kind: 'tunnel'; readonly ip: string } | { readonly kind: 'uplink' };

function remoteOf(s: CompileState, c: UsableNetwork, port: PortView): Remote | undefined {
  const host = port['binding:host_id'];
  if (!host || host === s.host.host) return undefined;
  if (c.net['provider:network_type'] === 'vxlan') {
    const ip = s.host.tunnelOfport === null ? undefined : tunnelEndpointOf(s, host);
    return ip ? { kind: 'tunnel', ip } : undefined;
  }
  return uplinkOf(c.net, s.host) === undefined ? undefined : { kind: 'uplink' };
}

function remoteActions(s: CompileState, c: UsableNetwork, remotes: readonly Remote[]): Action[] {
  if (remotes.length === 0) return [];
  if (c.net['provider:network_type'] === 'vxlan') {
    const ips = remotes.flatMap((r) => (r.kind === 'tunnel' ? [r.ip] : []));
    return tunnelActions(c.net['provider:segmentation_id']!, s.host.tunnelOfport!, ips);
  }
  return uplinkActions(c.net, uplinkOf(c.net, s.host)!);
}

/** Delivery to local ports from a flow with more than one destination: reg7, then ingress. */
function toLocal(ofports: Iterable<number>): Action[] {
  return [...new Set(ofports)].sort((a, b) => a - b).flatMap((o) => [setBits(DST_PORT, o), resubmit('ingress_ct')]);
}

/** The port's own MAC. */
export function l2Port(s: CompileState, port: PortView): Flow[] {
  const c = carriedNetwork(s, port.network_id);
  const mac = normMac(port.mac_address);
  if (!c || !mac || isMulticastMac(mac)) return [];
  const match = { metadata: networkMatch(c.key), ethDst: mac };
  const ofport = activeOfport(s, port);
  if (ofport !== undefined) {
    return [flow('l2', port.id, 'l2_lookup', { priority: PRIORITY.port, match, actions: [setBits(DST_PORT, ofport)], goto: 'ingress_ct' })];
  }
  const remote = remoteOf(s, c, port);
  if (!remote) return [];
  return [flow('l2', port.id, 'l2_lookup', { priority: PRIORITY.port, match, actions: remoteActions(s, c, [remote]) })];
}

/** An allowed-address-pair MAC, to every port that holds it. O(ports of the network). */
export function l2PairMac(s: CompileState, networkId: string, mac: string): Flow[] {
  const c = carriedNetwork(s, networkId);
  if (!c) return [];
  const locals: number[] = [];
  const remotes: Remote[] = [];
  for (const id of s.model.portsOfNetwork(networkId)) {
    const port = s.model.get('port', id);
    if (!port || !pairMacs(port).includes(mac)) continue;
    const ofport = activeOfport(s, port);
    const remote = ofport === undefined ? remoteOf(s, c, port) : undefined;
    if (ofport !== undefined) locals.push(ofport);
    else if (remote) remotes.push(remote);
  }
  const actions = [...toLocal(locals), ...remoteActions(s, c, remotes)];
  if (actions.length === 0) return [];
  return [flow('l2', `${networkId}|${mac}`, 'l2_lookup', {
    priority: P_PAIR_MAC, match: { metadata: networkMatch(c.key), ethDst: mac }, actions,
  })];
}

/** Broadcast, multicast and unknown unicast: every local port; from a local port also the other hosts. */
export function l2Flood(s: CompileState, networkId: string): Flow[] {
  const c = carriedNetwork(s, networkId);
  if (!c) return [];
  const locals = toLocal(activeLocalPorts(s, networkId).map((p) => p.ofport));
  let remote: Action[] = [];
  if (c.net['provider:network_type'] === 'vxlan') {
    const ips: string[] = [];
    for (const host of s.model.hostsOfNetwork(networkId)) {
      const ip = tunnelEndpointOf(s, host);
      if (ip) ips.push(ip);
    }
    if (s.host.tunnelOfport !== null) remote = tunnelActions(c.net['provider:segmentation_id']!, s.host.tunnelOfport, ips);
  } else {
    // Provider networks always flood to the uplink: the fabric has more than our hosts (gateways).
    const uplink = uplinkOf(c.net, s.host);
    if (uplink !== undefined) remote = uplinkActions(c.net, uplink);
  }
  const metadata = networkMatch(c.key);
  return [
    flow('l2', networkId, 'l2_lookup', {
      priority: PRIORITY.fallback, match: { ...matchBits(FROM_FABRIC, 0), metadata }, actions: [...locals, ...remote],
    }),
    flow('l2', networkId, 'l2_lookup', {
      priority: PRIORITY.fallback, match: { ...matchBits(FROM_FABRIC, 1), metadata }, actions: locals,
    }),
  ];
}

function* pairUnits(port: PortView): Generator<string> {
  for (const mac of pairMacs(port)) yield `${MAC_UNIT}${port.network_id}|${mac}`;
}

export const l2Feature: Feature = {
  name: 'l2',
  *units(s) {
    for (const net of carriedNetworks(s)) {
      yield `${FLOOD_UNIT}${net}`;
      for (const id of s.model.portsOfNetwork(net)) {
        yield `${PORT_UNIT}${id}`;
        const port = s.model.get('port', id);
        if (port) yield* pairUnits(port);
      }
    }
  },
  compile(s, unit) {
    if (unit.startsWith(PORT_UNIT)) {
      const port = s.model.get('port', unit.slice(PORT_UNIT.length));
      return port ? l2Port(s, port) : [];
    }
    if (unit.startsWith(MAC_UNIT)) {
      const rest = unit.slice(MAC_UNIT.length);
      const bar = rest.lastIndexOf('|');
      return l2PairMac(s, rest.slice(0, bar), rest.slice(bar + 1));
    }
    if (unit.startsWith(FLOOD_UNIT)) return l2Flood(s, unit.slice(FLOOD_UNIT.length));
    return [];
  },
  *affected(s, e) {
    const t = l2Touched(s, e);
    for (const id of t.ports) yield `${PORT_UNIT}${id}`;
    for (const doc of t.docs) yield* pairUnits(doc);
    for (const net of t.networks) yield `${FLOOD_UNIT}${net}`;
  },
};
