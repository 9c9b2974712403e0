// Router firewalls (Neutron FWaaS v2) compiled to iptables rules for the router's `filter` table.
// PURE: no I/O. The result goes inside the router's chain weft-FORWARD (agent/l3/rules.ts: FORWARD
// jumps to weft-FORWARD, which ends with `-j ACCEPT`): our jumps before that final ACCEPT, our
// chains declared next to weft-FORWARD. Every line is in iptables-save's canonical spelling, so an
// applied text reads back identical (test/integration/l3-firewall.test.ts checks it for real).
//
// What neutron-fwaas's iptables v2 driver does (services/firewall/service_drivers/agents/drivers/
// linux/iptables_fwaas_v2.py, and l3reference/firewall_l3_agent_v2.py for when it is called), and
// what we do:
// - A group's INGRESS policy filters what leaves the router through the port towards its subnet
//   (`-o qr-x`); its EGRESS policy what comes into the router from that subnet (`-i qr-x`).
// - Each direction chain starts by dropping INVALID packets and passing RELATED,ESTABLISHED ones,
//   then has the policy's enabled rules in order: allow (see below), deny -> DROP, reject ->
//   `REJECT --reject-with icmp-port-unreachable` (for TCP too: the driver never sends tcp-reset).
// - After the rules, what matched nothing is dropped (the driver's `fwaas-default-policy` chain).
//   A direction WITHOUT a policy gets the same chain with no rules: the driver always builds both
//   chains and both default-drop jumps, so only replies of connections allowed the other way
//   pass. A missing policy is not "allow all".
// - A group with neither policy is never sent to the agents (the plugin makes it INACTIVE in
//   create_firewall_group_precommit): its ports pass, as ports in no group do.
// - admin_state_up false: apply_default_policy, i.e. everything to and from the port is dropped,
//   established traffic included ("the firewall group will block all traffic", api-ref); those
//   DROPs come first in weft-FORWARD.
// One deliberate difference: an allowed or established packet RETURNs to weft-FORWARD instead of
// being ACCEPTed on the spot, and weft-FORWARD's final ACCEPT takes it. Between two filtered ports
// of one router (east-west) the packet must then pass the source port's egress policy AND the
// destination port's ingress policy; with the driver's ACCEPT, the first chain that allowed it
// decided alone. For traffic between a port and the gateway (one qr- port) it is the same.
// Ingress jumps come before egress jumps, as in the driver.
//
// Only IPv4 rules are compiled: router namespaces carry IPv4 only, and this is iptables (not
// ip6tables); IPv6 rules stay in the plan and are skipped here. A policy with only IPv6 rules
// therefore drops all new IPv4 connections in its direction, as the driver's v4 chain would.
// FORWARD sees packets after the floating IP rewrite and DNAT: rules match fixed (inside) addresses.
import { intToIpv4, isIpv4Cidr, parseIpv4Cidr } from '../net/ipv4.ts';

export type FirewallAction = 'allow' | 'deny' | 'reject';

/** One enabled rule of a policy, as the plan carries it (agent/l3/firewall-plan.ts). */
export interface FirewallRuleSpec {
  id: string;
  ipVersion: 4 | 6;
  /** 'tcp', 'udp', 'icmp', 'dccp', 'sctp', 'ipv6-icmp'; null = any protocol. */
  protocol: string | null;
  /** An address or CIDR as the API stored it (host bits allowed); null = any. */
  source: string | null;
  destination: string | null;
  /** Inclusive port range; only with tcp/udp. */
  sourcePort: [number, number] | null;
  destinationPort: [number, number] | null;
  action: FirewallAction;
}

/** A router interface port in a firewall group. */
export interface FirewallPortSpec {
  portId: string;
  /** The port's leg in the router namespace ('qr-...'). */
  interfaceName: string;
  groupId: string;
  /** false: the group blocks all traffic of the port. */
  adminStateUp: boolean;
  /** The ingress policy's enabled rules in order; null = the group has no ingress policy. */
  ingress: FirewallRuleSpec[] | null;
  egress: FirewallRuleSpec[] | null;
}

/** iptables-save lines for the filter table, to merge into the router's text. */
export interface FirewallFilterRules {
  /** `:weft-fw-... - [0:0]` declarations, in iptables-save order (byte order of the names). */
  chains: string[];
  /** `-A weft-FORWARD ...` rules, to go before weft-FORWARD's final `-j ACCEPT`. */
  forward: string[];
  /** `-A weft-fw-...` rules, grouped per chain in the order of `chains`. */
  rules: string[];
}

export const FORWARD_CHAIN = 'weft-FORWARD';
/** iptables' limit on chain names (XT_EXTENSION_MAXNAMELEN - 1). */
const MAX_CHAIN_NAME = 28;

/** Chain of a port's ingress (to the port's subnet) or egress (from it) policy. */
export function firewallChainName(direction: 'ingress' | 'egress', interfaceName: string): string {
  return `weft-fw-${direction === 'ingress' ? 'i' : 'o'}-${interfaceName}`;
}

/** Thrown for an input that cannot be compiled (bad address, port, protocol or interface name). */
export class FirewallRulesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FirewallRulesError';
  }
}

// ---------------------------------------------------------------------------------------------
// Validation: everything that reaches the text is checked, because the text is line-based and a
// stray newline or space would inject a rule.

/** An address or CIDR as iptables-save prints it: network address and length (/32 for a host); null for /0. */
function prefix(s: string, what: string): string | null {
  if (!isIpv4Cidr(s)) throw new FirewallRulesError(`${what}: '${s}' is not an IPv4 address or CIDR`);
  const c = parseIpv4Cidr(s);
  return c.prefix === 0 ? null : `${intToIpv4(c.network)}/${c.prefix}`;
}

function ifName(s: string, what: string): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(s)) throw new FirewallRulesError(`${what}: '${s}' is not a valid interface name`);
  return s;
}

/** A port range as the tcp/udp match prints it: '80', '1000:2000'. */
function ports(range: [number, number], what: string): string {
  const [lo, hi] = range;
  for (const p of [lo, hi]) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new FirewallRulesError(`${what}: port ${String(p)} is not in 1..65535`);
  }
  if (lo > hi) throw new FirewallRulesError(`${what}: port range ${lo}:${hi} is reversed`);
  return lo === hi ? `${lo}` : `${lo}:${hi}`;
}

/** Protocols iptables-save prints by name (neutron-lib FW_PROTOCOL_VALUES). */
const PROTOCOLS = new Set(['tcp', 'udp', 'icmp', 'dccp', 'sctp', 'ipv6-icmp']);
const PORT_PROTOCOLS = new Set(['tcp', 'udp']);

const TARGET: Record<FirewallAction, string> = {
  allow: 'RETURN',
  deny: 'DROP',
  reject: 'REJECT --reject-with icmp-port-unreachable',
};

/** The match and target of one IPv4 rule, in iptables-save's order: -s -d -p -m --sport --dport -j. */
function ruleText(rule: FirewallRuleSpec, what: string): string {
  const parts: string[] = [];
  const src = rule.source === null ? null : prefix(rule.source, `${what}.source`);
  const dst = rule.destination === null ? null : prefix(rule.destination, `${what}.destination`);
  if (src !== null) parts.push('-s', src);
  if (dst !== null) parts.push('-d', dst);
  const protocol = rule.protocol;
  if (protocol !== null) {
    if (!PROTOCOLS.has(protocol)) throw new FirewallRulesError(`${what}: protocol '${protocol}' is not supported`);
    parts.push('-p', protocol);
  }
  if (rule.sourcePort !== null || rule.destinationPort !== null) {
    if (protocol === null || !PORT_PROTOCOLS.has(protocol)) throw new FirewallRulesError(`${what}: ports need protocol tcp or udp`);
    parts.push('-m', protocol);
    if (rule.sourcePort !== null) parts.push('--sport', ports(rule.sourcePort, `${what}.sourcePort`));
    if (rule.destinationPort !== null) parts.push('--dport', ports(rule.destinationPort, `${what}.destinationPort`));
  }
  const target = TARGET[rule.action];
  if (target === undefined) throw new FirewallRulesError(`${what}: action '${String(rule.action)}' is not allow, deny or reject`);
  parts.push('-j', target);
  return parts.join(' ');
}

/** One direction's chain: conntrack state first, the policy's IPv4 rules, then the default drop. */
function directionChain(chain: string, rules: readonly FirewallRuleSpec[], what: string): string[] {
  const out = [
    `-A ${chain} -m conntrack --ctstate INVALID -j DROP`,
    `-A ${chain} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN`,
  ];
  rules.forEach((rule, i) => {
    if (rule.ipVersion === 6) return; // IPv4-only router namespaces (see the header)
    if (rule.ipVersion !== 4) throw new FirewallRulesError(`${what}[${i}]: ip version ${String(rule.ipVersion)}`);
    out.push(`-A ${chain} ${ruleText(rule, `${what}[${i}]`)}`);
  });
  out.push(`-A ${chain} -j DROP`);
  return out;
}

/** The filter-table lines of a router's firewall (see the header for the semantics). */
export function routerFirewallRules(ports: readonly FirewallPortSpec[]): FirewallFilterRules {
  const seen = new Set<string>();
  const filtered = [...ports]
    .map((p, i) => ({ ...p, interfaceName: ifName(p.interfaceName, `ports[${i}].interfaceName`), index: i }))
    .sort((a, b) => (a.interfaceName < b.interfaceName ? -1 : a.interfaceName > b.interfaceName ? 1 : 0));
  for (const p of filtered) {
    if (seen.has(p.interfaceName)) throw new FirewallRulesError(`interface ${p.interfaceName} is in the firewall twice`);
    seen.add(p.interfaceName);
  }
  const blocked: string[] = [];
  const ingressJumps: string[] = [];
  const egressJumps: string[] = [];
  const chains = new Map<string, string[]>();
  for (const p of filtered) {
    const what = `ports[${p.index}]`;
    if (p.ingress === null && p.egress === null) continue; // never applied: the port passes
    if (!p.adminStateUp) {
      blocked.push(`-A ${FORWARD_CHAIN} -o ${p.interfaceName} -j DROP`, `-A ${FORWARD_CHAIN} -i ${p.interfaceName} -j DROP`);
      continue;
    }
    for (const direction of ['ingress', 'egress'] as const) {
      const chain = firewallChainName(direction, p.interfaceName);
      if (chain.length > MAX_CHAIN_NAME) throw new FirewallRulesError(`${what}: chain name ${chain} is longer than ${MAX_CHAIN_NAME}`);
      chains.set(chain, directionChain(chain, p[direction] ?? [], `${what}.${direction}`));
      const jumps = direction === 'ingress' ? ingressJumps : egressJumps;
      jumps.push(`-A ${FORWARD_CHAIN} ${direction === 'ingress' ? '-o' : '-i'} ${p.interfaceName} -j ${chain}`);
    }
  }
  const names = [...chains.keys()].sort();
  return {
    chains: names.map((c) => `:${c} - [0:0]`),
    forward: [...blocked, ...ingressJumps, ...egressJumps],
    rules: names.flatMap((c) => chains.get(c) as string[]),
  };
}
