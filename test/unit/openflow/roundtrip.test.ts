// encode -> decode gives back the original, for every message, action, instruction and match kind.
import { describe, expect, it } from 'vitest';
import {
  OFPP, decodeActions, decodeInstructions, encodeActions, encodeInstructions, type Action, type Instruction,
} from '../../../agent/openflow/actions.ts';
import { FIELDS, type Match } from '../../../agent/openflow/fields.ts';
import { makeFlowMod, makeFlowStatsRequest, type FlowStats } from '../../../agent/openflow/flowmod.ts';
import { MessageFramer } from '../../../agent/openflow/header.ts';
import { decodeMatch, encodeMatch } from '../../../agent/openflow/match.ts';
import { decodeMessage, encodeMessage, type OfMessage } from '../../../agent/openflow/messages.ts';
import { catalog } from './catalog.ts';

const rt = (m: OfMessage) => decodeMessage(encodeMessage(m));

describe('match round trip', () => {
  it('every field of the catalogue, one match at a time', () => {
    for (const fm of catalog()) {
      const enc = encodeMatch(fm.match);
      expect(enc.length % 8).toBe(0);
      expect(decodeMatch(enc)).toEqual({ match: fm.match, length: enc.length });
    }
  });

  it('the catalogue uses every field we declare', () => {
    const used = new Set<string>();
    for (const fm of catalog()) for (const k of Object.keys(fm.match)) used.add(k);
    for (const f of FIELDS) {
      if (!used.has(f.name)) throw new Error(`field ${f.name} is not covered by the catalogue`);
    }
  });

  it('canonical forms: all-ones masks and /32 prefixes come back as exact values', () => {
    const m: Match = {
      reg0: { value: 1, mask: 0xffffffff }, ipv4Src: '10.0.0.1/32', ethType: 0x0800, ethDst: 'AA:BB:CC:DD:EE:FF',
      metadata: { value: 3n, mask: (1n << 64n) - 1n }, ctState: { value: 0x22, mask: 0xff },
    };
    expect(decodeMatch(encodeMatch(m)).match).toEqual({
      reg0: { value: 1 }, ipv4Src: '10.0.0.1', ethType: 0x0800, ethDst: 'aa:bb:cc:dd:ee:ff',
      metadata: { value: 3n }, ctState: { value: 0x22 },
    });
  });

  it('rejects unknown fields and truncated input', () => {
    expect(() => decodeMatch(Buffer.from('0001000880007f0000000000', 'hex'))).toThrow(/unknown OXM/);
    expect(() => decodeMatch(Buffer.from('000100', 'hex'))).toThrow(/truncated/);
  });
});

describe('actions and instructions round trip', () => {
  const all: Action[] = [
    { type: 'output', port: 1 },
    { type: 'output', port: OFPP.CONTROLLER, maxLen: 128 },
    { type: 'output', port: OFPP.LOCAL },
    { type: 'setField', field: 'ethSrc', value: 'fa:16:3e:00:00:01' },
    { type: 'setField', field: 'reg5', value: { value: 0x10, mask: 0xf0 } },
    { type: 'setField', field: 'tunnelId', value: { value: 0x1234_5678_9abcn } },
    { type: 'setField', field: 'tunDst', value: '192.0.2.1' },
    { type: 'setField', field: 'vlanVid', value: { value: 0x1064 } },
    { type: 'setField', field: 'ctLabel', value: { value: 1n << 100n } },
    { type: 'setField', field: 'ipv6Src', value: '2001:db8::1' },
    { type: 'pushVlan' },
    { type: 'pushVlan', ethertype: 0x88a8 },
    { type: 'popVlan' },
    { type: 'decTtl' },
    { type: 'group', groupId: 4 },
    { type: 'resubmit', table: 9 },
    { type: 'resubmit', inPort: 3 },
    { type: 'resubmit', inPort: 3, table: 9 },
    { type: 'ct' },
    { type: 'ct', commit: true, force: true, zone: 65535, table: 0, alg: 21 },
    { type: 'ct', zone: { field: 'reg6', ofs: 0, nBits: 16 }, table: 4 },
    { type: 'ct', commit: true, nat: { type: 'src', ipMin: '2001:db8::1', ipMax: '2001:db8::9', portMin: 1, portMax: 2, persistent: true, random: true } },
    { type: 'ct', commit: true, nat: { type: 'dst', ipMin: '10.0.0.1', hash: true }, exec: [{ type: 'setField', field: 'ctMark', value: { value: 7, mask: 0xf } }] },
    { type: 'ct', nat: {} },
    { type: 'ctClear' },
    { type: 'move', src: { field: 'reg0' }, dst: { field: 'reg1' } },
    { type: 'move', src: { field: 'reg0', ofs: 4, nBits: 8 }, dst: { field: 'tunnelId', ofs: 32 } },
    { type: 'move', src: { field: 'ethSrc' }, dst: { field: 'ethDst' } },
    { type: 'conjunction', id: 0xdeadbeef, clause: 3, nClauses: 4 },
    { type: 'note', data: Buffer.from('abcdef') },
    { type: 'note', data: Buffer.from('0123456789abcd') },
  ];

  it('each action alone', () => {
    for (const a of all) {
      const enc = encodeActions([a]);
      expect(enc.length % 8).toBe(0);
      expect(decodeActions(enc)).toEqual([a]);
    }
  });

  it('all actions in one list, and every instruction kind', () => {
    const list: Instruction[] = [
      { type: 'meter', meterId: 3 },
      { type: 'applyActions', actions: all },
      { type: 'clearActions' },
      { type: 'writeActions', actions: [{ type: 'output', port: 2 }] },
      { type: 'writeMetadata', value: 0x5n, mask: 0xffn },
      { type: 'writeMetadata', value: 0x6n },
      { type: 'gotoTable', tableId: 200 },
    ];
    expect(decodeInstructions(encodeInstructions(list))).toEqual(list);
  });
});

describe('message round trip', () => {
  const stats: FlowStats[] = catalog().slice(0, 5).map((f, i) => ({
    tableId: f.tableId, durationSec: i, durationNsec: 1000 * i, priority: f.priority, idleTimeout: f.idleTimeout,
    hardTimeout: f.hardTimeout, flags: f.flags, cookie: f.cookie, packetCount: BigInt(i * 10), byteCount: BigInt(i * 1000),
    match: f.match, instructions: f.instructions,
  }));
  const messages: OfMessage[] = [
    { type: 'hello', xid: 1, version: 4 },
    { type: 'hello', xid: 1, version: 6, versions: [1, 4, 6] },
    { type: 'error', xid: 2, errType: 2, code: 10, data: Buffer.from('040e0060', 'hex') },
    { type: 'error', xid: 2, errType: 0xffff, code: 2313, experimenter: 0x4f4e4600, data: Buffer.alloc(0) },
    { type: 'echoRequest', xid: 3, data: Buffer.from('ping!') },
    { type: 'echoReply', xid: 3, data: Buffer.from('ping!') },
    { type: 'featuresRequest', xid: 4 },
    { type: 'featuresReply', xid: 4, datapathId: 0x1234n, nBuffers: 0, nTables: 254, auxiliaryId: 0, capabilities: 0x4f },
    { type: 'getConfigRequest', xid: 5 },
    { type: 'getConfigReply', xid: 5, flags: 0, missSendLen: 128 },
    { type: 'setConfig', xid: 5, flags: 0, missSendLen: 0xffff },
    {
      type: 'packetIn', xid: 6, bufferId: 0xffffffff, totalLen: 3, reason: 1, tableId: 7, cookie: 0xe02n,
      match: { inPort: 1, tunnelId: { value: 5n }, reg0: { value: 1 } }, data: Buffer.from('abc'),
    },
    {
      type: 'flowRemoved', xid: 7, cookie: 9n, priority: 10, reason: 2, tableId: 3, durationSec: 1, durationNsec: 2,
      idleTimeout: 3, hardTimeout: 4, packetCount: 5n, byteCount: 6n, match: { ethType: 0x0806 },
    },
    {
      type: 'portStatus', xid: 8, reason: 0,
      port: { portNo: 5, hwAddr: 'fa:16:3e:00:00:05', name: 'vm5', config: 0, state: 4 },
    },
    {
      type: 'packetOut', xid: 9, bufferId: 0xffffffff, inPort: OFPP.CONTROLLER,
      actions: [{ type: 'resubmit', table: 3 }, { type: 'output', port: OFPP.TABLE }], data: Buffer.from('frame'),
    },
    ...catalog().map((f, i): OfMessage => ({ type: 'flowMod', xid: 100 + i, ...f })),
    { type: 'flowMod', xid: 10, ...makeFlowMod({ command: 'deleteStrict', cookie: 1n, cookieMask: 0xffn, outPort: 3, outGroup: 2 }) },
    { type: 'flowStatsRequest', xid: 11, flags: 0, request: makeFlowStatsRequest({ tableId: 3, cookie: 5n, cookieMask: 0xfn, match: { inPort: 1 } }) },
    { type: 'flowStatsReply', xid: 11, flags: 1, flows: stats },
    { type: 'flowStatsReply', xid: 11, flags: 0, flows: [] },
    { type: 'multipartRequest', xid: 12, mpType: 0, flags: 0, body: Buffer.alloc(0) },
    { type: 'multipartReply', xid: 12, mpType: 13, flags: 0, body: Buffer.from('00000000', 'hex') },
    { type: 'barrierRequest', xid: 13 },
    { type: 'barrierReply', xid: 13 },
    { type: 'getAsyncRequest', xid: 14 },
    { type: 'getAsyncReply', xid: 14, packetInMask: [7, 0], portStatusMask: [7, 7], flowRemovedMask: [15, 0] },
    { type: 'setAsync', xid: 15, packetInMask: [7, 0], portStatusMask: [7, 0], flowRemovedMask: [15, 0] },
    ...(['openRequest', 'openReply', 'closeRequest', 'closeReply', 'commitRequest', 'commitReply', 'discardRequest',
      'discardReply'] as const).map((ctrlType, i): OfMessage => ({ type: 'bundleControl', xid: 16 + i, bundleId: 42, ctrlType, flags: 3 })),
    { type: 'bundleAdd', xid: 30, bundleId: 42, flags: 3, message: { type: 'flowMod', xid: 30, ...catalog()[13] } },
    { type: 'bundleAdd', xid: 31, bundleId: 42, flags: 3, message: { type: 'barrierRequest', xid: 31 } },
    { type: 'experimenter', xid: 32, experimenter: 0x2320, expType: 99, data: Buffer.from('x') },
    { type: 'unknown', xid: 33, version: 4, msgType: 24, body: Buffer.alloc(16) },
    { type: 'unknown', xid: 34, version: 1, msgType: 5, body: Buffer.alloc(0) },
  ];

  it.each(messages.map((m) => [m.type, m] as const))('%s', (_t, m) => {
    expect(rt(m)).toEqual(m);
  });

  it('bundleAdd forces the embedded xid to the outer one', () => {
    const m: OfMessage = { type: 'bundleAdd', xid: 50, bundleId: 1, flags: 0, message: { type: 'barrierRequest', xid: 7 } };
    expect(rt(m)).toEqual({ ...m, message: { type: 'barrierRequest', xid: 50 } });
  });
});

describe('framing', () => {
  it('splits a byte stream at message boundaries, whatever the chunking', () => {
    const msgs: OfMessage[] = [
      { type: 'echoRequest', xid: 1, data: Buffer.from('a') },
      { type: 'flowMod', xid: 2, ...catalog()[0] },
      { type: 'barrierReply', xid: 3 },
    ];
    const stream = Buffer.concat(msgs.map(encodeMessage));
    for (const size of [1, 3, 7, 64, stream.length]) {
      const fr = new MessageFramer();
      const out: OfMessage[] = [];
      for (let p = 0; p < stream.length; p += size) out.push(...fr.push(stream.subarray(p, p + size)).map(decodeMessage));
      expect(out).toEqual(msgs);
      expect(fr.pendingBytes).toBe(0);
    }
  });

  it('rejects a length below the header size', () => {
    expect(() => new MessageFramer().push(Buffer.from('0400000400000000', 'hex'))).toThrow(/bad OpenFlow message length/);
  });
});
