// OpenFlow 1.3 messages as typed plain objects: encodeMessage(msg) -> Buffer, decodeMessage(buf) -> msg.
// Bundles use the ONF extension for OpenFlow 1.3: EXPERIMENTER 0x4F4E4600, exp_type 2300 (control)
// and 2301 (add), with the ofp14 bundle bodies.
import { bytesToMac } from './addr.ts';
import { decodeActions, encodeActions, type Action } from './actions.ts';
import { OFPET_EXPERIMENTER, ONF_EXPERIMENTER_ID } from './errors.ts';
import type { Match } from './fields.ts';
import {
  decodeFlowModBody, decodeFlowRemovedBody, decodeFlowStatsList, decodeFlowStatsRequest, encodeFlowModBody,
  encodeFlowRemovedBody, encodeFlowStats, encodeFlowStatsRequest, OFP_NO_BUFFER,
  type FlowMod, type FlowRemoved, type FlowStats, type FlowStatsRequest,
} from './flowmod.ts';
import { OFP_VERSION_1_3, OFPT, decodeHeader, frame } from './header.ts';
import { decodeMatch, encodeMatch } from './match.ts';

export const ONF_ET_BUNDLE_CONTROL = 2300;
export const ONF_ET_BUNDLE_ADD_MESSAGE = 2301;
export const OFPHET_VERSIONBITMAP = 1;
export const OFPMP_FLOW = 1;
export const OFPMPF_MORE = 1;
export const OFPBF = { ATOMIC: 1, ORDERED: 2 } as const;
export const BUNDLE_CTRL_TYPES = [
  'openRequest', 'openReply', 'closeRequest', 'closeReply',
  'commitRequest', 'commitReply', 'discardRequest', 'discardReply',
] as const;
export type BundleCtrlType = (typeof BUNDLE_CTRL_TYPES)[number];
/** OFPR_* packet-in reasons (OpenFlow 1.3). */
export const OFPR = { NO_MATCH: 0, ACTION: 1, INVALID_TTL: 2 } as const;

export interface PortDesc {
  readonly portNo: number;
  readonly hwAddr: string;
  readonly name: string;
  readonly config: number;
  readonly state: number;
}

/** [master/equal role, slave role] */
export type RoleMasks = readonly [number, number];

export type OfMessage =
  | { readonly type: 'hello'; readonly xid: number; readonly version: number; readonly versions?: readonly number[] }
  | {
    readonly type: 'error'; readonly xid: number; readonly errType: number; readonly code: number;
    readonly experimenter?: number; readonly data: Buffer;
  }
  | { readonly type: 'echoRequest'; readonly xid: number; readonly data: Buffer }
  | { readonly type: 'echoReply'; readonly xid: number; readonly data: Buffer }
  | { readonly type: 'featuresRequest'; readonly xid: number }
  | {
    readonly type: 'featuresReply'; readonly xid: number; readonly datapathId: bigint; readonly nBuffers: number;
    readonly nTables: number; readonly auxiliaryId: number; readonly capabilities: number;
  }
  | { readonly type: 'getConfigRequest'; readonly xid: number }
  | { readonly type: 'getConfigReply'; readonly xid: number; readonly flags: number; readonly missSendLen: number }
  | { readonly type: 'setConfig'; readonly xid: number; readonly flags: number; readonly missSendLen: number }
  | {
    readonly type: 'packetIn'; readonly xid: number; readonly bufferId: number; readonly totalLen: number;
    readonly reason: number; readonly tableId: number; readonly cookie: bigint; readonly match: Match;
    readonly data: Buffer;
  }
  | ({ readonly type: 'flowRemoved'; readonly xid: number } & FlowRemoved)
  | { readonly type: 'portStatus'; readonly xid: number; readonly reason: number; readonly port: PortDesc }
  | {
    readonly type: 'packetOut'; readonly xid: number; readonly bufferId: number; readonly inPort: number;
    readonly actions: readonly Action[]; readonly data: Buffer;
  }
  | ({ readonly type: 'flowMod'; readonly xid: number } & FlowMod)
  | { readonly type: 'flowStatsRequest'; readonly xid: number; readonly flags: number; readonly request: FlowStatsRequest }
  | { readonly type: 'flowStatsReply'; readonly xid: number; readonly flags: number; readonly flows: readonly FlowStats[] }
  | { readonly type: 'multipartRequest'; readonly xid: number; readonly mpType: number; readonly flags: number; readonly body: Buffer }
  | { readonly type: 'multipartReply'; readonly xid: number; readonly mpType: number; readonly flags: number; readonly body: Buffer }
  | { readonly type: 'barrierRequest'; readonly xid: number }
  | { readonly type: 'barrierReply'; readonly xid: number }
  | { readonly type: 'getAsyncRequest'; readonly xid: number }
  | {
    readonly type: 'setAsync' | 'getAsyncReply'; readonly xid: number; readonly packetInMask: RoleMasks;
    readonly portStatusMask: RoleMasks; readonly flowRemovedMask: RoleMasks;
  }
  | {
    readonly type: 'bundleControl'; readonly xid: number; readonly bundleId: number;
    readonly ctrlType: BundleCtrlType; readonly flags: number;
  }
  /** The embedded message is encoded with the outer xid (OVS requires them to be equal). */
  | { readonly type: 'bundleAdd'; readonly xid: number; readonly bundleId: number; readonly flags: number; readonly message: OfMessage }
  | { readonly type: 'experimenter'; readonly xid: number; readonly experimenter: number; readonly expType: number; readonly data: Buffer }
  | { readonly type: 'unknown'; readonly xid: number; readonly version: number; readonly msgType: number; readonly body: Buffer };

export type OfMessageType = OfMessage['type'];
export type MessageOf<T extends OfMessageType> = Extract<OfMessage, { type: T }>;

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

function encodeHello(versions?: readonly number[]): Buffer {
  if (!versions || versions.length === 0) return Buffer.alloc(0);
  const words = Math.floor(Math.max(...versions) / 32) + 1;
  const el = Buffer.alloc(4 + words * 4);
  el.writeUInt16BE(OFPHET_VERSIONBITMAP, 0);
  el.writeUInt16BE(el.length, 2);
  for (const v of versions) {
    const w = Math.floor(v / 32);
    el.writeUInt32BE((el.readUInt32BE(4 + w * 4) | (1 << (v % 32))) >>> 0, 4 + w * 4);
  }
  return Buffer.concat([el, Buffer.alloc((8 - (el.length % 8)) % 8)]);
}

function decodeHelloVersions(body: Buffer): number[] | undefined {
  let p = 0;
  while (p + 4 <= body.length) {
    const type = body.readUInt16BE(p);
    const len = body.readUInt16BE(p + 2);
    if (len < 4 || p + len > body.length) break;
    if (type === OFPHET_VERSIONBITMAP) {
      const versions: number[] = [];
      for (let w = 0; 4 + w * 4 + 4 <= len; w++) {
        const bits = body.readUInt32BE(p + 4 + w * 4);
        for (let i = 0; i < 32; i++) if (bits & (1 << i)) versions.push(w * 32 + i);
      }
      return versions;
    }
    p += len + ((8 - (len % 8)) % 8);
  }
  return undefined;
}

function encodeAsync(m: MessageOf<'setAsync' | 'getAsyncReply'>): Buffer {
  return Buffer.concat([...m.packetInMask, ...m.portStatusMask, ...m.flowRemovedMask].map(u32));
}

function bundleBody(bundleId: number, typeOrPad: number, flags: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(bundleId >>> 0, 0);
  b.writeUInt16BE(typeOrPad, 4);
  b.writeUInt16BE(flags, 6);
  return b;
}

function experimenterBody(experimenter: number, expType: number, data: Buffer): Buffer {
  return Buffer.concat([u32(experimenter), u32(expType), data]);
}

function multipartBody(mpType: number, flags: number, body: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(mpType, 0);
  h.writeUInt16BE(flags, 2);
  return Buffer.concat([h, body]);
}

function encodeBody(m: OfMessage): [number, Buffer] {
  switch (m.type) {
    case 'hello':
      return [OFPT.HELLO, encodeHello(m.versions)];
    case 'error': {
      const h = Buffer.alloc(m.errType === OFPET_EXPERIMENTER ? 8 : 4);
      h.writeUInt16BE(m.errType, 0);
      h.writeUInt16BE(m.code, 2);
      if (m.errType === OFPET_EXPERIMENTER) h.writeUInt32BE((m.experimenter ?? 0) >>> 0, 4);
      return [OFPT.ERROR, Buffer.concat([h, m.data])];
    }
    case 'echoRequest':
      return [OFPT.ECHO_REQUEST, m.data];
    case 'echoReply':
      return [OFPT.ECHO_REPLY, m.data];
    case 'featuresRequest':
      return [OFPT.FEATURES_REQUEST, Buffer.alloc(0)];
    case 'featuresReply': {
      const b = Buffer.alloc(24);
      b.writeBigUInt64BE(m.datapathId, 0);
      b.writeUInt32BE(m.nBuffers, 8);
      b.writeUInt8(m.nTables, 12);
      b.writeUInt8(m.auxiliaryId, 13);
      b.writeUInt32BE(m.capabilities >>> 0, 16);
      return [OFPT.FEATURES_REPLY, b];
    }
    case 'getConfigRequest':
      return [OFPT.GET_CONFIG_REQUEST, Buffer.alloc(0)];
    case 'getConfigReply':
    case 'setConfig': {
      const b = Buffer.alloc(4);
      b.writeUInt16BE(m.flags, 0);
      b.writeUInt16BE(m.missSendLen, 2);
      return [m.type === 'setConfig' ? OFPT.SET_CONFIG : OFPT.GET_CONFIG_REPLY, b];
    }
    case 'packetIn': {
      const b = Buffer.alloc(16);
      b.writeUInt32BE(m.bufferId >>> 0, 0);
      b.writeUInt16BE(m.totalLen, 4);
      b.writeUInt8(m.reason, 6);
      b.writeUInt8(m.tableId, 7);
      b.writeBigUInt64BE(m.cookie, 8);
      return [OFPT.PACKET_IN, Buffer.concat([b, encodeMatch(m.match), Buffer.alloc(2), m.data])];
    }
    case 'flowRemoved':
      return [OFPT.FLOW_REMOVED, encodeFlowRemovedBody(m)];
    case 'portStatus': {
      const b = Buffer.alloc(72);
      b.writeUInt8(m.reason, 0);
      b.writeUInt32BE(m.port.portNo >>> 0, 8);
      Buffer.from(m.port.hwAddr.split(':').map((x) => Number.parseInt(x, 16))).copy(b, 16);
      b.write(m.port.name.slice(0, 15), 24, 'latin1');
      b.writeUInt32BE(m.port.config >>> 0, 40);
      b.writeUInt32BE(m.port.state >>> 0, 44);
      return [OFPT.PORT_STATUS, b];
    }
    case 'packetOut': {
      const actions = encodeActions(m.actions);
      const b = Buffer.alloc(16);
      b.writeUInt32BE(m.bufferId >>> 0, 0);
      b.writeUInt32BE(m.inPort >>> 0, 4);
      b.writeUInt16BE(actions.length, 8);
      return [OFPT.PACKET_OUT, Buffer.concat([b, actions, m.data])];
    }
    case 'flowMod':
      return [OFPT.FLOW_MOD, encodeFlowModBody(m)];
    case 'flowStatsRequest':
      return [OFPT.MULTIPART_REQUEST, multipartBody(OFPMP_FLOW, m.flags, encodeFlowStatsRequest(m.request))];
    case 'flowStatsReply':
      return [OFPT.MULTIPART_REPLY, multipartBody(OFPMP_FLOW, m.flags, Buffer.concat(m.flows.map(encodeFlowStats)))];
    case 'multipartRequest':
      return [OFPT.MULTIPART_REQUEST, multipartBody(m.mpType, m.flags, m.body)];
    case 'multipartReply':
      return [OFPT.MULTIPART_REPLY, multipartBody(m.mpType, m.flags, m.body)];
    case 'barrierRequest':
      return [OFPT.BARRIER_REQUEST, Buffer.alloc(0)];
    case 'barrierReply':
      return [OFPT.BARRIER_REPLY, Buffer.alloc(0)];
    case 'getAsyncRequest':
      return [OFPT.GET_ASYNC_REQUEST, Buffer.alloc(0)];
    case 'setAsync':
      return [OFPT.SET_ASYNC, encodeAsync(m)];
    case 'getAsyncReply':
      return [OFPT.GET_ASYNC_REPLY, encodeAsync(m)];
    case 'bundleControl':
      return [OFPT.EXPERIMENTER, experimenterBody(ONF_EXPERIMENTER_ID, ONF_ET_BUNDLE_CONTROL,
        bundleBody(m.bundleId, BUNDLE_CTRL_TYPES.indexOf(m.ctrlType), m.flags))];
    case 'bundleAdd': {
      const inner = encodeMessage({ ...m.message, xid: m.xid } as OfMessage);
      return [OFPT.EXPERIMENTER, experimenterBody(ONF_EXPERIMENTER_ID, ONF_ET_BUNDLE_ADD_MESSAGE,
        Buffer.concat([bundleBody(m.bundleId, 0, m.flags), inner]))];
    }
    case 'experimenter':
      return [OFPT.EXPERIMENTER, experimenterBody(m.experimenter, m.expType, m.data)];
    case 'unknown':
      return [m.msgType, m.body];
  }
}

export function encodeMessage(m: OfMessage): Buffer {
  const [type, body] = encodeBody(m);
  const version = m.type === 'hello' ? m.version : m.type === 'unknown' ? m.version : OFP_VERSION_1_3;
  return frame(type, m.xid, body, version);
}

function decodeAsync(type: 'setAsync' | 'getAsyncReply', xid: number, b: Buffer): OfMessage {
  if (b.length < 24) throw new Error('truncated async config');
  const w = (i: number) => b.readUInt32BE(i * 4);
  return { type, xid, packetInMask: [w(0), w(1)], portStatusMask: [w(2), w(3)], flowRemovedMask: [w(4), w(5)] };
}

function decodeExperimenter(xid: number, b: Buffer): OfMessage {
  if (b.length < 8) throw new Error('truncated EXPERIMENTER');
  const experimenter = b.readUInt32BE(0);
  const expType = b.readUInt32BE(4);
  const data = b.subarray(8);
  if (experimenter === ONF_EXPERIMENTER_ID && expType === ONF_ET_BUNDLE_CONTROL && data.length >= 8) {
    const ctrlType = BUNDLE_CTRL_TYPES[data.readUInt16BE(4)];
    if (ctrlType) return { type: 'bundleControl', xid, bundleId: data.readUInt32BE(0), ctrlType, flags: data.readUInt16BE(6) };
  }
  if (experimenter === ONF_EXPERIMENTER_ID && expType === ONF_ET_BUNDLE_ADD_MESSAGE && data.length >= 16) {
    return {
      type: 'bundleAdd', xid, bundleId: data.readUInt32BE(0), flags: data.readUInt16BE(6),
      message: decodeMessage(data.subarray(8)),
    };
  }
  return { type: 'experimenter', xid, experimenter, expType, data: Buffer.from(data) };
}

/** Decodes one whole message (header included). Unknown types come back as { type: 'unknown' }. */
export function decodeMessage(buf: Buffer): OfMessage {
  const h = decodeHeader(buf);
  if (h.length > buf.length || h.length < 8) throw new Error(`bad message length ${h.length} (have ${buf.length})`);
  const b = buf.subarray(8, h.length);
  const xid = h.xid;
  if (h.type === OFPT.HELLO) {
    const versions = decodeHelloVersions(b);
    return versions ? { type: 'hello', xid, version: h.version, versions } : { type: 'hello', xid, version: h.version };
  }
  if (h.version !== OFP_VERSION_1_3) return { type: 'unknown', xid, version: h.version, msgType: h.type, body: Buffer.from(b) };
  switch (h.type) {
    case OFPT.ERROR: {
      const errType = b.readUInt16BE(0);
      const code = b.readUInt16BE(2);
      if (errType === OFPET_EXPERIMENTER) {
        return { type: 'error', xid, errType, code, experimenter: b.readUInt32BE(4), data: Buffer.from(b.subarray(8)) };
      }
      return { type: 'error', xid, errType, code, data: Buffer.from(b.subarray(4)) };
    }
    case OFPT.ECHO_REQUEST:
      return { type: 'echoRequest', xid, data: Buffer.from(b) };
    case OFPT.ECHO_REPLY:
      return { type: 'echoReply', xid, data: Buffer.from(b) };
    case OFPT.FEATURES_REQUEST:
      return { type: 'featuresRequest', xid };
    case OFPT.FEATURES_REPLY:
      return {
        type: 'featuresReply', xid, datapathId: b.readBigUInt64BE(0), nBuffers: b.readUInt32BE(8),
        nTables: b.readUInt8(12), auxiliaryId: b.readUInt8(13), capabilities: b.readUInt32BE(16),
      };
    case OFPT.GET_CONFIG_REQUEST:
      return { type: 'getConfigRequest', xid };
    case OFPT.GET_CONFIG_REPLY:
    case OFPT.SET_CONFIG:
      return {
        type: h.type === OFPT.SET_CONFIG ? 'setConfig' : 'getConfigReply', xid,
        flags: b.readUInt16BE(0), missSendLen: b.readUInt16BE(2),
      };
    case OFPT.PACKET_IN: {
      const { match, length } = decodeMatch(b, 16);
      return {
        type: 'packetIn', xid, bufferId: b.readUInt32BE(0), totalLen: b.readUInt16BE(4), reason: b.readUInt8(6),
        tableId: b.readUInt8(7), cookie: b.readBigUInt64BE(8), match, data: Buffer.from(b.subarray(16 + length + 2)),
      };
    }
    case OFPT.FLOW_REMOVED:
      return { type: 'flowRemoved', xid, ...decodeFlowRemovedBody(b) };
    case OFPT.PORT_STATUS: {
      const name = b.subarray(24, 40);
      const nul = name.indexOf(0);
      return {
        type: 'portStatus', xid, reason: b.readUInt8(0),
        port: {
          portNo: b.readUInt32BE(8), hwAddr: bytesToMac(b.subarray(16, 22)),
          name: name.subarray(0, nul < 0 ? 16 : nul).toString('latin1'),
          config: b.readUInt32BE(40), state: b.readUInt32BE(44),
        },
      };
    }
    case OFPT.PACKET_OUT: {
      const alen = b.readUInt16BE(8);
      return {
        type: 'packetOut', xid, bufferId: b.readUInt32BE(0), inPort: b.readUInt32BE(4),
        actions: decodeActions(b.subarray(16, 16 + alen)), data: Buffer.from(b.subarray(16 + alen)),
      };
    }
    case OFPT.FLOW_MOD:
      return { type: 'flowMod', xid, ...decodeFlowModBody(b) };
    case OFPT.MULTIPART_REQUEST:
    case OFPT.MULTIPART_REPLY: {
      const mpType = b.readUInt16BE(0);
      const flags = b.readUInt16BE(2);
      const body = b.subarray(8);
      const isReq = h.type === OFPT.MULTIPART_REQUEST;
      if (mpType === OFPMP_FLOW) {
        return isReq
          ? { type: 'flowStatsRequest', xid, flags, request: decodeFlowStatsRequest(body) }
          : { type: 'flowStatsReply', xid, flags, flows: decodeFlowStatsList(body) };
      }
      return { type: isReq ? 'multipartRequest' : 'multipartReply', xid, mpType, flags, body: Buffer.from(body) };
    }
    case OFPT.BARRIER_REQUEST:
      return { type: 'barrierRequest', xid };
    case OFPT.BARRIER_REPLY:
      return { type: 'barrierReply', xid };
    case OFPT.GET_ASYNC_REQUEST:
      return { type: 'getAsyncRequest', xid };
    case OFPT.GET_ASYNC_REPLY:
      return decodeAsync('getAsyncReply', xid, b);
    case OFPT.SET_ASYNC:
      return decodeAsync('setAsync', xid, b);
    case OFPT.EXPERIMENTER:
      return decodeExperimenter(xid, b);
    default:
      return { type: 'unknown', xid, version: h.version, msgType: h.type, body: Buffer.from(b) };
  }
}

/** A PACKET_OUT of a raw frame (no switch buffer). */
export function packetOut(xid: number, inPort: number, actions: readonly Action[], data: Buffer): OfMessage {
  return { type: 'packetOut', xid, bufferId: OFP_NO_BUFFER, inPort, actions, data };
}
