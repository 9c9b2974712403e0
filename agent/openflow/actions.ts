// OpenFlow 1.3 actions and instructions, with the Nicira extensions of nicira.ts.
// Actions are plain immutable objects; optional fields hold their defaults when absent, and the
// decoder leaves defaults out, so encode -> decode gives back the canonical object.
import { encodeFieldValue, fieldDef, type FieldName, type FieldValue } from './fields.ts';
import { decodeOxm, encodeFieldOxm, pad8 } from './match.ts';
import { OFPAT_EXPERIMENTER, decodeNxAction, encodeNxAction, encodeRegLoad2 } from './nicira.ts';

/** OpenFlow 1.3 reserved port numbers. */
export const OFPP = {
  MAX: 0xffffff00,
  IN_PORT: 0xfffffff8,
  TABLE: 0xfffffff9,
  NORMAL: 0xfffffffa,
  FLOOD: 0xfffffffb,
  ALL: 0xfffffffc,
  CONTROLLER: 0xfffffffd,
  LOCAL: 0xfffffffe,
  ANY: 0xffffffff,
} as const;
export const OFPG_ANY = 0xffffffff;
/** max_len meaning "send the whole packet, no buffering". */
export const OFPCML_NO_BUFFER = 0xffff;

export const OFPAT = {
  OUTPUT: 0,
  PUSH_VLAN: 17,
  POP_VLAN: 18,
  GROUP: 22,
  DEC_NW_TTL: 24,
  SET_FIELD: 25,
  EXPERIMENTER: 0xffff,
} as const;

export const OFPIT = {
  GOTO_TABLE: 1,
  WRITE_METADATA: 2,
  WRITE_ACTIONS: 3,
  APPLY_ACTIONS: 4,
  CLEAR_ACTIONS: 5,
  METER: 6,
} as const;

/** A bit range of a field; without ofs/nBits it is the whole field. */
export interface Subfield {
  readonly field: FieldName;
  readonly ofs?: number;
  readonly nBits?: number;
}

/** set_field: value has the Match type of the field; a mask makes it NXAST_REG_LOAD2. */
export type SetFieldAction = {
  [K in FieldName]: { readonly type: 'setField'; readonly field: K; readonly value: FieldValue<K> };
}[FieldName];

export interface Nat {
  readonly type?: 'src' | 'dst';
  readonly ipMin?: string;
  readonly ipMax?: string;
  readonly portMin?: number;
  readonly portMax?: number;
  readonly persistent?: boolean;
  readonly hash?: boolean;
  readonly random?: boolean;
}

export interface CtAction {
  readonly type: 'ct';
  readonly commit?: boolean;
  readonly force?: boolean;
  /** Immediate zone, or the zone taken from a (sub)field such as reg6[0..15]. */
  readonly zone?: number | Subfield;
  /** Recirculate into this table. */
  readonly table?: number;
  readonly alg?: number;
  readonly nat?: Nat;
  /** Actions run on the committed connection (set_field of ct_mark / ct_label). */
  readonly exec?: readonly Action[];
}

export type Action =
  | { readonly type: 'output'; readonly port: number; readonly maxLen?: number }
  | SetFieldAction
  | { readonly type: 'pushVlan'; readonly ethertype?: number }
  | { readonly type: 'popVlan' }
  | { readonly type: 'decTtl' }
  | { readonly type: 'group'; readonly groupId: number }
  | { readonly type: 'resubmit'; readonly table?: number; readonly inPort?: number }
  | CtAction
  | { readonly type: 'ctClear' }
  | { readonly type: 'move'; readonly src: Subfield; readonly dst: Subfield }
  /** clause is 1-based, as ovs-ofctl writes it: conjunction(id,clause/nClauses). */
  | { readonly type: 'conjunction'; readonly id: number; readonly clause: number; readonly nClauses: number }
  /** The decoded note includes the zero padding OVS keeps (it prints it too). */
  | { readonly type: 'note'; readonly data: Buffer };

export type Instruction =
  | { readonly type: 'applyActions'; readonly actions: readonly Action[] }
  | { readonly type: 'writeActions'; readonly actions: readonly Action[] }
  | { readonly type: 'clearActions' }
  | { readonly type: 'writeMetadata'; readonly value: bigint; readonly mask?: bigint }
  | { readonly type: 'gotoTable'; readonly tableId: number }
  | { readonly type: 'meter'; readonly meterId: number };

function tlv(type: number, body: Buffer, align = 8): Buffer {
  const raw = 4 + body.length;
  const out = Buffer.alloc(raw + (align === 8 ? pad8(raw) : 0));
  out.writeUInt16BE(type, 0);
  out.writeUInt16BE(out.length, 2);
  body.copy(out, 4);
  return out;
}

function hasMask(a: SetFieldAction): boolean {
  return encodeFieldValue(fieldDef(a.field), a.value).mask !== undefined;
}

export function encodeAction(a: Action): Buffer {
  switch (a.type) {
    case 'output': {
      const b = Buffer.alloc(12);
      b.writeUInt32BE(a.port >>> 0, 0);
      b.writeUInt16BE(a.maxLen ?? OFPCML_NO_BUFFER, 4);
      return tlv(OFPAT.OUTPUT, b);
    }
    case 'setField':
      if (hasMask(a)) return encodeRegLoad2(a);
      return tlv(OFPAT.SET_FIELD, encodeFieldOxm(a.field, a.value));
    case 'pushVlan': {
      const b = Buffer.alloc(4);
      b.writeUInt16BE(a.ethertype ?? 0x8100, 0);
      return tlv(OFPAT.PUSH_VLAN, b);
    }
    case 'popVlan':
      return tlv(OFPAT.POP_VLAN, Buffer.alloc(4));
    case 'decTtl':
      return tlv(OFPAT.DEC_NW_TTL, Buffer.alloc(4));
    case 'group': {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(a.groupId >>> 0, 0);
      return tlv(OFPAT.GROUP, b);
    }
    default: {
      const nx = encodeNxAction(a, encodeActions);
      if (!nx) throw new Error(`cannot encode action ${(a as { type: string }).type}`);
      return nx;
    }
  }
}

export function encodeActions(actions: readonly Action[]): Buffer {
  return Buffer.concat(actions.map(encodeAction));
}

export function decodeAction(a: Buffer): Action {
  const type = a.readUInt16BE(0);
  switch (type) {
    case OFPAT.OUTPUT: {
      const port = a.readUInt32BE(4);
      const maxLen = a.readUInt16BE(8);
      return maxLen === OFPCML_NO_BUFFER ? { type: 'output', port } : { type: 'output', port, maxLen };
    }
    case OFPAT.SET_FIELD: {
      const d = decodeOxm(a, 4);
      return { type: 'setField', field: d.field.name, value: d.value } as SetFieldAction;
    }
    case OFPAT.PUSH_VLAN: {
      const ethertype = a.readUInt16BE(4);
      return ethertype === 0x8100 ? { type: 'pushVlan' } : { type: 'pushVlan', ethertype };
    }
    case OFPAT.POP_VLAN:
      return { type: 'popVlan' };
    case OFPAT.DEC_NW_TTL:
      return { type: 'decTtl' };
    case OFPAT.GROUP:
      return { type: 'group', groupId: a.readUInt32BE(4) };
    case OFPAT_EXPERIMENTER:
      return decodeNxAction(a, decodeActions);
    default:
      throw new Error(`unsupported action type ${type}`);
  }
}

export function decodeActions(buf: Buffer): Action[] {
  const out: Action[] = [];
  let p = 0;
  while (p < buf.length) {
    if (p + 4 > buf.length) throw new Error('truncated action header');
    const len = buf.readUInt16BE(p + 2);
    if (len < 8 || len % 8 !== 0 || p + len > buf.length) throw new Error(`bad action length ${len}`);
    out.push(decodeAction(buf.subarray(p, p + len)));
    p += len;
  }
  return out;
}

const U64_MAX = (1n << 64n) - 1n;

export function encodeInstruction(i: Instruction): Buffer {
  switch (i.type) {
    case 'applyActions':
    case 'writeActions':
      return tlv(i.type === 'applyActions' ? OFPIT.APPLY_ACTIONS : OFPIT.WRITE_ACTIONS,
        Buffer.concat([Buffer.alloc(4), encodeActions(i.actions)]));
    case 'clearActions':
      return tlv(OFPIT.CLEAR_ACTIONS, Buffer.alloc(4));
    case 'writeMetadata': {
      const b = Buffer.alloc(20);
      b.writeBigUInt64BE(i.value, 4);
      b.writeBigUInt64BE(i.mask ?? U64_MAX, 12);
      return tlv(OFPIT.WRITE_METADATA, b);
    }
    case 'gotoTable': {
      const b = Buffer.alloc(4);
      b.writeUInt8(i.tableId, 0);
      return tlv(OFPIT.GOTO_TABLE, b);
    }
    case 'meter': {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(i.meterId >>> 0, 0);
      return tlv(OFPIT.METER, b);
    }
  }
}

export function encodeInstructions(list: readonly Instruction[]): Buffer {
  return Buffer.concat(list.map(encodeInstruction));
}

export function decodeInstructions(buf: Buffer): Instruction[] {
  const out: Instruction[] = [];
  let p = 0;
  while (p < buf.length) {
    if (p + 4 > buf.length) throw new Error('truncated instruction header');
    const type = buf.readUInt16BE(p);
    const len = buf.readUInt16BE(p + 2);
    if (len < 8 || p + len > buf.length) throw new Error(`bad instruction length ${len}`);
    const b = buf.subarray(p, p + len);
    switch (type) {
      case OFPIT.APPLY_ACTIONS:
        out.push({ type: 'applyActions', actions: decodeActions(b.subarray(8)) });
        break;
      case OFPIT.WRITE_ACTIONS:
        out.push({ type: 'writeActions', actions: decodeActions(b.subarray(8)) });
        break;
      case OFPIT.CLEAR_ACTIONS:
        out.push({ type: 'clearActions' });
        break;
      case OFPIT.WRITE_METADATA: {
        const value = b.readBigUInt64BE(8);
        const mask = b.readBigUInt64BE(16);
        out.push(mask === U64_MAX ? { type: 'writeMetadata', value } : { type: 'writeMetadata', value, mask });
        break;
      }
      case OFPIT.GOTO_TABLE:
        out.push({ type: 'gotoTable', tableId: b.readUInt8(4) });
        break;
      case OFPIT.METER:
        out.push({ type: 'meter', meterId: b.readUInt32BE(4) });
        break;
      default:
        throw new Error(`unsupported instruction type ${type}`);
    }
    p += len;
  }
  return out;
}
