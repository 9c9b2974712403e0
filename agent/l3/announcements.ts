// What the L3 manager announces by gratuitous ARP after a change. PURE: no I/O.
import type { RouterSpec } from './namespace.ts';
import type { RouterNat } from './rules.ts';

/**
 * Router addresses on legs that are new or changed MAC (a re-added interface is a new port with a
 * new MAC but the same gateway IP): announced by gratuitous ARP, so the subnet's VMs do not keep
 * the old MAC in their neighbour cache until it expires. Floating addresses are not here.
 */
export function newLegAddresses(prev: RouterSpec | undefined, next: RouterSpec): { iface: string; ip: string }[] {
  const before = new Map([...(prev?.interfaces ?? []), ...(prev?.gateway ? [prev.gateway] : [])].map((i) => [i.name, i]));
  const out: { iface: string; ip: string }[] = [];
  for (const leg of [...next.interfaces, ...(next.gateway ? [next.gateway] : [])]) {
    const old = before.get(leg.name);
    for (const cidr of leg.addresses) {
      const ip = cidr.split('/')[0];
      if (!ip.includes('.') || cidr.endsWith('/32')) continue; // IPv4 only; /32s are floating addresses
      if (old && old.mac === leg.mac && old.addresses.includes(cidr)) continue;
      out.push({ iface: leg.name, ip });
    }
  }
  return out;
}

/**
 * Floating addresses that are new or now point at another fixed IP, and those that newly carry
 * port forwardings: announced by gratuitous ARP (an address freed by another router and given out
 * again would otherwise stay in the outside's neighbour caches with that router's MAC).
 */
export function movedFloatingIps(prev: RouterNat | undefined, next: RouterNat): string[] {
  if (next.gatewayIp === null) return [];
  const had = !prev || prev.gatewayIp === null ? undefined : prev;
  const before = new Map(had?.floatingIps.map((f) => [f.floating, f.fixed]) ?? []);
  const forwarded = new Set(had?.portForwardings.map((p) => p.floating) ?? []);
  const moved = next.floatingIps.filter((f) => before.get(f.floating) !== f.fixed).map((f) => f.floating);
  const newlyForwarded = [...new Set(next.portForwardings.map((p) => p.floating))].filter((a) => !forwarded.has(a) && !before.has(a));
  return [...moved, ...newlyForwarded];
}
