// The 8-byte OpenFlow header, message type numbers and stream framing.

export const OFP_VERSION_1_3 = 0x04;
export const OFP_HEADER_LEN = 8;
export const OFP_MAX_MSG_LEN = 0xffff;

export const OFPT = {
  HELLO: 0,
  ERROR: 1,
  ECHO_REQUEST: 2,
  ECHO_REPLY: 3,
  EXPERIMENTER: 4,
  FEATURES_REQUEST: 5,
  FEATURES_REPLY: 6,
  GET_CONFIG_REQUEST: 7,
  GET_CONFIG_REPLY: 8,
  SET_CONFIG: 9,
  PACKET_IN: 10,
  FLOW_REMOVED: 11,
  PORT_STATUS: 12,
  PACKET_OUT: 13,
  FLOW_MOD: 14,
  GROUP_MOD: 15,
  PORT_MOD: 16,
  TABLE_MOD: 17,
  MULTIPART_REQUEST: 18,
  MULTIPART_REPLY: 19,
  BARRIER_REQUEST: 20,
  BARRIER_REPLY: 21,
  QUEUE_GET_CONFIG_REQUEST: 22,
  QUEUE_GET_CONFIG_REPLY: 23,
  ROLE_REQUEST: 24,
  ROLE_REPLY: 25,
  GET_ASYNC_REQUEST: 26,
  GET_ASYNC_REPLY: 27,
  SET_ASYNC: 28,
  METER_MOD: 29,
} as const;

export const OFPT_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(OFPT).map(([k, v]) => [v, k]),
);

export interface OfHeader {
  readonly version: number;
  readonly type: number;
  readonly length: number;
  readonly xid: number;
}

export function encodeHeader(type: number, xid: number, bodyLength: number, version = OFP_VERSION_1_3): Buffer {
  const length = OFP_HEADER_LEN + bodyLength;
  if (length > OFP_MAX_MSG_LEN) throw new Error(`OpenFlow message too long (${length} bytes)`);
  const h = Buffer.alloc(OFP_HEADER_LEN);
  h.writeUInt8(version, 0);
  h.writeUInt8(type, 1);
  h.writeUInt16BE(length, 2);
  h.writeUInt32BE(xid >>> 0, 4);
  return h;
}

/** Header + body as one buffer. */
export function frame(type: number, xid: number, body: Buffer = Buffer.alloc(0), version = OFP_VERSION_1_3): Buffer {
  return Buffer.concat([encodeHeader(type, xid, body.length, version), body]);
}

export function decodeHeader(buf: Buffer, off = 0): OfHeader {
  if (buf.length - off < OFP_HEADER_LEN) throw new Error('truncated OpenFlow header');
  return {
    version: buf.readUInt8(off),
    type: buf.readUInt8(off + 1),
    length: buf.readUInt16BE(off + 2),
    xid: buf.readUInt32BE(off + 4),
  };
}

/** Splits a byte stream into whole OpenFlow messages. */
export class MessageFramer {
  private buffered: Buffer = Buffer.alloc(0);

  /** Feeds bytes; returns every complete message now available (each a separate Buffer). */
  push(chunk: Buffer): Buffer[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const out: Buffer[] = [];
    let p = 0;
    while (this.buffered.length - p >= OFP_HEADER_LEN) {
      const len = this.buffered.readUInt16BE(p + 2);
      if (len < OFP_HEADER_LEN) throw new Error(`bad OpenFlow message length ${len}`);
      if (this.buffered.length - p < len) break;
      out.push(Buffer.from(this.buffered.subarray(p, p + len)));
      p += len;
    }
    this.buffered = p === this.buffered.length ? Buffer.alloc(0) : this.buffered.subarray(p);
    return out;
  }

  get pendingBytes(): number {
    return this.buffered.length;
  }
}
