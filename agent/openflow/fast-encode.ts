// A single-pass encoder for the messages that come by the ten thousand: BUNDLE_ADDs of FLOW_MODs.
// It writes straight into one large buffer instead of building each message from a dozen small
// Buffers (the general codec in messages.ts/flowmod.ts/match.ts/actions.ts), which made encoding,
// not the switch, the bottleneck of a large bundle. Common fields and actions (exact numbers, MACs,
// output, set_field, goto_table) are written here; everything else is encoded by the general codec
// and copied in, so the bytes are always the same as encodeMessage's
// (test/unit/openflow/fast-encode.test.ts checks the whole catalogue).
import { encodeAction, encodeInstruction, type Action, type Instruction } from './actions.ts';
import { FIELDS, encodeFieldValue, type FieldDef, type Match } from './fields.ts';
import { FLOW_MOD_COMMANDS, OFP_NO_BUFFER, type FlowMod } from './flowmod.ts';
import { OFP_MAX_MSG_LEN, OFP_VERSION_1_3, OFPT } from './header.ts';
import { encodeMessage, ONF_ET_BUNDLE_ADD_MESSAGE, type OfMessage } from './messages.ts';
import { ONF_EXPERIMENTER_ID } from './errors.ts';

const FIELD_ORDER = new Map<string, number>(FIELDS.map((f, i) => [f.name, i]));
const OFPAT_OUTPUT = 0;
const OFPAT_SET_FIELD = 25;
const OFPIT_GOTO_TABLE = 1;
const OFPIT_WRITE_ACTIONS = 3;
const OFPIT_APPLY_ACTIONS = 4;
const OFPCML_NO_BUFFER = 0xffff;
const U64 = 1n << 64n;

/** Appends OpenFlow messages to a growing buffer; take() hands out what was written so far. */
export class MessageWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(private readonly capacity = 512 * 1024) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  get length(): number {
    return this.pos;
  }

  /** The bytes written so far (a buffer nobody else writes to); the writer starts afresh. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(Math.max(this.capacity, this.pos));
    this.pos = 0;
    return out;
  }

  /** Any message; BUNDLE_ADDs of FLOW_MODs and FLOW_MODs take the fast path. */
  message(m: OfMessage): void {
    if (m.type === 'bundleAdd' && m.message.type === 'flowMod') this.bundleAddFlowMod(m.xid, m.bundleId, m.flags, m.message);
    else if (m.type === 'flowMod') this.flowMod(m.xid, m);
    else this.bytes(encodeMessage(m));
  }

  /** ONF BUNDLE_ADD (OpenFlow 1.3 experimenter 2301) carrying a FLOW_MOD with the same xid. */
  bundleAddFlowMod(xid: number, bundleId: number, flags: number, fm: FlowMod): void {
    const start = this.pos;
    try {
      this.header(OFPT.EXPERIMENTER, xid);
      this.u32(ONF_EXPERIMENTER_ID);
      this.u32(ONF_ET_BUNDLE_ADD_MESSAGE);
      this.u32(bundleId);
      this.u16(0);
      this.u16(flags);
      this.flowMod(xid, fm);
      this.patchLength(start);
    } catch (e) {
      this.pos = start;
      throw e;
    }
  }

  flowMod(xid: number, fm: FlowMod): void {
    const start = this.pos;
    try {
      this.header(OFPT.FLOW_MOD, xid);
      const cmd = FLOW_MOD_COMMANDS.indexOf(fm.command);
      if (cmd < 0) throw new Error(`bad flow mod command ${fm.command}`);
      this.ensure(40);
      const b = this.buf;
      let p = this.pos;
      b.writeBigUInt64BE(fm.cookie, p);
      b.writeBigUInt64BE(fm.cookieMask, p + 8);
      b.writeUInt8(fm.tableId, p + 16);
      b.writeUInt8(cmd, p + 17);
      b.writeUInt16BE(fm.idleTimeout, p + 18);
      b.writeUInt16BE(fm.hardTimeout, p + 20);
      b.writeUInt16BE(fm.priority, p + 22);
      b.writeUInt32BE(OFP_NO_BUFFER, p + 24);
      b.writeUInt32BE(fm.outPort >>> 0, p + 28);
      b.writeUInt32BE(fm.outGroup >>> 0, p + 32);
      b.writeUInt16BE(fm.flags, p + 36);
      b.writeUInt16BE(0, p + 38);
      p += 40;
      this.pos = p;
      this.match(fm.match);
      for (const i of fm.instructions) this.instruction(i);
      this.patchLength(start);
    } catch (e) {
      this.pos = start;
      throw e;
    }
  }

  private match(m: Match): void {
    const start = this.pos;
    this.u16(1); // OFPMT_OXM
    this.u16(0);
    const rec = m as Readonly<Record<string, unknown>>;
    // Field indexes in FIELDS order (prerequisites first), by insertion: a match has few fields.
    const order: number[] = [];
    for (const k in rec) {
      const i = FIELD_ORDER.get(k);
      if (i === undefined || rec[k] === undefined) continue;
      let j = order.length;
      order.push(i);
      while (j > 0 && order[j - 1] > i) {
        order[j] = order[j - 1];
        j--;
      }
      order[j] = i;
    }
    for (const i of order) this.oxm(FIELDS[i], rec[FIELDS[i].name]);
    this.buf.writeUInt16BE(this.pos - start, start + 2);
    this.zeros((8 - ((this.pos - start) % 8)) % 8);
  }

  /** One OXM TLV; returns false (writing nothing) when the value has a mask and `maskless` is set. */
  private oxm(f: FieldDef, v: unknown, maskless = false): boolean {
    const num = fastNumber(f, v);
    if (num !== undefined) {
      this.oxmHeader(f, false, f.bytes);
      this.uint(num, f.bytes);
      return true;
    }
    if (f.kind === 'mac' && typeof v === 'string' && v.length === 17) {
      this.ensure(10);
      if (writeMac(v, this.buf, this.pos + 4)) {
        this.oxmHeader(f, false, 6);
        this.pos += 6;
        return true;
      }
    }
    const { value, mask } = encodeFieldValue(f, v);
    if (mask && maskless) return false;
    this.oxmHeader(f, mask !== undefined, value.length + (mask ? mask.length : 0));
    this.bytes(value);
    if (mask) this.bytes(mask);
    return true;
  }

  private oxmHeader(f: FieldDef, hasMask: boolean, len: number): void {
    this.ensure(4);
    this.buf.writeUInt16BE(f.oxmClass, this.pos);
    this.buf.writeUInt8((f.field << 1) | (hasMask ? 1 : 0), this.pos + 2);
    this.buf.writeUInt8(len, this.pos + 3);
    this.pos += 4;
  }

  private instruction(i: Instruction): void {
    if (i.type === 'applyActions' || i.type === 'writeActions') {
      const start = this.pos;
      this.u16(i.type === 'applyActions' ? OFPIT_APPLY_ACTIONS : OFPIT_WRITE_ACTIONS);
      this.u16(0);
      this.u32(0);
      for (const a of i.actions) this.action(a);
      this.padTlv(start);
    } else if (i.type === 'gotoTable') {
      this.u16(OFPIT_GOTO_TABLE);
      this.u16(8);
      this.u8(i.tableId);
      this.zeros(3);
    } else {
      this.bytes(encodeInstruction(i));
    }
  }

  private action(a: Action): void {
    if (a.type === 'output') {
      this.u16(OFPAT_OUTPUT);
      this.u16(16);
      this.u32(a.port >>> 0);
      this.u16(a.maxLen ?? OFPCML_NO_BUFFER);
      this.zeros(6);
      return;
    }
    if (a.type === 'setField') {
      const start = this.pos;
      this.u16(OFPAT_SET_FIELD);
      this.u16(0);
      if (this.oxm(FIELDS[FIELD_ORDER.get(a.field)!], a.value, true)) {
        this.padTlv(start);
        return;
      }
      this.pos = start; // a masked set_field is NXAST_REG_LOAD2
    }
    this.bytes(encodeAction(a));
  }

  /** Pads the TLV that starts at `start` to 8 bytes and writes its length. */
  private padTlv(start: number): void {
    this.zeros((8 - ((this.pos - start) % 8)) % 8);
    this.buf.writeUInt16BE(this.pos - start, start + 2);
  }

  private header(type: number, xid: number): void {
    this.ensure(8);
    this.buf.writeUInt8(OFP_VERSION_1_3, this.pos);
    this.buf.writeUInt8(type, this.pos + 1);
    this.buf.writeUInt16BE(0, this.pos + 2);
    this.buf.writeUInt32BE(xid >>> 0, this.pos + 4);
    this.pos += 8;
  }

  private patchLength(start: number): void {
    const len = this.pos - start;
    if (len > OFP_MAX_MSG_LEN) throw new Error(`OpenFlow message too long (${len} bytes)`);
    this.buf.writeUInt16BE(len, start + 2);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private u8(v: number): void {
    this.ensure(1);
    this.buf.writeUInt8(v, this.pos);
    this.pos += 1;
  }

  private u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }

  private u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }

  private uint(v: number | bigint, bytes: number): void {
    this.ensure(bytes);
    if (typeof v === 'bigint') {
      if (bytes === 8) this.buf.writeBigUInt64BE(v, this.pos);
      else this.buf.writeUIntBE(Number(v), this.pos, bytes);
    } else {
      this.buf.writeUIntBE(v, this.pos, bytes);
    }
    this.pos += bytes;
  }

  private zeros(n: number): void {
    if (n === 0) return;
    this.ensure(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
  }

  private bytes(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }
}

/**
 * An exact (unmasked) integer field value that fits, or undefined for anything else (masked,
 * out of range, wrong type: the general codec handles and reports those).
 */
function fastNumber(f: FieldDef, v: unknown): number | bigint | undefined {
  let n: unknown;
  switch (f.kind) {
    case 'u8':
    case 'u16':
    case 'u32':
    case 'port':
      n = v;
      break;
    case 'm16':
    case 'm32':
    case 'm64':
      if (v === null || typeof v !== 'object' || (v as { mask?: unknown }).mask !== undefined) return undefined;
      n = (v as { value?: unknown }).value;
      break;
    default:
      return undefined;
  }
  if (typeof n === 'number') {
    if (!Number.isInteger(n) || n < 0 || f.bytes > 6 || n >= 2 ** (8 * f.bytes)) return undefined;
    return n;
  }
  if (typeof n === 'bigint' && f.bytes === 8 && n >= 0n && n < U64) return n;
  return undefined;
}

/** Writes "aa:bb:cc:dd:ee:ff" (exactly two hex digits per byte) at `at`; false (and garbage written) otherwise. */
function writeMac(s: string, out: Buffer, at: number): boolean {
  for (let i = 0; i < 6; i++) {
    const hi = hexDigit(s.charCodeAt(i * 3));
    const lo = hexDigit(s.charCodeAt(i * 3 + 1));
    if (hi < 0 || lo < 0 || (i < 5 && s.charCodeAt(i * 3 + 2) !== 58)) return false;
    out[at + i] = hi * 16 + lo;
  }
  return true;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}
