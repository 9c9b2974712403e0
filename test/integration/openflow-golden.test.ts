// Golden suite against a real Open vSwitch (private ovsdb-server + ovs-vswitchd, userspace datapath):
// what we encode is what the switch installs, as `ovs-ofctl dump-flows` prints it and as our own
// flow-stats decoder reads it back. Also bundles (atomic, errors), delete by cookie, echo, PACKET_IN.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalOvs, type LocalOvs } from '../../agent/host/local-ovs.ts';
import { createNetns, deleteNetns } from '../../agent/host/netns.ts';
import { OFPP } from '../../agent/openflow/actions.ts';
import { OpenFlowConnection } from '../../agent/openflow/connection.ts';
import { OpenFlowBatchError } from '../../agent/openflow/errors.ts';
import { OFPFF, OFPTT_ALL, makeFlowMod, type FlowMod, type FlowStats } from '../../agent/openflow/flowmod.ts';
import type { MessageOf } from '../../agent/openflow/messages.ts';
import { STORED_FLAGS, parseDumpFlows, toOfctlText } from '../../agent/openflow/render.ts';
import { catalog } from '../unit/openflow/catalog.ts';

const BRIDGE = 'br-int';
// Needs Open vSwitch installed (and root to run ovs-vswitchd); skipped, loudly, where it is absent.
const HAVE_OVS = (process.env.PATH ?? '').split(':').some((d) => existsSync(join(d, 'ovs-vswitchd')));
if (!HAVE_OVS) console.warn('openflow-golden: ovs-vswitchd not found on PATH, suite skipped');
let dir = '';
let ovs: LocalOvs | undefined;
let conn: OpenFlowConnection;
let stopOvs: () => Promise<void> = async () => undefined;

/**
 * A private switch whose daemons run in their own network namespace: the userspace datapath makes
 * tap devices for bridges (and "ovs-netdev"), which must not land in the root namespace. The unix
 * sockets in the run folder are reachable from here all the same. `stop` kills the daemons by pid,
 * deletes the namespace (and with it every tap) and removes the folder, whatever failed before.
 */
async function privateOvs(prefix: string): Promise<{ ovs: LocalOvs; dir: string; stop: () => Promise<void> }> {
  const d = mkdtempSync(join(tmpdir(), prefix));
  const ns = `labof${randomBytes(4).toString('hex')}`;
  let o: LocalOvs | undefined;
  const stop = async () => {
    try {
      await o?.stop();
    } finally {
      await deleteNetns(ns).catch(() => undefined);
      rmSync(d, { recursive: true, force: true });
    }
  };
  try {
    await createNetns(ns);
    o = await startLocalOvs({ runDir: d, netns: ns });
    return { ovs: o, dir: d, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Rejects after `ms`, so a hung wait fails inside the test (and its finally still cleans up). */
function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => {
    t = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

async function switchFlows(filter = ''): Promise<string[]> {
  const args = ['--no-names'];
  if (filter) args.push(filter);
  return parseDumpFlows(await ovs!.ofctl('dump-flows', BRIDGE, ...args)).sort();
}

const cookieRange = (lo: bigint, hi: bigint) => (f: { cookie: bigint }) => f.cookie >= lo && f.cookie < hi;
const sortText = (flows: readonly FlowMod[]) => flows.map(toOfctlText).sort();
const linesWithCookies = (lines: string[], lo: bigint, hi: bigint) =>
  lines.filter((l) => {
    const c = BigInt(l.match(/^cookie=(0x[0-9a-f]+)/)![1]);
    return c >= lo && c < hi;
  });

/** What a flow-stats entry says about the flow, in FlowMod terms. */
function statsAsFlow(s: FlowStats) {
  return {
    cookie: s.cookie, tableId: s.tableId, priority: s.priority, idleTimeout: s.idleTimeout, hardTimeout: s.hardTimeout,
    flags: s.flags, match: s.match, instructions: s.instructions,
  };
}
function sentAsFlow(f: FlowMod) {
  return {
    cookie: f.cookie, tableId: f.tableId, priority: f.priority, idleTimeout: f.idleTimeout, hardTimeout: f.hardTimeout,
    flags: f.flags & STORED_FLAGS, match: f.match, instructions: f.instructions,
  };
}

beforeAll(async () => {
  if (!HAVE_OVS) return;
  const p = await privateOvs('ofg-');
  ({ ovs, dir } = p);
  stopOvs = p.stop;
  try {
    await ovs.vsctl('add-br', BRIDGE, '--', 'set', 'bridge', BRIDGE, 'datapath_type=netdev', 'fail-mode=secure');
    conn = await OpenFlowConnection.connect({ path: ovs.mgmtSocket(BRIDGE) }, { echoIntervalMs: 0 });
  } catch (e) {
    await stopOvs();
    throw e;
  }
});

afterAll(async () => {
  conn?.close();
  await stopOvs();
});

describe.skipIf(!HAVE_OVS)('OpenFlow golden suite (real ovs-vswitchd)', () => {
  const PLAIN = 0x1000_0000n;
  const BUNDLED = 0x2000_0000n;

  it('negotiates OpenFlow 1.3 and reads FEATURES', () => {
    expect(conn.version).toBe(4);
    expect(conn.features.nTables).toBe(254);
    expect(conn.features.datapathId).toBeGreaterThan(0n);
  });

  it('plain FLOW_MODs: ovs-ofctl prints exactly toOfctlText of what we sent', async () => {
    const flows = catalog(PLAIN);
    await conn.flowMods(flows);
    const got = linesWithCookies(await switchFlows(), PLAIN, PLAIN + 0x1000n);
    expect(got).toEqual(sortText(flows));
  });

  it('the same flows inside one bundle', async () => {
    // Different tables would collide with the plain copies (same match+priority), so shift priorities.
    const flows = catalog(BUNDLED).map((f) => ({ ...f, priority: f.priority + 1 }));
    await conn.bundle(flows.map((f) => ({ type: 'flowMod' as const, ...f })));
    const got = linesWithCookies(await switchFlows(), BUNDLED, BUNDLED + 0x1000n);
    expect(got).toEqual(sortText(flows));
  });

  it('flow-stats multipart reply decodes to the flows we sent', async () => {
    const sent = [...catalog(PLAIN), ...catalog(BUNDLED).map((f) => ({ ...f, priority: f.priority + 1 }))];
    const stats = await conn.dumpFlows();
    const key = (f: { cookie: bigint }) => f.cookie;
    const got = stats.filter((s) => s.cookie >= PLAIN).map(statsAsFlow).sort((a, b) => Number(key(a) - key(b)));
    const want = sent.map(sentAsFlow).sort((a, b) => Number(key(a) - key(b)));
    expect(got).toEqual(want);
    // A filtered dump: one table, cookie under mask.
    const t41 = await conn.dumpFlows({ tableId: 41, cookie: PLAIN, cookieMask: 0xf000_0000n });
    expect(t41.map((s) => s.cookie).sort()).toEqual([PLAIN + 0x10fn, PLAIN + 0x110n]);
  });

  it('a bad flow inside a bundle is reported with its error and nothing of the bundle is installed', async () => {
    const good = (cookie: bigint, prio: number) => makeFlowMod({
      cookie, tableId: 60, priority: prio, match: { ethType: 0x0800 },
      instructions: [{ type: 'applyActions', actions: [{ type: 'output', port: 1 }] }],
    });
    // ct(commit) without an IP prerequisite: BAD_ACTION.MATCH_INCONSISTENT at BUNDLE_ADD time.
    const bad = makeFlowMod({
      cookie: 0x3000_0002n, tableId: 60, priority: 5, match: {},
      instructions: [{ type: 'applyActions', actions: [{ type: 'ct', commit: true, zone: 1 }] }],
    });
    const msgs = [good(0x3000_0001n, 10), bad, good(0x3000_0003n, 30)].map((f) => ({ type: 'flowMod' as const, ...f }));
    const err = await conn.bundle(msgs).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenFlowBatchError);
    const failures = (err as OpenFlowBatchError).failures;
    expect(failures.map((f) => [f.index, f.error.errorName])).toEqual([[1, 'BAD_ACTION.MATCH_INCONSISTENT']]);
    expect(await switchFlows('table=60')).toEqual([]);
  });

  it('a commit-time failure (overlap) aborts the whole bundle', async () => {
    const base = { tableId: 61, match: { ethType: 0x0806 }, instructions: [] };
    await conn.flowMods([makeFlowMod({ ...base, cookie: 0x3100_0001n, priority: 50 })]);
    const fresh = makeFlowMod({ tableId: 61, cookie: 0x3100_0002n, priority: 60, match: { ethType: 0x0800 } });
    const overlap = makeFlowMod({
      ...base, match: { ethType: 0x0806, arpOp: 1 }, cookie: 0x3100_0003n, priority: 50, flags: OFPFF.CHECK_OVERLAP,
    });
    const err = await conn.bundle([fresh, overlap].map((f) => ({ type: 'flowMod' as const, ...f })))
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenFlowBatchError);
    const e = err as OpenFlowBatchError;
    expect(e.failures.map((f) => [f.index, f.error.errorName])).toEqual([[1, 'FLOW_MOD_FAILED.OVERLAP']]);
    expect((e.cause as { errorName?: string }).errorName).toBe('BUNDLE_FAILED.MSG_FAILED');
    expect(await switchFlows('table=61')).toEqual([
      'cookie=0x31000001, table=61, priority=50,arp actions=drop',
    ]);
  });

  it('plain FLOW_MOD errors reject with the error of the failing xid only', async () => {
    const ok = makeFlowMod({ cookie: 0x3200_0001n, tableId: 62, match: { ethType: 0x0800 } });
    const bad = makeFlowMod({ cookie: 0x3200_0002n, tableId: 62, match: { ipProto: 6 } }); // no eth_type: BAD_PREREQ
    const err = await conn.flowMods([ok, bad]).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenFlowBatchError);
    expect((err as OpenFlowBatchError).failures.map((f) => [f.index, f.error.errorName]))
      .toEqual([[1, 'BAD_MATCH.BAD_PREREQ']]);
    expect(await switchFlows('table=62')).toEqual(['cookie=0x32000001, table=62, ip actions=drop']);
  });

  it('delete by cookie/mask removes exactly the matching flows', async () => {
    const mk = (cookie: bigint, tableId: number) => makeFlowMod({ cookie, tableId, priority: Number(cookie & 0xffn) });
    await conn.flowMods([mk(0x4000_1101n, 70), mk(0x4000_1102n, 71), mk(0x4000_1201n, 70), mk(0x4000_2101n, 72)]);
    await conn.flowMods([makeFlowMod({
      command: 'delete', tableId: OFPTT_ALL, cookie: 0x4000_1100n, cookieMask: 0xffff_ff00n,
    })]);
    const left = (await conn.dumpFlows({ cookie: 0x4000_0000n, cookieMask: 0xffff_0000n })).map((s) => s.cookie).sort();
    expect(left).toEqual([0x4000_1201n, 0x4000_2101n]);
    // The catalogue copies are untouched.
    expect(linesWithCookies(await switchFlows(), PLAIN, PLAIN + 0x1000n)).toHaveLength(catalog().length);
  });

  it('ECHO keepalive: our idle probes on the service connection get replies', async () => {
    const c = await OpenFlowConnection.connect({ path: ovs!.mgmtSocket(BRIDGE) }, { echoIntervalMs: 100, echoTimeoutMs: 2000 });
    try {
      expect(await c.echo(Buffer.from('ping!'))).toBeGreaterThanOrEqual(0);
      await new Promise((r) => setTimeout(r, 700));
      expect(c.stats.echoRepliesReceived).toBeGreaterThanOrEqual(3);
      expect(c.isClosed).toBe(false);
    } finally {
      c.close();
    }
  });

  it('active controller: the switch connects to us (accept path) and sends PACKET_IN without SET_ASYNC', async () => {
    // Its own switch, because set-controller on a bridge flushes its flows. (Answering the switch's own
    // ECHO_REQUEST is covered by the unit tests: OVS 3.1 probed this connection only sometimes within 15 s.)
    const p = await privateOvs('ofa-');
    const server = net.createServer();
    let c: OpenFlowConnection | undefined;
    try {
      const sockPath = join(p.dir, 'ctl.sock');
      const accepted = new Promise<OpenFlowConnection>((resolve, reject) => {
        server.once('connection', (s) => OpenFlowConnection.accept(s, { echoIntervalMs: 0, requestTimeoutMs: 5000 }).then(resolve, reject));
      });
      await new Promise<void>((r) => server.listen(sockPath, r));
      await p.ovs.vsctl('add-br', 'br-ctl', '--', 'set', 'bridge', 'br-ctl', 'datapath_type=netdev', 'fail-mode=secure',
        '--', 'set-controller', 'br-ctl', `unix:${sockPath}`, '--', 'set', 'controller', 'br-ctl', 'inactivity_probe=1000');
      c = await within(10_000, accepted, 'the switch connecting to us');
      expect(c.features.nTables).toBe(254);
      expect(await c.echo(Buffer.from('hi'))).toBeGreaterThanOrEqual(0);
      await c.flowMods([makeFlowMod({
        cookie: 0xc0n, priority: 10, match: { ethType: 0x88b5 },
        instructions: [{ type: 'applyActions', actions: [{ type: 'output', port: OFPP.CONTROLLER }] }],
      })]);
      const got = new Promise<MessageOf<'packetIn'>>((resolve) => c!.once('packetIn', resolve));
      await c.packetOut([{ type: 'output', port: OFPP.TABLE }], Buffer.from('ffffffffffff' + 'fa163e000001' + '88b5' + '00'.repeat(46), 'hex'));
      expect((await within(5000, got, 'PACKET_IN on the active connection')).cookie).toBe(0xc0n);
      expect(c.isClosed).toBe(false);
    } finally {
      c?.close();
      server.close();
      await p.stop();
    }
  });

  it('PACKET_IN arrives after SET_ASYNC when a PACKET_OUT hits an output:CONTROLLER flow', async () => {
    const c = await OpenFlowConnection.connect({ path: ovs!.mgmtSocket(BRIDGE) }, { echoIntervalMs: 0 });
    try {
      await c.enableAsync();
      await c.flowMods([makeFlowMod({
        cookie: 0xe02n, tableId: 0, priority: 1000, match: { ethType: 0x88b5 },
        instructions: [{ type: 'applyActions', actions: [{ type: 'output', port: OFPP.CONTROLLER }] }],
      })]);
      const frame = Buffer.concat([
        Buffer.from('ffffffffffff' + 'fa163e000001' + '88b5', 'hex'),
        Buffer.from('weft packet-in test payload.............', 'latin1'),
      ]);
      const got = new Promise<MessageOf<'packetIn'>>((resolve) => c.once('packetIn', resolve));
      await c.packetOut([{ type: 'output', port: OFPP.TABLE }], frame);
      const pin = await Promise.race([got, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no PACKET_IN')), 5000))]);
      expect(pin.cookie).toBe(0xe02n);
      expect(pin.tableId).toBe(0);
      expect(pin.reason).toBe(1);
      expect(pin.match.inPort).toBe(OFPP.CONTROLLER);
      expect(pin.data.equals(frame)).toBe(true);
    } finally {
      c.close();
    }
  });
});
