// What a security group rule matches on the wire, apart from the port it applies to: ethertype,
// IP protocol, destination port range (as masked matches) or ICMP type/code, and the remote side
// (a CIDR, or one address of a remote group member). Pure functions of the rule document.
import type { PortView, SecurityGroupRuleView } from '../../../schemas/agent/view.ts';
import type { Match } from '../../openflow/fields.ts';
import { rangeToMasks } from './port-ranges.ts';

export const ETH_IPV4 = 0x0800;
export const ETH_IPV6 = 0x86dd;

/** neutron_lib.constants.IP_PROTOCOL_MAP (the controller's copy is controller/domain/security-group-rules.ts). */
const IP_PROTOCOL_MAP: Readonly<Record<string, number>> = {
  ah: 51, dccp: 33, egp: 8, esp: 50, gre: 47, hopopt: 0, icmp: 1, igmp: 2, ip: 0, ipip: 4,
  'ipv6-encap': 41, 'ipv6-frag': 44, 'ipv6-icmp': 58, icmpv6: 58, 'ipv6-nonxt': 59, 'ipv6-opts': 60,
  'ipv6-route': 43, ospf: 89, pgm: 113, rsvp: 46, sctp: 132, tcp: 6, udp: 17, udplite: 136, vrrp: 112,
};

const TCP = 6;
const UDP = 17;
const SCTP = 132;
const ICMP = 1;
const ICMPV6 = 58;

export const ethTypeOf = (rule: Pick<SecurityGroupRuleView, 'ethertype'>): number =>
  (rule.ethertype === 'IPv6' ? ETH_IPV6 : ETH_IPV4);

/**
 * The IP protocol number a rule matches: null for any. Protocol 0 ('0', 'ip', 'hopopt') means any,
 * as in Neutron's iptables driver ("protocol zero is a special case and requires no '-p'"), and
 * ICMP in an IPv6 rule is ICMPv6. undefined: a protocol we cannot read (the rule matches nothing).
 */
export function protocolOf(rule: Pick<SecurityGroupRuleView, 'protocol' | 'ethertype'>): number | null | undefined {
  const p = rule.protocol;
  if (p === null) return null;
  let n: number;
  if (p in IP_PROTOCOL_MAP) n = IP_PROTOCOL_MAP[p];
  else if (/^\d+$/.test(p) && Number(p) <= 255) n = Number(p);
  else return undefined;
  if (n === 0) return null;
  if (rule.ethertype === 'IPv6' && n === ICMP) return ICMPV6;
  return n;
}

const DST_PORT_FIELD = { [TCP]: 'tcpDst', [UDP]: 'udpDst', [SCTP]: 'sctpDst' } as const;

/**
 * The rule's traffic matches without any address: one Match per masked port value (a port range
 * becomes its minimal prefix cover). Neutron's port range is always the destination port, in both
 * directions. DCCP (33) and UDP-Lite (136) have no port fields in OpenFlow: such rules match the
 * protocol and every port (what Neutron's OVS firewall does too).
 */
export function trafficMatches(rule: SecurityGroupRuleView): Match[] {
  const ethType = ethTypeOf(rule);
  const proto = protocolOf(rule);
  if (proto === undefined) return [];
  if (proto === null) return [{ ethType }];
  const base: Match = { ethType, ipProto: proto };
  const min = rule.port_range_min;
  const max = rule.port_range_max;
  if (proto === TCP || proto === UDP || proto === SCTP) {
    if (min === null && max === null) return [base];
    const lo = Math.max(0, min ?? 0);
    const hi = Math.min(0xffff, max ?? 0xffff);
    if (lo > hi) return [];
    const field = DST_PORT_FIELD[proto];
    return rangeToMasks(lo, hi, 16).map((m) => (m.mask === 0 ? base : { ...base, [field]: m.mask === 0xffff ? m.value : m }));
  }
  const icmp = (ethType === ETH_IPV4 && proto === ICMP) ? 'v4' : (ethType === ETH_IPV6 && proto === ICMPV6) ? 'v6' : undefined;
  if (icmp && min !== null && min >= 0 && min <= 255) {
    const code = max !== null && max >= 0 && max <= 255 ? max : undefined;
    return [icmp === 'v4'
      ? { ...base, icmpv4Type: min, ...(code === undefined ? {} : { icmpv4Code: code }) }
      : { ...base, icmpv6Type: min, ...(code === undefined ? {} : { icmpv6Code: code }) }];
  }
  return [base];
}

/** The address fields a remote address goes into: the packet's destination on egress, source on ingress. */
export function remoteField(direction: 'ingress' | 'egress', ethType: number): 'ipv4Src' | 'ipv4Dst' | 'ipv6Src' | 'ipv6Dst' {
  if (ethType === ETH_IPV6) return direction === 'egress' ? 'ipv6Dst' : 'ipv6Src';
  return direction === 'egress' ? 'ipv4Dst' : 'ipv4Src';
}

const isV6 = (addr: string) => addr.includes(':');

/** A prefix that matches everything (0.0.0.0/0, ::/0) needs no address match. */
export function matchesAll(cidr: string): boolean {
  const len = cidr.split('/')[1];
  return len !== undefined && Number(len) === 0;
}

/**
 * The remote prefix as a match on the rule's family: {} for none or a /0, a field for a CIDR,
 * undefined when the prefix is of the other family (the rule can never match).
 */
export function remotePrefixMatch(rule: SecurityGroupRuleView): Match | undefined {
  const cidr = rule.normalized_cidr;
  if (cidr === null) return {};
  const ethType = ethTypeOf(rule);
  if (isV6(cidr) !== (ethType === ETH_IPV6)) return undefined;
  if (matchesAll(cidr)) return {};
  return { [remoteField(rule.direction, ethType)]: cidr };
}

/**
 * The addresses of a remote group member in one family: its fixed IPs and its allowed address
 * pairs (which may be CIDRs), in document order, without repeats. Use addressMatch() on each.
 */
export function memberAddresses(port: PortView, ethType: number): string[] {
  const v6 = ethType === ETH_IPV6;
  const out = new Set<string>();
  for (const ip of port.fixed_ips) if (isV6(ip.ip_address) === v6) out.add(ip.ip_address);
  for (const pair of port.allowed_address_pairs) if (isV6(pair.ip_address) === v6) out.add(pair.ip_address);
  return [...out];
}

/** The match of one remote address: a field, or nothing for a /0 (an address pair that allows all). */
export function addressMatch(field: ReturnType<typeof remoteField>, address: string): Match {
  return matchesAll(address) ? {} : { [field]: address };
}
