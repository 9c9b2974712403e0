// Which conntrack entries to delete after a router's NAT changed (arguments for `conntrack`).
// PURE: no I/O. The deletions run after the change is applied and off its critical path: each
// `conntrack -D` walks the kernel's whole conntrack hash (about 15 ms here).
import { intToIpv4, isIpv4Cidr, parseIpv4Cidr } from '../net/ipv4.ts';
import type { FirewallPortSpec } from './firewall-rules.ts';
import { MARK } from './marks.ts';
import type { PortForwarding, RouterNat } from './rules.ts';

/**
 * Floating IPs that went away or moved: inbound and hairpin flows to the old fixed IP, and its
 * outbound flows through the floating address, selected by their ct marks (marks.ts) so that the
 * fixed IP's other flows stay. Traffic no longer needs them (the rewrite is stateless); this is
 * hygiene, so that a flow is never carried by an entry of a mapping that is gone.
 */
export function staleMappingCleanups(prev: RouterNat | undefined, next: RouterNat): string[][] {
  if (!prev || prev.gatewayIp === null) return [];
  const now = new Map(next.gatewayIp === null ? [] : next.floatingIps.map((f) => [f.floating, f.fixed]));
  const m = MARK;
  const out: string[][] = [];
  for (const f of prev.floatingIps) {
    if (now.get(f.floating) === f.fixed) continue;
    out.push(
      ['-D', '-d', f.fixed, '--mark', `${m.inbound}/${m.inbound}`],
      ['-D', '-d', f.fixed, '--mark', `${m.hairpin}/${m.hairpin}`],
      ['-D', '-s', f.fixed, '--mark', `${m.outbound}/${m.outbound}`],
    );
  }
  return out;
}

/** Ranges wider than this are cleaned by floating address and protocol rather than port by port. */
const MAX_PORTS_ONE_BY_ONE = 16;

const pfKey = (p: PortForwarding): string => JSON.stringify([p.floating, p.protocol, p.externalPort, p.internalIp, p.internalPort]);

/**
 * Port forwardings removed or changed: their DNAT is bound into conntrack, so established flows
 * would keep reaching the old internal address. Deleting a little more than needed (a wide range)
 * is harmless: the next packet of a flow that still has a forwarding is NATed again by its rule.
 */
export function stalePortForwardingCleanups(prev: RouterNat | undefined, next: RouterNat): string[][] {
  if (!prev || prev.gatewayIp === null) return [];
  const kept = new Set(next.gatewayIp === null ? [] : next.portForwardings.map(pfKey));
  const out: string[][] = [];
  const seen = new Set<string>();
  const add = (args: string[]): void => {
    const k = args.join(' ');
    if (!seen.has(k)) out.push(args), seen.add(k);
  };
  for (const p of prev.portForwardings) {
    if (kept.has(pfKey(p))) continue;
    const [lo, hi] = typeof p.externalPort === 'number' ? [p.externalPort, p.externalPort] : p.externalPort;
    const base = ['-D', '-p', p.protocol, '--orig-dst', p.floating];
    if (hi - lo + 1 > MAX_PORTS_ONE_BY_ONE) add(base);
    else for (let port = lo; port <= hi; port++) add([...base, '--orig-port-dst', String(port)]);
  }
  return out;
}

/**
 * Router legs whose firewall changed (joined or left a group, new rules, admin state): the
 * connections of their subnets are deleted so that their next packet is judged again by the new
 * policy (a connection the policy still allows is simply picked up again; Neutron's FWaaS agent
 * clears conntrack on a firewall update likewise). `legs`: each leg's addresses in CIDR form.
 */
export function firewallChangeCleanups(
  prev: readonly FirewallPortSpec[] | undefined,
  next: readonly FirewallPortSpec[],
  legs: readonly { name: string; addresses: readonly string[] }[],
): string[][] {
  if (!prev) return [];
  const key = (list: readonly FirewallPortSpec[]) => new Map(list.map((p) => [p.interfaceName, JSON.stringify(p)]));
  const before = key(prev);
  const after = key(next);
  const changed = new Set([...before.keys(), ...after.keys()].filter((leg) => before.get(leg) !== after.get(leg)));
  const out: string[][] = [];
  for (const leg of legs) {
    if (!changed.has(leg.name)) continue;
    for (const address of leg.addresses) {
      if (!isIpv4Cidr(address)) continue; // the router's iptables are IPv4 only
      const c = parseIpv4Cidr(address);
      const subnet = `${intToIpv4(c.network)}/${c.prefix}`;
      out.push(['-D', '-s', subnet], ['-D', '-d', subnet]);
    }
  }
  return out;
}
