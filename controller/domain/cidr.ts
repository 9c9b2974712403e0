import { Address4, Address6 } from 'ip-address';

// Pure IPv4/IPv6 address math on BigInt values. Addresses are printed the way Neutron
// (netaddr) prints them: dotted quads, and compressed lower-case IPv6.

export type IpVersion = 4 | 6;

export interface Ip {
  version: IpVersion;
  value: bigint;
}

export interface Cidr {
  version: IpVersion;
  prefix: number;
  /** The network address. */
  first: bigint;
  /** The last address (the IPv4 broadcast address). */
  last: bigint;
}

/** An inclusive range of addresses of one version. */
export interface Range {
  first: bigint;
  last: bigint;
}

const BITS: Record<IpVersion, number> = { 4: 32, 6: 128 };

export function bitsOf(version: IpVersion): number {
  return BITS[version];
}

/** Parse a plain address (no prefix); undefined when it is not one. */
export function tryParseIp(text: string): Ip | undefined {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(text) && Address4.isValid(text)) return { version: 4, value: new Address4(text).bigInt() };
  if (text.includes(':') && !text.includes('/') && !text.includes('%') && Address6.isValid(text)) {
    return { version: 6, value: new Address6(text).bigInt() };
  }
  return undefined;
}

export function parseIp(text: string): Ip {
  const ip = tryParseIp(text);
  if (!ip) throw new Error(`not an IP address: ${text}`);
  return ip;
}

export function formatIp(version: IpVersion, value: bigint): string {
  if (version === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  }
  return Address6.fromBigInt(value).correctForm();
}

/** The canonical text of an address ('2001:DB8::01' -> '2001:db8::1'). */
export function normalizeIp(text: string): string {
  const ip = parseIp(text);
  return formatIp(ip.version, ip.value);
}

export function tryParseCidr(text: string): Cidr | undefined {
  const parts = text.split('/');
  if (parts.length !== 2 || !/^\d{1,3}$/.test(parts[1])) return undefined;
  const ip = tryParseIp(parts[0]);
  if (!ip) return undefined;
  const prefix = Number(parts[1]);
  const bits = BITS[ip.version];
  if (prefix > bits) return undefined;
  const hostBits = BigInt(bits - prefix);
  const first = (ip.value >> hostBits) << hostBits;
  return { version: ip.version, prefix, first, last: first + (1n << hostBits) - 1n };
}

export function parseCidr(text: string): Cidr {
  const c = tryParseCidr(text);
  if (!c) throw new Error(`not a CIDR: ${text}`);
  return c;
}

/** The canonical network form of a CIDR ('10.0.0.5/24' -> '10.0.0.0/24'). */
export function formatCidr(c: Cidr): string {
  return `${formatIp(c.version, c.first)}/${c.prefix}`;
}

export function normalizeCidr(text: string): string {
  return formatCidr(parseCidr(text));
}

export function cidrContains(c: Cidr, ip: Ip): boolean {
  return ip.version === c.version && ip.value >= c.first && ip.value <= c.last;
}

export function rangesOverlap(a: Range, b: Range): boolean {
  return a.first <= b.last && b.first <= a.last;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.version === b.version && rangesOverlap(a, b);
}

/** Number of addresses in a CIDR. */
export function cidrSize(c: Cidr): bigint {
  return c.last - c.first + 1n;
}

/**
 * The addresses a subnet may hand out: everything but the network address and, for
 * IPv4, the broadcast address. Empty for /31, /32 (v4) and /128 (v6) as in Neutron.
 */
export function usableRange(c: Cidr): Range | undefined {
  const first = c.first + 1n;
  const last = c.last - (c.version === 4 ? 1n : 0n);
  return first <= last ? { first, last } : undefined;
}

/** The default gateway: the first usable address, or undefined when there is none. */
export function defaultGateway(c: Cidr): bigint | undefined {
  return usableRange(c)?.first;
}

/** Is this address unusable as a host on the subnet (network, or v4 broadcast)? */
export function isReservedAddress(c: Cidr, value: bigint): boolean {
  return value === c.first || (c.version === 4 && value === c.last);
}

/** Neutron's generate_pools: the usable range minus the gateway, as ranges. */
export function defaultPools(c: Cidr, gateway?: bigint): Range[] {
  const usable = usableRange(c);
  if (!usable) return [];
  return subtract(usable, gateway);
}

function subtract(r: Range, hole: bigint | undefined): Range[] {
  if (hole === undefined || hole < r.first || hole > r.last) return [r];
  const out: Range[] = [];
  if (hole > r.first) out.push({ first: r.first, last: hole - 1n });
  if (hole < r.last) out.push({ first: hole + 1n, last: r.last });
  return out;
}

export function rangeContains(r: Range, value: bigint): boolean {
  return value >= r.first && value <= r.last;
}

/** netaddr's IPRange text: '10.0.0.2-10.0.0.254'. */
export function formatRange(version: IpVersion, r: Range): string {
  return `${formatIp(version, r.first)}-${formatIp(version, r.last)}`;
}

/** Parse a MAC 'aa:bb:cc:dd:ee:ff' into 6 bytes. */
export function macBytes(mac: string): number[] {
  const parts = mac.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new Error(`not a MAC address: ${mac}`);
  return parts.map((p) => parseInt(p, 16));
}

/**
 * The modified EUI-64 address of a MAC on an IPv6 /64 (RFC 4291 appendix A):
 * the MAC split by ff:fe with the universal/local bit flipped.
 */
export function eui64Address(c: Cidr, mac: string): string {
  if (c.version !== 6 || c.prefix > 64) throw new Error(`EUI-64 needs an IPv6 prefix of at most /64: ${formatCidr(c)}`);
  const b = macBytes(mac);
  const iid = [b[0] ^ 0x02, b[1], b[2], 0xff, 0xfe, b[3], b[4], b[5]].reduce((acc, byte) => (acc << 8n) | BigInt(byte), 0n);
  return formatIp(6, c.first | iid);
}
