// OpenFlowConnection against a scripted fake switch on a unix socket (no OVS needed).
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OpenFlowConnection } from '../../../agent/openflow/connection.ts';
import { OpenFlowBatchError, OpenFlowError } from '../../../agent/openflow/errors.ts';
import { makeFlowMod } from '../../../agent/openflow/flowmod.ts';
import { MessageFramer } from '../../../agent/openflow/header.ts';
import { decodeMessage, encodeMessage, type OfMessage } from '../../../agent/openflow/messages.ts';
import { catalog } from './catalog.ts';

type Script = (m: OfMessage, reply: (r: OfMessage) => void) => void;

interface Fake {
  path: string;
  received: OfMessage[];
  send(m: OfMessage): void;
  close(): Promise<void>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A fake switch: answers HELLO (OVS style: version 6, no bitmap) and FEATURES, the rest per `script`. */
async function fakeSwitch(script: Script = () => undefined, helloVersion = 6): Promise<Fake> {
  const dir = mkdtempSync(join(tmpdir(), 'off-'));
  const path = join(dir, 's.sock');
  const received: OfMessage[] = [];
  let sock: net.Socket | undefined;
  const server = net.createServer((s) => {
    sock = s;
    const fr = new MessageFramer();
    const reply = (r: OfMessage) => s.write(encodeMessage(r));
    reply({ type: 'hello', xid: 0x18, version: helloVersion });
    s.on('data', (chunk) => {
      for (const raw of fr.push(chunk)) {
        const m = decodeMessage(raw);
        received.push(m);
        if (m.type === 'featuresRequest') {
          reply({ type: 'featuresReply', xid: m.xid, datapathId: 0xabcn, nBuffers: 0, nTables: 254, auxiliaryId: 0, capabilities: 0x4f });
        } else {
          script(m, reply);
        }
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(path, r));
  const fake: Fake = {
    path,
    received,
    send: (m) => sock?.write(encodeMessage(m)),
    close: () => new Promise<void>((r) => {
      sock?.destroy();
      server.close(() => r());
    }),
  };
  cleanups.push(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return fake;
}

async function open(fake: Fake, opts = {}) {
  const c = await OpenFlowConnection.connect({ path: fake.path }, { echoIntervalMs: 0, ...opts });
  cleanups.push(() => c.close());
  return c;
}

/** Answers barriers, echoes and bundle controls like a healthy switch. */
const healthy: Script = (m, reply) => {
  if (m.type === 'barrierRequest') reply({ type: 'barrierReply', xid: m.xid });
  if (m.type === 'echoRequest') reply({ type: 'echoReply', xid: m.xid, data: m.data });
  if (m.type === 'bundleControl') {
    reply({ ...m, ctrlType: m.ctrlType.replace('Request', 'Reply') as 'openReply' });
  }
};

describe('OpenFlowConnection', () => {
  it('sends an OF1.3 HELLO with a version bitmap, negotiates 1.3 and reads FEATURES', async () => {
    const fake = await fakeSwitch(healthy);
    const c = await open(fake);
    expect(fake.received[0]).toMatchObject({ type: 'hello', version: 4, versions: [4] });
    expect(c.features.datapathId).toBe(0xabcn);
  });

  it('fails the handshake when the peer only speaks OpenFlow 1.0', async () => {
    const fake = await fakeSwitch(healthy, 1);
    await expect(OpenFlowConnection.connect({ path: fake.path })).rejects.toThrow(/version negotiation failed/);
  });

  it('answers the switch ECHO_REQUEST with the same xid and payload', async () => {
    const fake = await fakeSwitch(healthy);
    const c = await open(fake);
    fake.send({ type: 'echoRequest', xid: 77, data: Buffer.from('probe') });
    await c.barrier();
    await new Promise((r) => setTimeout(r, 20));
    expect(fake.received.find((m) => m.type === 'echoReply')).toEqual({ type: 'echoReply', xid: 77, data: Buffer.from('probe') });
    expect(c.stats.echoRequestsAnswered).toBe(1);
  });

  it('probes an idle switch and fails the connection when the echo goes unanswered', async () => {
    const fake = await fakeSwitch((m, reply) => {
      if (m.type === 'barrierRequest') reply({ type: 'barrierReply', xid: m.xid });
    });
    const c = await open(fake, { echoIntervalMs: 50, echoTimeoutMs: 100 });
    const closed = new Promise<Error | undefined>((r) => c.once('close', r));
    const err = await closed;
    expect(err?.message).toMatch(/echo keepalive failed/);
    expect(c.isClosed).toBe(true);
    await expect(c.barrier()).rejects.toThrow();
  });

  it('rejects exactly the request whose xid the ERROR carries', async () => {
    const fake = await fakeSwitch((m, reply) => {
      if (m.type === 'flowMod' && m.cookie === 2n) {
        reply({ type: 'error', xid: m.xid, errType: 4, code: 9, data: encodeMessage(m).subarray(0, 64) });
      }
      healthy(m, reply);
    });
    const c = await open(fake);
    const fms = [1n, 2n, 3n].map((cookie) => makeFlowMod({ cookie }));
    const err = await c.flowMods(fms).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenFlowBatchError);
    const f = (err as OpenFlowBatchError).failures;
    expect(f).toHaveLength(1);
    expect(f[0].index).toBe(1);
    expect(f[0].error).toBeInstanceOf(OpenFlowError);
    expect(f[0].error.errorName).toBe('BAD_MATCH.BAD_PREREQ');
    expect(f[0].error.context).toBe('flowMod #1');
  });

  it('a request with a reply rejects with OpenFlowError when the switch answers ERROR', async () => {
    const fake = await fakeSwitch((m, reply) => {
      if (m.type === 'flowStatsRequest') reply({ type: 'error', xid: m.xid, errType: 1, code: 9, data: Buffer.alloc(0) });
    });
    const c = await open(fake);
    await expect(c.dumpFlows()).rejects.toMatchObject({ name: 'OpenFlowError', errorName: 'BAD_REQUEST.BAD_TABLE_ID' });
  });

  it('collects a multipart flow-stats reply sent in several parts', async () => {
    const flows = catalog().map((f, i) => ({
      tableId: f.tableId, durationSec: 0, durationNsec: 0, priority: f.priority, idleTimeout: 0, hardTimeout: 0,
      flags: 0, cookie: f.cookie, packetCount: BigInt(i), byteCount: 0n, match: f.match, instructions: f.instructions,
    }));
    const fake = await fakeSwitch((m, reply) => {
      if (m.type !== 'flowStatsRequest') return;
      reply({ type: 'flowStatsReply', xid: m.xid, flags: 1, flows: flows.slice(0, 10) });
      reply({ type: 'flowStatsReply', xid: m.xid, flags: 1, flows: flows.slice(10, 20) });
      reply({ type: 'flowStatsReply', xid: m.xid, flags: 0, flows: flows.slice(20) });
    });
    const c = await open(fake);
    expect(await c.dumpFlows()).toEqual(flows);
  });

  it('bundle: OPEN, ADDs with their own xids, BARRIER, then COMMIT', async () => {
    const fake = await fakeSwitch(healthy);
    const c = await open(fake);
    await c.bundle([{ type: 'flowMod', ...makeFlowMod({ cookie: 1n }) }, { type: 'flowMod', ...makeFlowMod({ cookie: 2n }) }]);
    const seq = fake.received.slice(2).map((m) => (m.type === 'bundleControl' ? m.ctrlType : m.type));
    expect(seq).toEqual(['openRequest', 'bundleAdd', 'bundleAdd', 'barrierRequest', 'commitRequest']);
    for (const m of fake.received) if (m.type === 'bundleAdd') expect(m.message.xid).toBe(m.xid);
  });

  it('bundle: an ERROR for an ADD makes it DISCARD instead of COMMIT', async () => {
    const fake = await fakeSwitch((m, reply) => {
      if (m.type === 'bundleAdd' && m.message.type === 'flowMod' && m.message.cookie === 2n) {
        reply({ type: 'error', xid: m.xid, errType: 2, code: 10, data: Buffer.alloc(0) });
      }
      healthy(m, reply);
    });
    const c = await open(fake);
    const msgs = [1n, 2n, 3n].map((cookie) => ({ type: 'flowMod' as const, ...makeFlowMod({ cookie }) }));
    const err = await c.bundle(msgs).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenFlowBatchError);
    expect((err as OpenFlowBatchError).failures.map((f) => [f.index, f.error.errorName])).toEqual([[1, 'BAD_ACTION.MATCH_INCONSISTENT']]);
    const ctl = fake.received.flatMap((m) => (m.type === 'bundleControl' ? [m.ctrlType] : []));
    expect(ctl).toEqual(['openRequest', 'discardRequest']);
  });

  it('bundle: a message that cannot be encoded is never sent, and the bundle is discarded naming it', async () => {
    const fake = await fakeSwitch(healthy);
    const c = await open(fake);
    const msgs = [makeFlowMod({ cookie: 1n }), makeFlowMod({ cookie: 2n, match: { inPort: 2 ** 33 } }), makeFlowMod({ cookie: 3n })]
      .map((fm) => ({ type: 'flowMod' as const, ...fm }));
    const err = await c.bundle(msgs).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenFlowBatchError);
    expect((err as OpenFlowBatchError).failures).toEqual([]);
    expect((err as OpenFlowBatchError).unencodable.map((u) => u.index)).toEqual([1]);
    expect((err as Error).message).toMatch(/#1: cannot encode \(value 8589934592 does not fit in 4 bytes\)/);
    const adds = fake.received.flatMap((m) => (m.type === 'bundleAdd' && m.message.type === 'flowMod' ? [m.message.cookie] : []));
    expect(adds).toEqual([1n, 3n]);
    const ctl = fake.received.flatMap((m) => (m.type === 'bundleControl' ? [m.ctrlType] : []));
    expect(ctl).toEqual(['openRequest', 'discardRequest']);
  });

  it('emits packetIn and unsolicited errors; close rejects outstanding requests', async () => {
    const fake = await fakeSwitch();
    const c = await open(fake);
    const pin = new Promise<OfMessage>((r) => c.once('packetIn', r));
    const unsolicited = new Promise<Error>((r) => c.once('unsolicitedError', r));
    fake.send({
      type: 'packetIn', xid: 0, bufferId: 0xffffffff, totalLen: 2, reason: 1, tableId: 0, cookie: 5n,
      match: { inPort: 1 }, data: Buffer.from('hi'),
    });
    fake.send({ type: 'error', xid: 999999, errType: 5, code: 3, data: Buffer.alloc(0) });
    expect((await pin).type).toBe('packetIn');
    expect((await unsolicited).message).toMatch(/FLOW_MOD_FAILED.OVERLAP/);
    const pending = c.barrier();
    c.close();
    await expect(pending).rejects.toThrow(/closed/);
  });
});
