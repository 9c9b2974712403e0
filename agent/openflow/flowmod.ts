// FLOW_MOD, flow-stats request/reply bodies and FLOW_REMOVED (OpenFlow 1.3).
import { OFPG_ANY, OFPP, decodeInstructions, encodeInstructions, type Instruction } from './actions.ts';
import type { Match } from './fields.ts';
import { decodeMatch, encodeMatch } from './match.ts';

export const OFP_DEFAULT_PRIORITY = 0x8000;
export const OFP_NO_BUFFER = 0xffffffff;
/** table_id meaning "all tables" (delete, flow stats). */
export const OFPTT_ALL = 0xff;
const U64_MAX = (1n << 64n) - 1n;

export const OFPFF = {
  SEND_FLOW_REM: 1,
  CHECK_OVERLAP: 2,
  RESET_COUNTS: 4,
  NO_PKT_COUNTS: 8,
  NO_BYT_COUNTS: 16,
} as const;

export const FLOW_MOD_COMMANDS = ['add', 'modify', 'modifyStrict', 'delete', 'deleteStrict'] as const;
export type FlowModCommand = (typeof FLOW_MOD_COMMANDS)[number];

export interface FlowMod {
  readonly cookie: bigint;
  /** For modify/delete: which cookie bits must match. */
  readonly cookieMask: bigint;
  readonly tableId: number;
  readonly command: FlowModCommand;
  readonly idleTimeout: number;
  readonly hardTimeout: number;
  readonly priority: number;
  /** For delete: only flows that output to this port (OFPP.ANY = any). */
  readonly outPort: number;
  readonly outGroup: number;
  /** OFPFF bits. */
  readonly flags: number;
  readonly match: Match;
  readonly instructions: readonly Instruction[];
}

export type FlowModInit = Partial<FlowMod>;

/** A complete FlowMod from the fields given; everything else takes the OpenFlow default. */
export function makeFlowMod(init: FlowModInit): FlowMod {
  return {
    cookie: init.cookie ?? 0n,
    cookieMask: init.cookieMask ?? 0n,
    tableId: init.tableId ?? 0,
    command: init.command ?? 'add',
    idleTimeout: init.idleTimeout ?? 0,
    hardTimeout: init.hardTimeout ?? 0,
    priority: init.priority ?? OFP_DEFAULT_PRIORITY,
    outPort: init.outPort ?? OFPP.ANY,
    outGroup: init.outGroup ?? OFPG_ANY,
    flags: init.flags ?? 0,
    match: init.match ?? {},
    instructions: init.instructions ?? [],
  };
}

/** FLOW_MOD body (after the header): 40 fixed bytes, ofp_match, instructions. */
export function encodeFlowModBody(fm: FlowMod): Buffer {
  const b = Buffer.alloc(40);
  b.writeBigUInt64BE(fm.cookie, 0);
  b.writeBigUInt64BE(fm.cookieMask, 8);
  b.writeUInt8(fm.tableId, 16);
  const cmd = FLOW_MOD_COMMANDS.indexOf(fm.command);
  if (cmd < 0) throw new Error(`bad flow mod command ${fm.command}`);
  b.writeUInt8(cmd, 17);
  b.writeUInt16BE(fm.idleTimeout, 18);
  b.writeUInt16BE(fm.hardTimeout, 20);
  b.writeUInt16BE(fm.priority, 22);
  b.writeUInt32BE(OFP_NO_BUFFER, 24);
  b.writeUInt32BE(fm.outPort >>> 0, 28);
  b.writeUInt32BE(fm.outGroup >>> 0, 32);
  b.writeUInt16BE(fm.flags, 36);
  return Buffer.concat([b, encodeMatch(fm.match), encodeInstructions(fm.instructions)]);
}

export function decodeFlowModBody(body: Buffer): FlowMod {
  if (body.length < 48) throw new Error('truncated FLOW_MOD');
  const cmd = body.readUInt8(17);
  const command = FLOW_MOD_COMMANDS[cmd];
  if (!command) throw new Error(`bad flow mod command ${cmd}`);
  const { match, length } = decodeMatch(body, 40);
  return {
    cookie: body.readBigUInt64BE(0),
    cookieMask: body.readBigUInt64BE(8),
    tableId: body.readUInt8(16),
    command,
    idleTimeout: body.readUInt16BE(18),
    hardTimeout: body.readUInt16BE(20),
    priority: body.readUInt16BE(22),
    outPort: body.readUInt32BE(28),
    outGroup: body.readUInt32BE(32),
    flags: body.readUInt16BE(36),
    match,
    instructions: decodeInstructions(body.subarray(40 + length)),
  };
}

export interface FlowStatsRequest {
  /** OFPTT_ALL for every table. */
  readonly tableId: number;
  readonly outPort: number;
  readonly outGroup: number;
  readonly cookie: bigint;
  readonly cookieMask: bigint;
  readonly match: Match;
}

export function makeFlowStatsRequest(init: Partial<FlowStatsRequest> = {}): FlowStatsRequest {
  return {
    tableId: init.tableId ?? OFPTT_ALL,
    outPort: init.outPort ?? OFPP.ANY,
    outGroup: init.outGroup ?? OFPG_ANY,
    cookie: init.cookie ?? 0n,
    cookieMask: init.cookieMask ?? 0n,
    match: init.match ?? {},
  };
}

/** ofp_flow_stats_request (the multipart body). */
export function encodeFlowStatsRequest(r: FlowStatsRequest): Buffer {
  const b = Buffer.alloc(32);
  b.writeUInt8(r.tableId, 0);
  b.writeUInt32BE(r.outPort >>> 0, 4);
  b.writeUInt32BE(r.outGroup >>> 0, 8);
  b.writeBigUInt64BE(r.cookie, 16);
  b.writeBigUInt64BE(r.cookieMask, 24);
  return Buffer.concat([b, encodeMatch(r.match)]);
}

export function decodeFlowStatsRequest(b: Buffer): FlowStatsRequest {
  if (b.length < 40) throw new Error('truncated flow stats request');
  return {
    tableId: b.readUInt8(0),
    outPort: b.readUInt32BE(4),
    outGroup: b.readUInt32BE(8),
    cookie: b.readBigUInt64BE(16),
    cookieMask: b.readBigUInt64BE(24),
    match: decodeMatch(b, 32).match,
  };
}

export interface FlowStats {
  readonly tableId: number;
  readonly durationSec: number;
  readonly durationNsec: number;
  readonly priority: number;
  readonly idleTimeout: number;
  readonly hardTimeout: number;
  readonly flags: number;
  readonly cookie: bigint;
  readonly packetCount: bigint;
  readonly byteCount: bigint;
  readonly match: Match;
  readonly instructions: readonly Instruction[];
}

/** One ofp_flow_stats entry (48 fixed bytes, match, instructions). */
export function encodeFlowStats(s: FlowStats): Buffer {
  const b = Buffer.alloc(48);
  b.writeUInt8(s.tableId, 2);
  b.writeUInt32BE(s.durationSec, 4);
  b.writeUInt32BE(s.durationNsec, 8);
  b.writeUInt16BE(s.priority, 12);
  b.writeUInt16BE(s.idleTimeout, 14);
  b.writeUInt16BE(s.hardTimeout, 16);
  b.writeUInt16BE(s.flags, 18);
  b.writeBigUInt64BE(s.cookie, 24);
  b.writeBigUInt64BE(s.packetCount, 32);
  b.writeBigUInt64BE(s.byteCount, 40);
  const out = Buffer.concat([b, encodeMatch(s.match), encodeInstructions(s.instructions)]);
  out.writeUInt16BE(out.length, 0);
  return out;
}

export function decodeFlowStatsList(body: Buffer): FlowStats[] {
  const out: FlowStats[] = [];
  let p = 0;
  while (p < body.length) {
    if (p + 48 > body.length) throw new Error('truncated flow stats entry');
    const len = body.readUInt16BE(p);
    if (len < 56 || p + len > body.length) throw new Error(`bad flow stats length ${len}`);
    const e = body.subarray(p, p + len);
    const { match, length } = decodeMatch(e, 48);
    out.push({
      tableId: e.readUInt8(2),
      durationSec: e.readUInt32BE(4),
      durationNsec: e.readUInt32BE(8),
      priority: e.readUInt16BE(12),
      idleTimeout: e.readUInt16BE(14),
      hardTimeout: e.readUInt16BE(16),
      flags: e.readUInt16BE(18),
      cookie: e.readBigUInt64BE(24),
      packetCount: e.readBigUInt64BE(32),
      byteCount: e.readBigUInt64BE(40),
      match,
      instructions: decodeInstructions(e.subarray(48 + length)),
    });
    p += len;
  }
  return out;
}

export interface FlowRemoved {
  readonly cookie: bigint;
  readonly priority: number;
  /** 0 IDLE_TIMEOUT, 1 HARD_TIMEOUT, 2 DELETE, 3 GROUP_DELETE */
  readonly reason: number;
  readonly tableId: number;
  readonly durationSec: number;
  readonly durationNsec: number;
  readonly idleTimeout: number;
  readonly hardTimeout: number;
  readonly packetCount: bigint;
  readonly byteCount: bigint;
  readonly match: Match;
}

export function encodeFlowRemovedBody(r: FlowRemoved): Buffer {
  const b = Buffer.alloc(40);
  b.writeBigUInt64BE(r.cookie, 0);
  b.writeUInt16BE(r.priority, 8);
  b.writeUInt8(r.reason, 10);
  b.writeUInt8(r.tableId, 11);
  b.writeUInt32BE(r.durationSec, 12);
  b.writeUInt32BE(r.durationNsec, 16);
  b.writeUInt16BE(r.idleTimeout, 20);
  b.writeUInt16BE(r.hardTimeout, 22);
  b.writeBigUInt64BE(r.packetCount, 24);
  b.writeBigUInt64BE(r.byteCount, 32);
  return Buffer.concat([b, encodeMatch(r.match)]);
}

export function decodeFlowRemovedBody(b: Buffer): FlowRemoved {
  if (b.length < 48) throw new Error('truncated FLOW_REMOVED');
  return {
    cookie: b.readBigUInt64BE(0),
    priority: b.readUInt16BE(8),
    reason: b.readUInt8(10),
    tableId: b.readUInt8(11),
    durationSec: b.readUInt32BE(12),
    durationNsec: b.readUInt32BE(16),
    idleTimeout: b.readUInt16BE(20),
    hardTimeout: b.readUInt16BE(22),
    packetCount: b.readBigUInt64BE(24),
    byteCount: b.readBigUInt64BE(32),
    match: decodeMatch(b, 40).match,
  };
}

export { U64_MAX };
