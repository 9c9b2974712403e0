// OXM TLVs and the OpenFlow 1.3 `ofp_match` (type OXM). Encoding emits fields in FIELDS order, so
// every field comes after its prerequisites (eth_type before IP fields, ip_proto before ports).
import {
  FIELDS,
  decodeFieldValue,
  encodeFieldValue,
  fieldByOxm,
  fieldDef,
  type FieldDef,
  type FieldName,
  type Match,
} from './fields.ts';

export const OFPMT_OXM = 1;

export const pad8 = (n: number): number => (8 - (n % 8)) % 8;

/** One OXM TLV: class(16) | field(7) hasmask(1) | length(8) | value | mask. */
export function encodeOxm(f: FieldDef, value: Buffer, mask?: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(f.oxmClass, 0);
  h.writeUInt8((f.field << 1) | (mask ? 1 : 0), 2);
  h.writeUInt8(value.length + (mask ? mask.length : 0), 3);
  return Buffer.concat(mask ? [h, value, mask] : [h, value]);
}

/** The OXM TLV for `name` = `v` (the value in Match form). */
export function encodeFieldOxm(name: FieldName, v: unknown): Buffer {
  const f = fieldDef(name);
  const { value, mask } = encodeFieldValue(f, v);
  return encodeOxm(f, value, mask);
}

/** A 4-byte OXM/NXM header without mask (used by move and ct zone source). */
export function oxmHeader(f: FieldDef): number {
  return ((f.oxmClass << 16) | (f.field << 9) | f.bytes) >>> 0;
}

export function fieldByHeader(header: number): FieldDef {
  const f = fieldByOxm(header >>> 16, (header >>> 9) & 0x7f);
  if (!f) throw new Error(`unknown OXM header 0x${header.toString(16).padStart(8, '0')}`);
  return f;
}

export interface DecodedOxm {
  readonly field: FieldDef;
  readonly value: unknown;
  /** Bytes consumed. */
  readonly length: number;
}

/** Decodes one OXM TLV at `off`. Throws on unknown fields. */
export function decodeOxm(buf: Buffer, off: number): DecodedOxm {
  if (off + 4 > buf.length) throw new Error('truncated OXM header');
  const cls = buf.readUInt16BE(off);
  const fh = buf.readUInt8(off + 2);
  const len = buf.readUInt8(off + 3);
  const hasMask = (fh & 1) === 1;
  const fieldNum = fh >> 1;
  if (off + 4 + len > buf.length) throw new Error('truncated OXM value');
  if (cls === 0xffff) throw new Error('experimenter OXM fields are not supported');
  const f = fieldByOxm(cls, fieldNum);
  if (!f) throw new Error(`unknown OXM field class=0x${cls.toString(16)} field=${fieldNum}`);
  const vlen = hasMask ? len / 2 : len;
  if (vlen !== f.bytes) throw new Error(`OXM ${f.name}: length ${len} does not fit ${f.bytes}-byte field`);
  const value = buf.subarray(off + 4, off + 4 + vlen);
  const mask = hasMask ? buf.subarray(off + 4 + vlen, off + 4 + len) : undefined;
  return { field: f, value: decodeFieldValue(f, value, mask), length: 4 + len };
}

const FIELD_ORDER = new Map<string, number>(FIELDS.map((f, i) => [f.name, i]));

/** The OXM TLVs of a match, in prerequisite order (FIELDS order); keys that are no field are ignored. */
export function encodeOxms(match: Match): Buffer {
  // The match's own keys, not a probe of every field: probing ~50 absent properties of objects of
  // many shapes was most of the cost of encoding a FLOW_MOD.
  const present: FieldDef[] = [];
  const m = match as Readonly<Record<string, unknown>>;
  for (const k of Object.keys(m)) {
    if (m[k] === undefined || !FIELD_ORDER.has(k)) continue;
    present.push(FIELDS[FIELD_ORDER.get(k)!]);
  }
  if (present.length > 1) present.sort((a, b) => FIELD_ORDER.get(a.name)! - FIELD_ORDER.get(b.name)!);
  const parts: Buffer[] = [];
  for (const f of present) parts.push(encodeFieldOxm(f.name, m[f.name]));
  return Buffer.concat(parts);
}

/** `ofp_match`: type(2)=1 | length(2) (without padding) | OXMs | zero pad to 8. */
export function encodeMatch(match: Match): Buffer {
  const oxms = encodeOxms(match);
  const h = Buffer.alloc(4);
  h.writeUInt16BE(OFPMT_OXM, 0);
  h.writeUInt16BE(4 + oxms.length, 2);
  return Buffer.concat([h, oxms, Buffer.alloc(pad8(4 + oxms.length))]);
}

/** Decodes an `ofp_match` at `off`; `length` includes the padding. */
export function decodeMatch(buf: Buffer, off = 0): { match: Match; length: number } {
  if (off + 4 > buf.length) throw new Error('truncated ofp_match');
  const type = buf.readUInt16BE(off);
  const len = buf.readUInt16BE(off + 2);
  if (type !== OFPMT_OXM) throw new Error(`unsupported match type ${type}`);
  if (len < 4 || off + len > buf.length) throw new Error(`bad ofp_match length ${len}`);
  const out: Record<string, unknown> = {};
  let p = off + 4;
  const end = off + len;
  while (p < end) {
    const d = decodeOxm(buf.subarray(0, end), p);
    if (d.field.name in out) throw new Error(`duplicate OXM field ${d.field.name}`);
    out[d.field.name] = d.value;
    p += d.length;
  }
  return { match: out as Match, length: len + pad8(len) };
}
