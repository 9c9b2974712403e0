// Nicira (vendor 0x00002320) extension actions: ct, nat, ct_clear, resubmit(,table), move,
// set_field with a mask (NXAST_REG_LOAD2), conjunction and note. Layouts from OVS's
// include/openflow/nicira-ext.h and lib/ofp-actions.c (struct nx_action_*), written here from scratch.
import { ipv4ToBytes, ipv6ToBytes, bytesToIpv4, bytesToIpv6 } from './addr.ts';
import { fieldDef } from './fields.ts';
import { decodeOxm, encodeFieldOxm, fieldByHeader, oxmHeader, pad8 } from './match.ts';
import type { Action, CtAction, Nat, SetFieldAction, Subfield } from './actions.ts';

export const NX_VENDOR_ID = 0x00002320;
export const OFPAT_EXPERIMENTER = 0xffff;

export const NXAST = {
  RESUBMIT: 1,
  REG_MOVE: 6,
  NOTE: 8,
  RESUBMIT_TABLE: 14,
  REG_LOAD2: 33,
  CONJUNCTION: 34,
  CT: 35,
  NAT: 36,
  CT_CLEAR: 43,
} as const;

export const NX_CT_F_COMMIT = 1;
export const NX_CT_F_FORCE = 2;
export const NX_CT_RECIRC_NONE = 0xff;
export const NX_NAT_F = { SRC: 1, DST: 2, PERSISTENT: 4, PROTO_HASH: 8, PROTO_RANDOM: 16 } as const;
export const NX_NAT_RANGE = { IPV4_MIN: 1, IPV4_MAX: 2, IPV6_MIN: 4, IPV6_MAX: 8, PROTO_MIN: 16, PROTO_MAX: 32 } as const;
/** OFPP_IN_PORT in the 16-bit port space Nicira actions use. */
export const NX_IN_PORT = 0xfff8;

type EncodeList = (actions: readonly Action[]) => Buffer;
type DecodeList = (buf: Buffer) => Action[];

/** `ffff len 00002320 subtype` + body, padded to a multiple of 8 (len includes the padding). */
function nxAction(subtype: number, body: Buffer): Buffer {
  const raw = 10 + body.length;
  const out = Buffer.alloc(raw + pad8(raw));
  out.writeUInt16BE(OFPAT_EXPERIMENTER, 0);
  out.writeUInt16BE(out.length, 2);
  out.writeUInt32BE(NX_VENDOR_ID, 4);
  out.writeUInt16BE(subtype, 8);
  body.copy(out, 10);
  return out;
}

function subfieldBits(s: Subfield): { ofs: number; nBits: number } {
  const f = fieldDef(s.field);
  const ofs = s.ofs ?? 0;
  const nBits = s.nBits ?? f.bytes * 8 - ofs;
  return { ofs, nBits };
}

/** Canonical form: whole-field subfields carry no ofs/nBits. */
function makeSubfield(header: number, ofs: number, nBits: number): Subfield {
  const f = fieldByHeader(header);
  if (ofs === 0 && nBits === f.bytes * 8) return { field: f.name };
  return { field: f.name, ofs, nBits };
}

function encodeNat(nat: Nat): Buffer {
  let flags = 0;
  if (nat.type === 'src') flags |= NX_NAT_F.SRC;
  if (nat.type === 'dst') flags |= NX_NAT_F.DST;
  if (nat.persistent) flags |= NX_NAT_F.PERSISTENT;
  if (nat.hash) flags |= NX_NAT_F.PROTO_HASH;
  if (nat.random) flags |= NX_NAT_F.PROTO_RANDOM;
  let present = 0;
  const parts: Buffer[] = [];
  const v6 = (nat.ipMin ?? '').includes(':');
  if (nat.ipMin !== undefined) {
    parts.push(v6 ? ipv6ToBytes(nat.ipMin) : ipv4ToBytes(nat.ipMin));
    present |= v6 ? NX_NAT_RANGE.IPV6_MIN : NX_NAT_RANGE.IPV4_MIN;
  }
  if (nat.ipMax !== undefined) {
    parts.push(v6 ? ipv6ToBytes(nat.ipMax) : ipv4ToBytes(nat.ipMax));
    present |= v6 ? NX_NAT_RANGE.IPV6_MAX : NX_NAT_RANGE.IPV4_MAX;
  }
  const u16 = (n: number) => {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(n);
    return b;
  };
  if (nat.portMin !== undefined) {
    parts.push(u16(nat.portMin));
    present |= NX_NAT_RANGE.PROTO_MIN;
  }
  if (nat.portMax !== undefined) {
    parts.push(u16(nat.portMax));
    present |= NX_NAT_RANGE.PROTO_MAX;
  }
  const head = Buffer.alloc(6);
  head.writeUInt16BE(flags, 2);
  head.writeUInt16BE(present, 4);
  return nxAction(NXAST.NAT, Buffer.concat([head, ...parts]));
}

function decodeNat(a: Buffer): Nat {
  const flags = a.readUInt16BE(12);
  const present = a.readUInt16BE(14);
  let p = 16;
  const nat: { -readonly [K in keyof Nat]: Nat[K] } = {};
  if (flags & NX_NAT_F.SRC) nat.type = 'src';
  else if (flags & NX_NAT_F.DST) nat.type = 'dst';
  if (present & NX_NAT_RANGE.IPV4_MIN) (nat.ipMin = bytesToIpv4(a.subarray(p, p + 4))), (p += 4);
  if (present & NX_NAT_RANGE.IPV4_MAX) (nat.ipMax = bytesToIpv4(a.subarray(p, p + 4))), (p += 4);
  if (present & NX_NAT_RANGE.IPV6_MIN) (nat.ipMin = bytesToIpv6(a.subarray(p, p + 16))), (p += 16);
  if (present & NX_NAT_RANGE.IPV6_MAX) (nat.ipMax = bytesToIpv6(a.subarray(p, p + 16))), (p += 16);
  if (present & NX_NAT_RANGE.PROTO_MIN) (nat.portMin = a.readUInt16BE(p)), (p += 2);
  if (present & NX_NAT_RANGE.PROTO_MAX) (nat.portMax = a.readUInt16BE(p)), (p += 2);
  if (flags & NX_NAT_F.PERSISTENT) nat.persistent = true;
  if (flags & NX_NAT_F.PROTO_HASH) nat.hash = true;
  if (flags & NX_NAT_F.PROTO_RANDOM) nat.random = true;
  return nat;
}

function encodeCt(a: CtAction, encodeList: EncodeList): Buffer {
  const nested = Buffer.concat([...(a.nat ? [encodeNat(a.nat)] : []), encodeList(a.exec ?? [])]);
  const head = Buffer.alloc(24);
  head.writeUInt16BE(OFPAT_EXPERIMENTER, 0);
  head.writeUInt16BE(24 + nested.length, 2);
  head.writeUInt32BE(NX_VENDOR_ID, 4);
  head.writeUInt16BE(NXAST.CT, 8);
  head.writeUInt16BE((a.commit ? NX_CT_F_COMMIT : 0) | (a.force ? NX_CT_F_FORCE : 0), 10);
  if (typeof a.zone === 'object') {
    const { ofs, nBits } = subfieldBits(a.zone);
    head.writeUInt32BE(oxmHeader(fieldDef(a.zone.field)), 12);
    head.writeUInt16BE((ofs << 6) | (nBits - 1), 16);
  } else {
    head.writeUInt16BE(a.zone ?? 0, 16);
  }
  head.writeUInt8(a.table ?? NX_CT_RECIRC_NONE, 18);
  head.writeUInt16BE(a.alg ?? 0, 22);
  return Buffer.concat([head, nested]);
}

function decodeCt(a: Buffer, decodeList: DecodeList): CtAction {
  const flags = a.readUInt16BE(10);
  const zoneSrc = a.readUInt32BE(12);
  const zoneImm = a.readUInt16BE(16);
  const table = a.readUInt8(18);
  const alg = a.readUInt16BE(22);
  const out: { -readonly [K in keyof CtAction]: CtAction[K] } = { type: 'ct' };
  if (flags & NX_CT_F_COMMIT) out.commit = true;
  if (flags & NX_CT_F_FORCE) out.force = true;
  if (zoneSrc !== 0) out.zone = makeSubfield(zoneSrc, zoneImm >> 6, (zoneImm & 0x3f) + 1);
  else if (zoneImm !== 0) out.zone = zoneImm;
  if (table !== NX_CT_RECIRC_NONE) out.table = table;
  if (alg !== 0) out.alg = alg;
  let nested = a.subarray(24);
  if (nested.length >= 10 && nested.readUInt16BE(0) === OFPAT_EXPERIMENTER && nested.readUInt32BE(4) === NX_VENDOR_ID
    && nested.readUInt16BE(8) === NXAST.NAT) {
    const len = nested.readUInt16BE(2);
    out.nat = decodeNat(nested.subarray(0, len));
    nested = nested.subarray(len);
  }
  const exec = decodeList(nested);
  if (exec.length > 0) out.exec = exec;
  return out;
}

/** Encodes a Nicira action, or returns undefined if `a` is not one. */
export function encodeNxAction(a: Action, encodeList: EncodeList): Buffer | undefined {
  switch (a.type) {
    case 'ct':
      return encodeCt(a, encodeList);
    case 'ctClear':
      return nxAction(NXAST.CT_CLEAR, Buffer.alloc(6));
    case 'resubmit': {
      const b = Buffer.alloc(6);
      b.writeUInt16BE(a.inPort ?? NX_IN_PORT, 0);
      b.writeUInt8(a.table ?? 0xff, 2);
      return nxAction(NXAST.RESUBMIT_TABLE, b);
    }
    case 'move': {
      const src = subfieldBits(a.src);
      const dst = subfieldBits({ ...a.dst, nBits: a.dst.nBits ?? src.nBits });
      if (dst.nBits !== src.nBits) throw new Error('move: source and destination widths differ');
      const b = Buffer.alloc(14);
      b.writeUInt16BE(src.nBits, 0);
      b.writeUInt16BE(src.ofs, 2);
      b.writeUInt16BE(dst.ofs, 4);
      b.writeUInt32BE(oxmHeader(fieldDef(a.src.field)), 6);
      b.writeUInt32BE(oxmHeader(fieldDef(a.dst.field)), 10);
      return nxAction(NXAST.REG_MOVE, b);
    }
    case 'conjunction': {
      const b = Buffer.alloc(6);
      b.writeUInt8(a.clause - 1, 0);
      b.writeUInt8(a.nClauses, 1);
      b.writeUInt32BE(a.id, 2);
      return nxAction(NXAST.CONJUNCTION, b);
    }
    case 'note':
      return nxAction(NXAST.NOTE, Buffer.concat([a.data, Buffer.alloc(a.data.length < 6 ? 6 - a.data.length : 0)]));
    default:
      return undefined;
  }
}

/** NXAST_REG_LOAD2: a set_field that carries a mask (OpenFlow 1.3 SET_FIELD cannot). */
export function encodeRegLoad2(a: SetFieldAction): Buffer {
  return nxAction(NXAST.REG_LOAD2, encodeFieldOxm(a.field, a.value));
}

/** Decodes one Nicira action (the whole TLV `a`). */
export function decodeNxAction(a: Buffer, decodeList: DecodeList): Action {
  const vendor = a.readUInt32BE(4);
  if (vendor !== NX_VENDOR_ID) throw new Error(`unknown experimenter action vendor 0x${vendor.toString(16)}`);
  const subtype = a.readUInt16BE(8);
  switch (subtype) {
    case NXAST.CT:
      return decodeCt(a, decodeList);
    case NXAST.CT_CLEAR:
      return { type: 'ctClear' };
    case NXAST.RESUBMIT:
    case NXAST.RESUBMIT_TABLE: {
      const inPort = a.readUInt16BE(10);
      const table = subtype === NXAST.RESUBMIT ? 0xff : a.readUInt8(12);
      return {
        type: 'resubmit',
        ...(inPort !== NX_IN_PORT ? { inPort } : {}),
        ...(table !== 0xff ? { table } : {}),
      };
    }
    case NXAST.REG_MOVE: {
      // Canonical dst: its width is the source's, so only a nonzero offset is kept.
      const nBits = a.readUInt16BE(10);
      const dstOfs = a.readUInt16BE(14);
      const dst = fieldByHeader(a.readUInt32BE(20)).name;
      return {
        type: 'move',
        src: makeSubfield(a.readUInt32BE(16), a.readUInt16BE(12), nBits),
        dst: dstOfs === 0 ? { field: dst } : { field: dst, ofs: dstOfs },
      };
    }
    case NXAST.CONJUNCTION:
      return { type: 'conjunction', clause: a.readUInt8(10) + 1, nClauses: a.readUInt8(11), id: a.readUInt32BE(12) };
    case NXAST.NOTE:
      return { type: 'note', data: Buffer.from(a.subarray(10)) };
    case NXAST.NAT:
      throw new Error('nat is only supported as the first action inside ct');
    case NXAST.REG_LOAD2: {
      const d = decodeOxm(a, 10);
      return { type: 'setField', field: d.field.name, value: d.value } as SetFieldAction;
    }
    default:
      throw new Error(`unsupported Nicira action subtype ${subtype}`);
  }
}
