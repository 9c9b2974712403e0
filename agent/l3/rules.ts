// The iptables rules of one virtual router (a network namespace with a `qg-` gateway port on the
// external network and one `qr-` port per attached subnet), compiled to a complete iptables-restore
// input for the tables `nat` and `filter`. PURE: no I/O.
//
// We own both tables completely inside a router namespace, so the text is meant to be restored
// WITHOUT --noflush: each table is replaced as a whole, the built-in chains get exactly one jump
// each into our `weft-` chains, and re-applying the same text changes nothing (no duplicated jumps,
// see ENVIRONMENT §5). The text is in iptables-save's canonical form (tables filter then nat,
// built-in chains in kernel order, then our chains, rules grouped per chain in that order), so
// `iptables-save` of an applied text, with its comment lines removed, equals the text.
//
// Floating IPs are NOT here: they are stateless rewrites in the nftables table of floating-nat.ts,
// which marks packets (FLOATING_MARKS) that these rules read.
//
// nat:
//   PREROUTING  -> weft-PREROUTING : port forwardings (-d floating -p tcp --dport ... -j DNAT)
//   OUTPUT      -> weft-OUTPUT     : the same DNAT rules, for traffic the router itself originates
//   POSTROUTING -> weft-POSTROUTING:
//       ! -o qg ... ! --ctstate DNAT, not hairpin -j ACCEPT   traffic between internal subnets is never SNATed
//       -j weft-snat   -s cidr -o qg, source without a floating IP -j SNAT --to-source gatewayIp (enableSnat)
//                      -s cidr ! -o qg --ctstate DNAT -j SNAT gatewayIp, and the same for a hairpin-marked
//                      packet (an internal host reaching a port forwarding or floating IP of another
//                      internal host, so the reply returns through the router; as Neutron does)
// filter:
//   FORWARD -> weft-FORWARD: the router firewall's jumps (firewall-rules.ts), then ACCEPT.
//
// Without a gateway (gatewayIp null) there is no NAT at all: floating IPs and port forwardings
// need the gateway port, so they are ignored (as Neutron's L3 agent does); only the skeleton remains.

import { intToIpv4, ipv4ToInt, isIpv4, isIpv4Cidr, parseIpv4, parseIpv4Cidr } from '../net/ipv4.ts';
import type { FirewallFilterRules } from './firewall-rules.ts';
import { MARK, markMatch } from './marks.ts';

export interface RouterNat {
  gatewayInterface: string; // 'qg-...'
  gatewayIp: string | null; // the router's address on the external network (null: no gateway)
  enableSnat: boolean;
  internalCidrs: string[]; // IPv4 CIDRs of attached subnets (SNAT sources)
  floatingIps: { floating: string; fixed: string }[]; // 1:1 DNAT/SNAT
  portForwardings: PortForwarding[];
}

export interface PortForwarding {
  floating: string;
  protocol: 'tcp' | 'udp';
  externalPort: number | [number, number];
  internalIp: string;
  internalPort: number | [number, number];
}

/** Chains we own (declared in the text, so a restore creates and flushes them). */
export const CHAINS = {
  prerouting: 'weft-PREROUTING',
  output: 'weft-OUTPUT',
  postrouting: 'weft-POSTROUTING',
  snat: 'weft-snat',
  forward: 'weft-FORWARD',
} as const;

/** Thrown for an input that cannot be compiled (bad address, port, name, or conflicting entries). */
export class RouterRulesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RouterRulesError';
  }
}

// ---------------------------------------------------------------------------------------------
// Validation and normalisation (everything that reaches the text is checked: the text is a
// line-based language, so a stray newline or space would be an injection).

/** A canonical IPv4 address (throws otherwise). */
function addr(s: string, what: string): { text: string; n: number } {
  const n = parseIpv4(s);
  if (n === undefined) throw new RouterRulesError(`${what}: '${s}' is not an IPv4 address`);
  return { text: s, n }; // what parseIpv4 accepts is already in canonical form
}

/** A CIDR normalised to its network address, as iptables-save prints it (`10.9.0.1/24` -> `10.9.0.0/24`). */
function cidr(s: string, what: string): { text: string; n: number; len: number } {
  if (!s.includes('/') || !isIpv4Cidr(s)) throw new RouterRulesError(`${what}: '${s}' is not an IPv4 CIDR`);
  const c = parseIpv4Cidr(s);
  return { text: `${intToIpv4(c.network)}/${c.prefix}`, n: c.network, len: c.prefix };
}

function ifName(s: string, what: string): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(s)) throw new RouterRulesError(`${what}: '${s}' is not a valid interface name`);
  return s;
}

function portRange(p: number | [number, number], what: string): [number, number] {
  const [lo, hi] = typeof p === 'number' ? [p, p] : p;
  for (const x of [lo, hi]) {
    if (!Number.isInteger(x) || x < 1 || x > 65535) throw new RouterRulesError(`${what}: port ${String(x)} is not in 1..65535`);
  }
  if (lo > hi) throw new RouterRulesError(`${what}: port range ${lo}:${hi} is reversed`);
  return [lo, hi];
}

const cmpNum = (a: number, b: number): number => a - b;

interface Fip {
  floating: { text: string; n: number };
  fixed: { text: string; n: number };
}

interface Pf {
  floating: { text: string; n: number };
  protocol: 'tcp' | 'udp';
  ext: [number, number];
  internal: { text: string; n: number };
  int: [number, number];
}

/** The floating IPs checked and sorted by floating address (no address mapped twice either way). */
export function normaliseFloatingIps(list: RouterNat['floatingIps']): Fip[] {
  const out = list.map((f, i) => ({
    floating: addr(f.floating, `floatingIps[${i}].floating`),
    fixed: addr(f.fixed, `floatingIps[${i}].fixed`),
  }));
  out.sort((a, b) => cmpNum(a.floating.n, b.floating.n) || cmpNum(a.fixed.n, b.fixed.n));
  for (let i = 1; i < out.length; i++) {
    if (out[i].floating.n === out[i - 1].floating.n) {
      throw new RouterRulesError(`floating IP ${out[i].floating.text} is mapped twice`);
    }
  }
  const fixedSeen = new Map<number, string>();
  for (const f of out) {
    const other = fixedSeen.get(f.fixed.n);
    if (other) throw new RouterRulesError(`fixed IP ${f.fixed.text} has two floating IPs (${other}, ${f.floating.text})`);
    fixedSeen.set(f.fixed.n, f.floating.text);
  }
  return out;
}

function normalisePfs(list: RouterNat['portForwardings'], fips: Fip[]): Pf[] {
  const out: Pf[] = list.map((p, i) => {
    const what = `portForwardings[${i}]`;
    if (p.protocol !== 'tcp' && p.protocol !== 'udp') throw new RouterRulesError(`${what}: protocol must be tcp or udp`);
    const ext = portRange(p.externalPort, `${what}.externalPort`);
    const int = portRange(p.internalPort, `${what}.internalPort`);
    // A range maps 1:1 (same size), or many external ports onto one internal port.
    if (int[0] !== int[1] && int[1] - int[0] !== ext[1] - ext[0]) {
      throw new RouterRulesError(`${what}: internal range ${int[0]}:${int[1]} and external range ${ext[0]}:${ext[1]} differ in size`);
    }
    return {
      floating: addr(p.floating, `${what}.floating`),
      protocol: p.protocol,
      ext,
      internal: addr(p.internalIp, `${what}.internalIp`),
      int,
    };
  });
  out.sort(
    (a, b) =>
      cmpNum(a.floating.n, b.floating.n) ||
      a.protocol.localeCompare(b.protocol) ||
      cmpNum(a.ext[0], b.ext[0]) ||
      cmpNum(a.ext[1], b.ext[1]),
  );
  const fipSet = new Set(fips.map((f) => f.floating.n));
  for (let i = 0; i < out.length; i++) {
    const p = out[i];
    if (fipSet.has(p.floating.n)) {
      throw new RouterRulesError(`port forwarding on ${p.floating.text}, which is a 1:1 floating IP`);
    }
    const prev = out[i - 1];
    if (prev && prev.floating.n === p.floating.n && prev.protocol === p.protocol && p.ext[0] <= prev.ext[1]) {
      throw new RouterRulesError(
        `port forwardings on ${p.floating.text} ${p.protocol} overlap (${prev.ext[0]}:${prev.ext[1]} and ${p.ext[0]}:${p.ext[1]})`,
      );
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Rendering (iptables-save canonical spelling).

function pfRule(chain: string, p: Pf): string {
  const dport = p.ext[0] === p.ext[1] ? `${p.ext[0]}` : `${p.ext[0]}:${p.ext[1]}`;
  // A same-size range is shifted 1:1 (DNAT's `a-b/base`: external base -> internal a).
  const to =
    p.int[0] === p.int[1]
      ? `${p.internal.text}:${p.int[0]}`
      : `${p.internal.text}:${p.int[0]}-${p.int[1]}/${p.ext[0]}`;
  return `-A ${chain} -d ${p.floating.text}/32 -p ${p.protocol} -m ${p.protocol} --dport ${dport} -j DNAT --to-destination ${to}`;
}

const NO_FIREWALL: FirewallFilterRules = { chains: [], forward: [], rules: [] };

/**
 * A complete iptables-restore input for the tables nat and filter of one router (apply WITHOUT
 * --noflush), with the router firewall's chains (firewall-rules.ts) merged into filter.
 */
export function routerRulesText(nat: RouterNat, firewall: FirewallFilterRules = NO_FIREWALL): string {
  const hasGateway = nat.gatewayIp !== null;
  const gwIf = hasGateway ? ifName(nat.gatewayInterface, 'gatewayInterface') : '';
  const gwIp = hasGateway ? addr(nat.gatewayIp as string, 'gatewayIp').text : '';
  let cidrs: string[] = [];
  let fips: Fip[] = [];
  let pfs: Pf[] = [];
  if (hasGateway) {
    const parsed = nat.internalCidrs.map((c, i) => cidr(c, `internalCidrs[${i}]`));
    parsed.sort((a, b) => cmpNum(a.n, b.n) || cmpNum(a.len, b.len));
    cidrs = [...new Set(parsed.map((c) => c.text))];
    fips = normaliseFloatingIps(nat.floatingIps);
    pfs = normalisePfs(nat.portForwardings, fips);
  }

  const pre: string[] = [];
  const out: string[] = [];
  for (const p of pfs) {
    pre.push(pfRule(CHAINS.prerouting, p));
    out.push(pfRule(CHAINS.output, p));
  }

  const post: string[] = [];
  const snat: string[] = [];
  if (hasGateway) {
    const hairpin = markMatch(MARK.hairpin);
    const floatingSource = markMatch(MARK.floatingSource);
    post.push(
      `-A ${CHAINS.postrouting} ! -o ${gwIf} -m conntrack ! --ctstate DNAT -m mark ! --mark ${hairpin} -j ACCEPT`,
      `-A ${CHAINS.postrouting} -j ${CHAINS.snat}`,
    );
    for (const c of cidrs) {
      if (nat.enableSnat) snat.push(`-A ${CHAINS.snat} -s ${c} -o ${gwIf} -m mark ! --mark ${floatingSource} -j SNAT --to-source ${gwIp}`);
      snat.push(`-A ${CHAINS.snat} -s ${c} ! -o ${gwIf} -m conntrack --ctstate DNAT -j SNAT --to-source ${gwIp}`);
      snat.push(`-A ${CHAINS.snat} -s ${c} ! -o ${gwIf} -m mark --mark ${hairpin} -j SNAT --to-source ${gwIp}`);
    }
  }

  // User chains in iptables-save's order (byte order of the names).
  const natChains = [CHAINS.prerouting, CHAINS.output, CHAINS.postrouting, CHAINS.snat].sort();
  const natRules: Record<string, string[]> = {
    [CHAINS.prerouting]: pre,
    [CHAINS.output]: out,
    [CHAINS.postrouting]: post,
    [CHAINS.snat]: snat,
  };

  const lines = [
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    `:${CHAINS.forward} - [0:0]`, // sorts before every weft-fw-... chain ('F' < 'f')
    ...firewall.chains,
    `-A FORWARD -j ${CHAINS.forward}`,
    ...firewall.forward,
    `-A ${CHAINS.forward} -j ACCEPT`,
    ...firewall.rules,
    'COMMIT',
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ...natChains.map((c) => `:${c} - [0:0]`),
    `-A PREROUTING -j ${CHAINS.prerouting}`,
    `-A OUTPUT -j ${CHAINS.output}`,
    `-A POSTROUTING -j ${CHAINS.postrouting}`,
    ...natChains.flatMap((c) => natRules[c]),
    'COMMIT',
  ];
  return lines.join('\n') + '\n';
}

/** iptables-save output without its comment lines and counters, for comparing with routerRulesText. */
export function canonicalSave(save: string): string {
  return (
    save
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'))
      .map((l) => l.replace(/^(:\S+ \S+) \[\d+:\d+\]$/, '$1 [0:0]'))
      .join('\n') + '\n'
  );
}
