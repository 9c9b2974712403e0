// IPv4 arithmetic for the agent (DHCP options, router rules and namespaces, firewall rules).
// PURE: no I/O.
import { ipv4ToBytes } from '../openflow/addr.ts';
import { isIpv4 } from '../../schemas/common.ts';

/** Dotted-quad IPv4 text: the schemas' check, shared with the controller. */
export { isIpv4 };

export function ipv4ToInt(ip: string): number {
  return ipv4ToBytes(ip).readUInt32BE(0);
}

/**
 * The address as a number, or undefined unless `s` is a dotted quad as isIpv4 accepts it (four
 * decimal octets 0-255, no leading zeros, nothing else). The same answer in one pass over the
 * characters: a router's every floating IP goes through here on each of its changes.
 */
export function parseIpv4(s: string): number | undefined {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) { // '.'
      if (digits === 0 || dots === 3) return undefined;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && octet === 0) return undefined; // a leading zero
      octet = octet * 10 + (c - 48);
      if (octet > 255) return undefined;
      digits++;
    } else {
      return undefined;
    }
  }
  if (digits === 0 || dots !== 3) return undefined;
  return value * 256 + octet;
}

export function ipv4IntToBytes(n: number): Uint8Array {
  return Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
}

export function intToIpv4(n: number): string {
  const v = n >>> 0;
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

export interface Ipv4Cidr {
  network: number; // host bits cleared
  prefix: number;
}

/** Parses 'a.b.c.d/n' (host bits are cleared); throws on anything else. */
export function parseIpv4Cidr(cidr: string): Ipv4Cidr {
  const slash = cidr.indexOf('/');
  const ip = slash < 0 ? cidr : cidr.slice(0, slash);
  const lenText = slash < 0 ? '32' : cidr.slice(slash + 1);
  if (!isIpv4(ip) || !/^\d{1,2}$/.test(lenText) || Number(lenText) > 32) throw new Error(`bad IPv4 CIDR '${cidr}'`);
  const prefix = Number(lenText);
  return { network: (ipv4ToInt(ip) & prefixToMask(prefix)) >>> 0, prefix };
}

export function isIpv4Cidr(text: string): boolean {
  const [ip, len, ...rest] = text.split('/');
  return rest.length === 0 && isIpv4(ip) && (len === undefined || (/^\d{1,2}$/.test(len) && Number(len) <= 32));
}

export function prefixToMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function cidrMask(c: Ipv4Cidr): string {
  return intToIpv4(prefixToMask(c.prefix));
}

export function cidrBroadcast(c: Ipv4Cidr): string {
  return intToIpv4((c.network | ~prefixToMask(c.prefix)) >>> 0);
}

export function cidrContainsIp(c: Ipv4Cidr, ip: string): boolean {
  return ((ipv4ToInt(ip) & prefixToMask(c.prefix)) >>> 0) === c.network;
}
