// Table spoof_guard: a port with port security sends IP only from its fixed IPs and allowed
// address pairs (each bound to its MAC; a pair may be a CIDR), and ARP only as itself. Everything
// else from the port misses and is dropped. Trusted ports never come here (classify sends them
// on to egress_ct).
//
// Per port and per (MAC, address): IPv4 -> one ip flow and one arp flow; IPv6 -> one ipv6 flow and
// one neighbour-advertisement flow for that target. A port with one IPv4 address therefore has
// two flows here. What does not depend on the port is shared in the 'base' unit: classify already
// checked the source MAC (own MAC or a pair MAC) before a packet gets here, so these are safe
// for every port:
//   - DHCPv4 from 0.0.0.0 (udp 68 -> 67),
//   - all of IPv6 from link-local fe80::/10 (router/neighbour solicitation, MLD, DHCPv6 546 -> 547),
//   - DAD neighbour solicitations and MLDv2 reports from ::,
//   - neighbour advertisements for link-local targets,
// and the guards that beat every allow: router advertisements (134) and redirects (137) from a
// VM are dropped (rogue RA protection, as Neutron does), and a neighbour advertisement is dropped
// unless its target is link-local or one of the port's addresses (no cache poisoning).
import type { PortView } from '../../schemas/agent/view.ts';
import type { Match } from '../openflow/fields.ts';
import { SRC_PORT } from '../pipeline/fields.ts';
import { flow, flowKey, type Flow } from '../pipeline/flow.ts';
import { PRIORITY } from '../pipeline/priorities.ts';
import { isTrusted } from './common.ts';
import type { CompileState, Feature } from './engine.ts';
import { activeOfport, localPortsTouched, matchBits, normMac, parseIpSource } from './placement.ts';

const ETH_IP = 0x0800;
const ETH_ARP = 0x0806;
const ETH_IPV6 = 0x86dd;
const UDP = 17;
const ICMPV6 = 58;
const ND = { RS: 133, RA: 134, NS: 135, NA: 136, REDIRECT: 137, MLDV2_REPORT: 143 } as const;

/** Above every allow of this table: the NA target allows. */
const P_ND_TARGET = PRIORITY.guard;
/** ICMPv6 a port may not send (or only with an allowed target), above the source allows. */
const P_ICMPV6_GUARD = PRIORITY.guard - 1;

export const BASE_UNIT = 'base';
const PORT_UNIT = 'port:';

/** A port's allowed sources: its MAC with each fixed IP, and each allowed address pair. */
export function allowedSources(port: PortView): { mac: string; ip: string }[] {
  const own = normMac(port.mac_address);
  const out: { mac: string; ip: string }[] = [];
  if (own) for (const f of port.fixed_ips) out.push({ mac: own, ip: f.ip_address });
  for (const p of port.allowed_address_pairs) {
    const mac = normMac(p.mac_address);
    if (mac) out.push({ mac, ip: p.ip_address });
  }
  return out;
}

/** The spoof_guard flows of one active port with port security. */
export function spoofGuardPort(port: PortView, ofport: number): Flow[] {
  const reg5 = matchBits(SRC_PORT, ofport);
  const f = (match: Match, priority: number = PRIORITY.port) =>
    flow('port_security', port.id, 'spoof_guard', { priority, match: { ...reg5, ...match }, goto: 'egress_ct' });
  const out: Flow[] = [];
  for (const { mac, ip } of allowedSources(port)) {
    const src = parseIpSource(ip);
    if (!src) continue;
    if (src.version === 4) {
      out.push(f({ ethType: ETH_IP, ethSrc: mac, ...(src.text ? { ipv4Src: src.text } : {}) }));
      out.push(f({ ethType: ETH_ARP, ethSrc: mac, arpSha: mac, ...(src.text ? { arpSpa: src.text } : {}) }));
    } else {
      out.push(f({ ethType: ETH_IPV6, ethSrc: mac, ...(src.text ? { ipv6Src: src.text } : {}) }));
      out.push(f({
        ethType: ETH_IPV6, ipProto: ICMPV6, ethSrc: mac, icmpv6Type: ND.NA, ...(src.text ? { ipv6NdTarget: src.text } : {}),
      }, P_ND_TARGET));
    }
  }
  return uniqueFlows(out);
}

/** The shared flows (see the file comment). */
export function spoofGuardBase(): Flow[] {
  const f = (priority: number, match: Match, allow = true) =>
    flow('port_security', BASE_UNIT, 'spoof_guard', { priority, match, ...(allow ? { goto: 'egress_ct' as const } : {}) });
  const icmp6 = (type: number, extra: Match = {}): Match => ({ ethType: ETH_IPV6, ipProto: ICMPV6, icmpv6Type: type, ...extra });
  return [
    f(PRIORITY.control, { ethType: ETH_IP, ipProto: UDP, ipv4Src: '0.0.0.0', udpSrc: 68, udpDst: 67 }),
    f(PRIORITY.control, { ethType: ETH_IPV6, ipv6Src: 'fe80::/10' }),
    f(PRIORITY.control, icmp6(ND.NS, { ipv6Src: '::' })),
    f(PRIORITY.control, icmp6(ND.MLDV2_REPORT, { ipv6Src: '::' })),
    f(P_ICMPV6_GUARD, icmp6(ND.RA), false),
    f(P_ICMPV6_GUARD, icmp6(ND.REDIRECT), false),
    f(P_ICMPV6_GUARD, icmp6(ND.NA), false),
    f(P_ND_TARGET, icmp6(ND.NA, { ipv6NdTarget: 'fe80::/10' })),
  ];
}

/** Drops flows whose key repeats (e.g. a pair that repeats a fixed IP, or "10.0.0.5/32"). */
export function uniqueFlows(flows: readonly Flow[]): Flow[] {
  const seen = new Set<string>();
  return flows.filter((x) => {
    const k = flowKey(x);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export const portSecurityFeature: Feature = {
  name: 'port_security',
  *units(s) {
    yield BASE_UNIT;
    for (const id of s.bindings.keys()) yield `${PORT_UNIT}${id}`;
  },
  compile(s: CompileState, unit: string): readonly Flow[] {
    if (unit === BASE_UNIT) return spoofGuardBase();
    if (!unit.startsWith(PORT_UNIT)) return [];
    const port = s.model.get('port', unit.slice(PORT_UNIT.length));
    const ofport = activeOfport(s, port);
    if (!port || ofport === undefined || isTrusted(port)) return [];
    return spoofGuardPort(port, ofport);
  },
  *affected(s, e) {
    for (const id of localPortsTouched(s, e)) yield `${PORT_UNIT}${id}`;
  },
};
