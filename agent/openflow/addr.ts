// Address helpers shared by the OXM codec and the ovs-ofctl renderer: MAC, IPv4 and IPv6 values
// with optional masks, in the text forms ovs-ofctl prints ("10.0.0.0/24", "fe80::/64",
// "01:00:00:00:00:00/01:00:00:00:00:00").

export function macToBytes(mac: string): Buffer {
  const parts = mac.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new Error(`bad MAC address '${mac}'`);
  }
  return Buffer.from(parts.map((p) => Number.parseInt(p, 16)));
}

export function bytesToMac(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export function ipv4ToBytes(ip: string): Buffer {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new Error(`bad IPv4 address '${ip}'`);
  }
  return Buffer.from(parts.map(Number));
}

export function bytesToIpv4(b: Buffer): string {
  return [...b].join('.');
}

export function ipv6ToBytes(ip: string): Buffer {
  let text = ip.toLowerCase();
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const v4 = ipv4ToBytes(text.slice(lastColon + 1));
    text = `${text.slice(0, lastColon + 1)}${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) throw new Error(`bad IPv6 address '${ip}'`);
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => {
    if (!/^[0-9a-f]{1,4}$/.test(g)) throw new Error(`bad IPv6 address '${ip}'`);
    return Number.parseInt(g, 16);
  }));
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const total = 8;
  let groups: number[];
  if (halves.length === 2) {
    const fill = total - head.length - rest.length;
    if (fill < 0) throw new Error(`bad IPv6 address '${ip}'`);
    groups = [...head, ...new Array(fill).fill(0), ...rest];
  } else {
    groups = head;
  }
  if (groups.length !== 8) throw new Error(`bad IPv6 address '${ip}'`);
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** RFC 5952 text (what glibc's inet_ntop prints): the longest run of >= 2 zero groups becomes "::". */
export function bytesToIpv6(b: Buffer): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(b.readUInt16BE(i * 2));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (bestLen < 2) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

/** Number of leading one bits if `mask` is a CIDR mask, else -1. */
export function prefixLength(mask: Buffer): number {
  let n = 0;
  let i = 0;
  for (; i < mask.length && mask[i] === 0xff; i++) n += 8;
  if (i < mask.length) {
    const b = mask[i];
    let bits = 0;
    while (bits < 8 && (b & (0x80 >> bits)) !== 0) bits++;
    if (((b << bits) & 0xff) !== 0) return -1;
    n += bits;
    for (i++; i < mask.length; i++) if (mask[i] !== 0) return -1;
  }
  return n;
}

export function prefixMask(bytes: number, prefix: number): Buffer {
  const m = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    m[i] = (0xff00 >> bits) & 0xff;
  }
  return m;
}

export type AddrKind = 'mac' | 'ipv4' | 'ipv6';

const SIZES: Record<AddrKind, number> = { mac: 6, ipv4: 4, ipv6: 16 };
const toBytes: Record<AddrKind, (s: string) => Buffer> = { mac: macToBytes, ipv4: ipv4ToBytes, ipv6: ipv6ToBytes };
const fromBytes: Record<AddrKind, (b: Buffer) => string> = { mac: bytesToMac, ipv4: bytesToIpv4, ipv6: bytesToIpv6 };

/** Parses "addr", "addr/prefix" (IP only) or "addr/mask". A mask of all ones is returned as undefined. */
export function parseMaskedAddr(kind: AddrKind, text: string): { value: Buffer; mask?: Buffer } {
  const slash = text.indexOf('/');
  if (slash < 0) return { value: toBytes[kind](text) };
  const value = toBytes[kind](text.slice(0, slash));
  const m = text.slice(slash + 1);
  let mask: Buffer;
  if (kind !== 'mac' && /^\d+$/.test(m)) {
    const p = Number(m);
    if (p > SIZES[kind] * 8) throw new Error(`bad prefix length in '${text}'`);
    mask = prefixMask(SIZES[kind], p);
  } else {
    mask = toBytes[kind](m);
  }
  return mask.every((x) => x === 0xff) ? { value } : { value, mask };
}

/** Formats like ovs-ofctl: IPs with a CIDR mask as "/N", other masks in full; MACs always in full. */
export function formatMaskedAddr(kind: AddrKind, value: Buffer, mask?: Buffer): string {
  const v = fromBytes[kind](value);
  if (!mask || mask.every((x) => x === 0xff)) return v;
  if (kind !== 'mac') {
    const p = prefixLength(mask);
    if (p >= 0) return `${v}/${p}`;
  }
  return `${v}/${fromBytes[kind](mask)}`;
}

/** Canonical text of a masked address string (so that equal values compare equal). */
export function canonicalAddr(kind: AddrKind, text: string): string {
  const { value, mask } = parseMaskedAddr(kind, text);
  return formatMaskedAddr(kind, value, mask);
}
