import type { Doc, Tx } from '../store/types.ts';

// Names of the unique claims the store enforces. One place, so that every module that
// takes or gives back an address agrees on the key.

/** An IP address in a subnet (held by a port, a floating IP, a router gateway). */
export const ipScope = (subnetId: string) => `ip:${subnetId}`;
/** A MAC address in a network. */
export const macScope = (networkId: string) => `mac:${networkId}`;

export interface FixedIp { subnet_id: string; ip_address: string }

/** Give back everything a port holds: its addresses and its MAC. */
export function releasePortClaims(tx: Tx, port: Doc): void {
  for (const ip of port.fixed_ips as FixedIp[]) tx.release(ipScope(ip.subnet_id), ip.ip_address);
  tx.release(macScope(port.network_id as string), port.mac_address as string);
}
