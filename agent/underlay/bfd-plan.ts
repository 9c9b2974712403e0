// Underlay liveness by BFD, run by Open vSwitch itself (as OVN does for its gateway chassis). PURE:
// names, options and the isolation rule; bfd-ports.ts writes the ports, bfd-watch.ts reads their state.
//
// The tenant tunnel is one flow-based port (vxlan0: remote_ip=flow, key=flow); BFD needs a session
// per peer, so every peer with a VTEP gets a BFD-only VXLAN port on br-int: remote_ip=<peer VTEP>,
// key=0, bfd:enable=true. They never capture tenant traffic: OVS picks the receiving tunnel port by
// the most specific match of (key, remote_ip), and a fixed key only matches packets carrying that
// key, so frames with a tenant VNI still arrive on vxlan0; VNI 0 is never a tenant network's
// (segmentation ids are 1..16777215, controller/domain/segments.ts), and no flow matches in_port of
// a BFD port, so anything else arriving there is dropped by br-int (fail-mode secure).
// bfd:check_tnl_key=true makes OVS take BFD packets only with key 0.
//
// Which pairs: as in OVN, only pairs where at least one host is a gateway host (the controller
// flags them in the agent view, controller/domain/gateway-capable.ts; schemas/agent/view.ts
// bfdPair). A gateway host runs a session to every other host with a VTEP; a compute host only to
// the gateway hosts. With G gateway hosts among N, that is (N-1) sessions on a gateway host and G
// on a compute host, not N-1 everywhere, each at 10 packets a second. The underlay only decides
// where HA routers run, and they run on gateway hosts, so a session between two compute hosts
// would tell nobody anything.
//
// Timing: min_tx = min_rx = 100 ms and OVS's fixed detect multiplier 3: a cut link is seen down
// about 300 ms after the last packet. A session that is down sends once a second (RFC 5880), so
// coming back takes one to two seconds.
import { bfdPair } from '../../schemas/agent/view.ts';
import { ipv4Number } from '../features/placement.ts';

/** VNI of the BFD ports: outside the tenant range (1..16777215), so no network can ever have it. */
export const BFD_TUNNEL_KEY = 0;
/** Interface external_ids weft-role of the BFD ports. */
export const BFD_ROLE = 'bfd';
export const BFD_PEER_HOST_KEY = 'weft-peer-host';
/** br-int OpenFlow numbers of the BFD ports: below vxlan0 (60000), far above VM ports. */
export const BFD_OFPORT_FIRST = 59000;
export const BFD_OFPORT_LAST = 59999;
export const BFD_INTERVAL_MS = 100;

export interface BfdPeer {
  host: string;
  ip: string;
  /** The port (and interface) name on br-int. */
  name: string;
}

/** `bfd-` + the peer VTEP as 8 hex digits: 12 bytes (an interface name has at most 15), one per address. */
export function bfdPortName(peerIp: string): string {
  return `bfd-${(ipv4Number(peerIp) >>> 0).toString(16).padStart(8, '0')}`;
}

type PlannedAgent = { host: string; tunnel_ip: string | null; gateway_capable?: boolean | null };

/**
 * The BFD peers of this host: every other agent with a VTEP that is not ours, by address, with
 * which it makes a pair (bfdPair: one of the two is a gateway host). This host's own flag is its
 * own agent's in the view (not there yet: taken as a gateway host, like any unflagged agent).
 */
export function bfdPeers(localIp: string | null, agents: Iterable<PlannedAgent>, localHost: string): BfdPeer[] {
  if (!localIp) return [];
  const all = [...agents];
  const self = all.find((a) => a.host === localHost) ?? {};
  const byIp = new Map<string, BfdPeer>();
  for (const a of all) {
    if (a.host === localHost || !a.tunnel_ip || a.tunnel_ip === localIp || !bfdPair(self, a)) continue;
    const prev = byIp.get(a.tunnel_ip);
    // Two agents claiming one address (a re-registered host): the smaller name, for a stable plan.
    if (!prev || a.host < prev.host) byIp.set(a.tunnel_ip, { host: a.host, ip: a.tunnel_ip, name: bfdPortName(a.tunnel_ip) });
  }
  return [...byIp.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The Interface options and bfd columns of the BFD port to `peerIp`. */
export function bfdInterface(localIp: string, peerIp: string): { options: Record<string, string>; bfd: Record<string, string> } {
  return {
    options: { remote_ip: peerIp, local_ip: localIp, key: String(BFD_TUNNEL_KEY) },
    bfd: { enable: 'true', min_tx: String(BFD_INTERVAL_MS), min_rx: String(BFD_INTERVAL_MS), check_tnl_key: 'true' },
  };
}

/** The smallest BFD ofport not in `used`, or undefined when the band is full. */
export function freeBfdOfport(used: ReadonlySet<number>): number | undefined {
  for (let n = BFD_OFPORT_FIRST; n <= BFD_OFPORT_LAST; n++) if (!used.has(n)) return n;
  return undefined;
}

/**
 * A peer's reachability from an Interface's bfd_status: 'up' when the session is up, 'down' when it
 * is not, undefined while BFD has not reported (no state yet).
 */
export function bfdReach(bfdStatus: Record<string, string>): 'up' | 'down' | undefined {
  const s = bfdStatus.state;
  if (!s) return undefined;
  return s === 'up' ? 'up' : 'down';
}

/**
 * Whether this host is cut off from the underlay: it lost (up once, down now) a strict majority
 * of its BFD peers (the planned ones: for a gateway host every other host, for a compute host the
 * gateway hosts). Below two peers there is no majority to tell "I am cut off" from "my one peer
 * is", so never (the controller's rule, controller/domain/underlay.ts, needs two reporters too).
 */
export function isolatedOnUnderlay(peers: number, lost: number): boolean {
  return peers >= 2 && lost * 2 > peers;
}
