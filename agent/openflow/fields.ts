// The match/set-field fields we speak, declared once: OXM class and field number, size, kind, and
// the names Open vSwitch uses for them. Nicira fields use OXM class 0x0001 (NXM_1), which OVS
// accepts inside OpenFlow 1.3 matches and set_field actions.
import { formatMaskedAddr, parseMaskedAddr, type AddrKind } from './addr.ts';

export const OXM_CLASS_NXM_0 = 0x0000;
export const OXM_CLASS_NXM_1 = 0x0001;
export const OXM_CLASS_OPENFLOW_BASIC = 0x8000;

/** A value with an optional bitwise mask; no mask means "exact". */
export interface Masked<T> {
  readonly value: T;
  readonly mask?: T;
}

/** A transport port match: exact, or bitwise-masked (a port range is a set of these). */
export type PortMatch = number | Masked<number>;

export type RegName =
  | 'reg0' | 'reg1' | 'reg2' | 'reg3' | 'reg4' | 'reg5' | 'reg6' | 'reg7'
  | 'reg8' | 'reg9' | 'reg10' | 'reg11' | 'reg12' | 'reg13' | 'reg14' | 'reg15';

/**
 * A flow match by named fields. Address fields are text: "aa:bb:cc:dd:ee:ff[/mask]",
 * "10.0.0.0[/24 or /255.255.255.0]", "fe80::[/64]". 64- and 128-bit fields are bigint.
 * `vlanVid` is the raw OXM value, so it includes the OFPVID_PRESENT bit (0x1000).
 */
export type Match = {
  readonly inPort?: number;
  readonly metadata?: Masked<bigint>;
  readonly tunnelId?: Masked<bigint>;
  readonly tunSrc?: string;
  readonly tunDst?: string;
  readonly ctState?: Masked<number>;
  readonly ctZone?: number;
  readonly ctMark?: Masked<number>;
  readonly ctLabel?: Masked<bigint>;
  /** The id of the conjunction that matched (NXM_NX_CONJ_ID); exact only, never 0 in practice. */
  readonly conjId?: number;
  readonly ethDst?: string;
  readonly ethSrc?: string;
  readonly ethType?: number;
  readonly vlanVid?: Masked<number>;
  readonly ipProto?: number;
  readonly ipv4Src?: string;
  readonly ipv4Dst?: string;
  readonly ipv6Src?: string;
  readonly ipv6Dst?: string;
  readonly arpOp?: number;
  readonly arpSpa?: string;
  readonly arpTpa?: string;
  readonly arpSha?: string;
  readonly arpTha?: string;
  readonly tcpSrc?: PortMatch;
  readonly tcpDst?: PortMatch;
  readonly udpSrc?: PortMatch;
  readonly udpDst?: PortMatch;
  readonly sctpSrc?: PortMatch;
  readonly sctpDst?: PortMatch;
  readonly icmpv4Type?: number;
  readonly icmpv4Code?: number;
  readonly icmpv6Type?: number;
  readonly icmpv6Code?: number;
  readonly ipv6NdTarget?: string;
} & { readonly [K in RegName]?: Masked<number> };

export type FieldName = keyof Match;

/**
 * u8/u16/u32: plain number; m16/m32: Masked<number>; m64/m128: Masked<bigint>; addresses: text;
 * port: a plain number (exact) or Masked<number> (bitwise mask, OVS prints 0x3e8/0xfff8).
 */
export type FieldKind = 'u8' | 'u16' | 'u32' | 'm16' | 'm32' | 'm64' | 'm128' | 'port' | AddrKind;

export interface FieldDef {
  readonly name: FieldName;
  readonly oxmClass: number;
  readonly field: number;
  readonly bytes: number;
  readonly kind: FieldKind;
  /** OVS field name (set_field:...->NAME). */
  readonly ovsName: string;
  /** NXM/OXM name as OVS prints subfields (move:NAME[..]). */
  readonly nxmName: string;
}

const B = OXM_CLASS_OPENFLOW_BASIC;
const N1 = OXM_CLASS_NXM_1;
const def = (
  name: FieldName, oxmClass: number, field: number, bytes: number, kind: FieldKind, ovsName: string, nxmName: string,
): FieldDef => ({ name, oxmClass, field, bytes, kind, ovsName, nxmName });

/** In an order OVS accepts (every field after its prerequisites). Encoding follows this order. */
export const FIELDS: readonly FieldDef[] = [
  def('inPort', B, 0, 4, 'u32', 'in_port', 'OXM_OF_IN_PORT'),
  def('metadata', B, 2, 8, 'm64', 'metadata', 'OXM_OF_METADATA'),
  def('tunnelId', B, 38, 8, 'm64', 'tun_id', 'NXM_NX_TUN_ID'),
  def('tunSrc', N1, 31, 4, 'ipv4', 'tun_src', 'NXM_NX_TUN_IPV4_SRC'),
  def('tunDst', N1, 32, 4, 'ipv4', 'tun_dst', 'NXM_NX_TUN_IPV4_DST'),
  ...Array.from({ length: 16 }, (_, i) => def(`reg${i}` as RegName, N1, i, 4, 'm32', `reg${i}`, `NXM_NX_REG${i}`)),
  def('ctState', N1, 105, 4, 'm32', 'ct_state', 'NXM_NX_CT_STATE'),
  def('ctZone', N1, 106, 2, 'u16', 'ct_zone', 'NXM_NX_CT_ZONE'),
  def('ctMark', N1, 107, 4, 'm32', 'ct_mark', 'NXM_NX_CT_MARK'),
  def('ctLabel', N1, 108, 16, 'm128', 'ct_label', 'NXM_NX_CT_LABEL'),
  // include/openvswitch/meta-flow.h: MFF_CONJ_ID "NXM: NXM_NX_CONJ_ID(37) since v2.4", be32, not maskable.
  def('conjId', N1, 37, 4, 'u32', 'conj_id', 'NXM_NX_CONJ_ID'),
  def('ethDst', B, 3, 6, 'mac', 'eth_dst', 'NXM_OF_ETH_DST'),
  def('ethSrc', B, 4, 6, 'mac', 'eth_src', 'NXM_OF_ETH_SRC'),
  def('ethType', B, 5, 2, 'u16', 'eth_type', 'NXM_OF_ETH_TYPE'),
  def('vlanVid', B, 6, 2, 'm16', 'vlan_vid', 'OXM_OF_VLAN_VID'),
  def('ipProto', B, 10, 1, 'u8', 'nw_proto', 'NXM_OF_IP_PROTO'),
  def('ipv4Src', B, 11, 4, 'ipv4', 'ip_src', 'NXM_OF_IP_SRC'),
  def('ipv4Dst', B, 12, 4, 'ipv4', 'ip_dst', 'NXM_OF_IP_DST'),
  def('ipv6Src', B, 26, 16, 'ipv6', 'ipv6_src', 'NXM_NX_IPV6_SRC'),
  def('ipv6Dst', B, 27, 16, 'ipv6', 'ipv6_dst', 'NXM_NX_IPV6_DST'),
  def('arpOp', B, 21, 2, 'u16', 'arp_op', 'NXM_OF_ARP_OP'),
  def('arpSpa', B, 22, 4, 'ipv4', 'arp_spa', 'NXM_OF_ARP_SPA'),
  def('arpTpa', B, 23, 4, 'ipv4', 'arp_tpa', 'NXM_OF_ARP_TPA'),
  def('arpSha', B, 24, 6, 'mac', 'arp_sha', 'NXM_NX_ARP_SHA'),
  def('arpTha', B, 25, 6, 'mac', 'arp_tha', 'NXM_NX_ARP_THA'),
  def('tcpSrc', B, 13, 2, 'port', 'tcp_src', 'NXM_OF_TCP_SRC'),
  def('tcpDst', B, 14, 2, 'port', 'tcp_dst', 'NXM_OF_TCP_DST'),
  def('udpSrc', B, 15, 2, 'port', 'udp_src', 'NXM_OF_UDP_SRC'),
  def('udpDst', B, 16, 2, 'port', 'udp_dst', 'NXM_OF_UDP_DST'),
  def('sctpSrc', B, 17, 2, 'port', 'sctp_src', 'OXM_OF_SCTP_SRC'),
  def('sctpDst', B, 18, 2, 'port', 'sctp_dst', 'OXM_OF_SCTP_DST'),
  def('icmpv4Type', B, 19, 1, 'u8', 'icmp_type', 'NXM_OF_ICMP_TYPE'),
  def('icmpv4Code', B, 20, 1, 'u8', 'icmp_code', 'NXM_OF_ICMP_CODE'),
  def('icmpv6Type', B, 29, 1, 'u8', 'icmpv6_type', 'NXM_NX_ICMPV6_TYPE'),
  def('icmpv6Code', B, 30, 1, 'u8', 'icmpv6_code', 'NXM_NX_ICMPV6_CODE'),
  def('ipv6NdTarget', B, 31, 16, 'ipv6', 'nd_target', 'NXM_NX_ND_TARGET'),
];

export const FIELD_BY_NAME: ReadonlyMap<FieldName, FieldDef> = new Map(FIELDS.map((f) => [f.name, f]));
const byKey = new Map<number, FieldDef>(FIELDS.map((f) => [(f.oxmClass << 7) | f.field, f]));

/** Older NXM numbers of the same fields (same width); OVS uses them in move/ct-zone subfield headers. */
const NXM_ALIASES: readonly [number, number, FieldName][] = [
  [OXM_CLASS_NXM_0, 1, 'ethDst'], [OXM_CLASS_NXM_0, 2, 'ethSrc'], [OXM_CLASS_NXM_0, 3, 'ethType'],
  [OXM_CLASS_NXM_0, 6, 'ipProto'], [OXM_CLASS_NXM_0, 7, 'ipv4Src'], [OXM_CLASS_NXM_0, 8, 'ipv4Dst'],
  [OXM_CLASS_NXM_0, 9, 'tcpSrc'], [OXM_CLASS_NXM_0, 10, 'tcpDst'], [OXM_CLASS_NXM_0, 11, 'udpSrc'],
  [OXM_CLASS_NXM_0, 12, 'udpDst'], [OXM_CLASS_NXM_0, 13, 'icmpv4Type'], [OXM_CLASS_NXM_0, 14, 'icmpv4Code'],
  [OXM_CLASS_NXM_0, 15, 'arpOp'], [OXM_CLASS_NXM_0, 16, 'arpSpa'], [OXM_CLASS_NXM_0, 17, 'arpTpa'],
  [OXM_CLASS_NXM_1, 16, 'tunnelId'], [OXM_CLASS_NXM_1, 17, 'arpSha'], [OXM_CLASS_NXM_1, 18, 'arpTha'],
  [OXM_CLASS_NXM_1, 19, 'ipv6Src'], [OXM_CLASS_NXM_1, 20, 'ipv6Dst'], [OXM_CLASS_NXM_1, 21, 'icmpv6Type'],
  [OXM_CLASS_NXM_1, 22, 'icmpv6Code'], [OXM_CLASS_NXM_1, 23, 'ipv6NdTarget'],
];
for (const [cls, field, name] of NXM_ALIASES) byKey.set((cls << 7) | field, FIELD_BY_NAME.get(name)!);

export function fieldDef(name: FieldName): FieldDef {
  const f = FIELD_BY_NAME.get(name);
  if (!f) throw new Error(`unknown field '${String(name)}'`);
  return f;
}

export function fieldByOxm(oxmClass: number, field: number): FieldDef | undefined {
  return byKey.get((oxmClass << 7) | field);
}

/** The value type of field K. */
export type FieldValue<K extends FieldName> = NonNullable<Match[K]>;

function uintBytes(n: number | bigint, bytes: number): Buffer {
  let v = BigInt(n);
  if (v < 0n || v >= 1n << BigInt(bytes * 8)) throw new Error(`value ${n} does not fit in ${bytes} bytes`);
  const out = Buffer.alloc(bytes);
  for (let i = bytes - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function bytesUint(b: Buffer): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

const allOnes = (b: Buffer) => b.every((x) => x === 0xff);

/** Encodes a field value to OXM payload bytes; a mask of all ones is dropped (exact match). */
export function encodeFieldValue(f: FieldDef, v: unknown): { value: Buffer; mask?: Buffer } {
  switch (f.kind) {
    case 'u8':
    case 'u16':
    case 'u32':
      if (typeof v !== 'number') throw new Error(`field ${f.name} needs a number`);
      return { value: uintBytes(v, f.bytes) };
    case 'port':
      if (typeof v === 'number') return { value: uintBytes(v, f.bytes) };
    // falls through: a masked port is encoded like m16
    case 'm16':
    case 'm32':
    case 'm64':
    case 'm128': {
      const m = v as Masked<number | bigint>;
      if (m === null || typeof m !== 'object' || !('value' in m)) throw new Error(`field ${f.name} needs {value, mask?}`);
      const value = uintBytes(m.value, f.bytes);
      if (m.mask === undefined) return { value };
      const mask = uintBytes(m.mask, f.bytes);
      return allOnes(mask) ? { value } : { value, mask };
    }
    default:
      if (typeof v !== 'string') throw new Error(`field ${f.name} needs an address string`);
      return parseMaskedAddr(f.kind, v);
  }
}

export function decodeFieldValue(f: FieldDef, value: Buffer, mask?: Buffer): unknown {
  const m = mask && !allOnes(mask) ? mask : undefined;
  switch (f.kind) {
    case 'u8':
    case 'u16':
    case 'u32':
      return Number(bytesUint(value));
    case 'port':
      return m ? { value: Number(bytesUint(value)), mask: Number(bytesUint(m)) } : Number(bytesUint(value));
    case 'm16':
    case 'm32': {
      // OVS keeps ct_state in 8 bits and reports an exact match as mask 0xff: canonically exact.
      const exact = !m || (f.name === 'ctState' && Number(bytesUint(m)) === 0xff);
      return exact ? { value: Number(bytesUint(value)) } : { value: Number(bytesUint(value)), mask: Number(bytesUint(m)) };
    }
    case 'm64':
    case 'm128':
      return m ? { value: bytesUint(value), mask: bytesUint(m) } : { value: bytesUint(value) };
    default:
      return formatMaskedAddr(f.kind, value, m);
  }
}

export { uintBytes, bytesUint };
