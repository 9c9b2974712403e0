// Golden suite against a real Open vSwitch (private ovsdb-server + ovs-vswitchd, userspace datapath):
// what we encode is what the switch installs, as `ovs-ofctl dump-flows` prints it and as our own
// flow-stats decoder reads it back. Also bundles (atomic, errors), delete by cookie, echo, PACKET_IN.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalOvs, type LocalOvs } from '../../agent/host/local-ovs.ts';
import { createNetns, deleteNetns } from '../../agent/host/netns.ts';
import { OFPP } from '../../agent/openflow/actions.ts';
import { OpenFlowConnection, type ConnectionOptions } from '../../agent/openflow/connection.ts';
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

/** Resolves with the next PACKET_IN on `c`; rejects if the connection closes first. */
function nextPacketIn(c: OpenFlowConnection): Promise<MessageOf<'packetIn'>> {
  return new Promise((resolve, reject) => {
    const onClose = (e: Error | undefined) => {
      c.off('packetIn', onPacketIn);
      reject(e ?? new Error('connection closed'));
    };
    const onPacketIn = (m: MessageOf<'packetIn'>) => {
      c.off('close', onClose);
      resolve(m);
    };
    c.once('packetIn', onPacketIn);
    c.once('close', onClose);
  });
}

/** `OpenFlowConnection.connect` bounded by `within`; a connection that completes too late is closed. */
function connectWithin(ms: number, what: string, path: string, opts: ConnectionOptions): Promise<OpenFlowConnection> {
  const p = OpenFlowConnection.connect({ path }, opts);
  return within(ms, p, what).catch((e: unknown) => {
    p.then((late) => late.close(), () => undefined);
    throw e;
  });
}

/** The lines of a switch's log about its controller connections (for failure messages). */
function controllerLog(runDir: string): string {
  try {
    const lines = readFileSync(join(runDir, 'ovs-vswitchd.log'), 'utf8').split('\n')
      .filter((l) => /rconn|connmgr|vconn|stream_unix/.test(l));
    return `ovs-vswitchd.log (controller lines):\n${lines.slice(-20).join('\n')}`;
  } catch (e) {
    return `ovs-vswitchd.log unreadable: ${(e as Error).message}`;
  }
}

/**
 * A unix socket an OpenFlow switch connects to as its controller. Every connection gets a handshake
 * (the switch reconnects after a drop, and a connection nobody answers is no use), and `live()`
 * resolves with the latest connection whose handshake finished and that is still open.
 */
class ControllerListener {
  private readonly server = net.createServer();
  private readonly sockets = new Set<net.Socket>();
  private readonly conns: OpenFlowConnection[] = [];
  private readonly events: string[] = [];
  private latest: OpenFlowConnection | undefined;
  private waiters: ((c: OpenFlowConnection) => void)[] = [];
  private closing = false;
  private readonly t0 = Date.now();

  constructor(readonly path: string) {
    this.server.on('connection', (s) => this.onConnection(s));
    this.server.on('error', (e) => this.note(`server error: ${e.message}`));
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.path, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  live(): Promise<OpenFlowConnection> {
    if (this.latest && !this.latest.isClosed) return Promise.resolve(this.latest);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  describe(): string {
    return `controller socket events:\n${this.events.join('\n') || '(none: the switch never connected)'}`;
  }

  /** Closes every connection and socket and the server (which also removes the socket file). */
  async close(): Promise<void> {
    this.closing = true;
    for (const c of this.conns) c.close();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private note(what: string): void {
    this.events.push(`+${Date.now() - this.t0} ms ${what}`);
  }

  private onConnection(s: net.Socket): void {
    const n = this.sockets.size + 1;
    if (this.closing) {
      s.destroy();
      return;
    }
    this.sockets.add(s);
    s.once('close', () => this.note(`connection #${n} closed`));
    this.note(`connection #${n} accepted`);
    OpenFlowConnection.accept(s, { echoIntervalMs: 0, requestTimeoutMs: 5000, handshakeTimeoutMs: 5000 }).then(
      (c) => {
        this.conns.push(c);
        if (this.closing) {
          c.close();
          return;
        }
        this.note(`connection #${n} handshake done`);
        c.once('close', (e) => this.note(`connection #${n}: ${e?.message ?? 'closed'}`));
        this.latest = c;
        const waiters = this.waiters;
        this.waiters = [];
        for (const w of waiters) w(c);
      },
      (e: Error) => this.note(`connection #${n} handshake failed: ${e.message}`),
    );
  }
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
  const p = await within(30_000, privateOvs('ofg-'), 'starting the private switch');
  ({ ovs, dir } = p);
  stopOvs = p.stop;
  try {
    await within(30_000, ovs.vsctl('add-br', BRIDGE, '--', 'set', 'bridge', BRIDGE, 'datapath_type=netdev', 'fail-mode=secure'),
      'ovs-vsctl add-br');
    // Every request of the shared connection fails, naming itself, well inside the test timeout.
    conn = await connectWithin(15_000, 'connecting to the management socket', ovs.mgmtSocket(BRIDGE),
      { echoIntervalMs: 0, requestTimeoutMs: 10_000 });
  } catch (e) {
    await stopOvs();
    throw e;
  }
});

afterAll(async () => {
  conn?.close();
  await within(40_000, stopOvs(), 'stopping the private switch');
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
    const c = await connectWithin(15_000, 'connecting to the management socket', ovs!.mgmtSocket(BRIDGE),
      { echoIntervalMs: 100, echoTimeoutMs: 2000 });
    try {
      expect(await within(5000, c.echo(Buffer.from('ping!')), 'ECHO round trip')).toBeGreaterThanOrEqual(0);
      // At least two idle probes after ours, answered. Polled rather than a fixed sleep: on a loaded
      // machine the keepalive timer fires late, and a fixed 700 ms saw too few.
      await within(10_000, (async () => {
        while (c.stats.echoRepliesReceived < 3 && !c.isClosed) await new Promise((r) => setTimeout(r, 50));
      })(), `keepalive probes answered (got ${c.stats.echoRepliesReceived} replies so far)`);
      expect(c.stats.echoRepliesReceived).toBeGreaterThanOrEqual(3);
      expect(c.isClosed).toBe(false);
    } finally {
      c.close();
    }
  });

  it('active controller: the switch connects to us (accept path) and sends PACKET_IN without SET_ASYNC', async () => {
    // Its own switch, because set-controller on a bridge flushes its flows. (Answering the switch's own
    // ECHO_REQUEST is covered by the unit tests: OVS 3.1 probed this connection only sometimes within 15 s.)
    const p = await within(30_000, privateOvs('ofa-'), 'starting the private switch');
    const ctl = new ControllerListener(join(p.dir, 'ctl.sock'));
    const step = async <T>(ms: number, what: string, work: Promise<T>): Promise<T> => {
      try {
        return await within(ms, work, what);
      } catch (e) {
        // Say what the switch saw of its controller connections (drops, reconnects, probes).
        (e as Error).message += `\n${ctl.describe()}\n${controllerLog(p.dir)}`;
        throw e;
      }
    };
    try {
      await step(5000, 'listening on the controller socket', ctl.listen());
      // The switch may connect more than once (it reconnects after a drop, 1 s later at first), so
      // the listener answers every connection and we use the latest one whose handshake finished.
      // inactivity_probe: a switch may drop a connection that stays silent for two probe intervals;
      // 1000 ms was within reach of a starved test process. (OVS 3.1 did not enforce it on this unix
      // connection in our tries, 7.5 s of silence kept it, but the test must not depend on that.)
      await step(25_000, 'ovs-vsctl add-br with set-controller',
        p.ovs.vsctl('add-br', 'br-ctl', '--', 'set', 'bridge', 'br-ctl', 'datapath_type=netdev', 'fail-mode=secure',
          '--', 'set-controller', 'br-ctl', `unix:${ctl.path}`, '--', 'set', 'controller', 'br-ctl', 'inactivity_probe=30000'));
      const c = await step(20_000, 'the switch connecting to us (HELLO + FEATURES)', ctl.live());
      expect(c.features.nTables).toBe(254);
      expect(await step(5000, 'ECHO round trip on the active connection', c.echo(Buffer.from('hi')))).toBeGreaterThanOrEqual(0);
      await step(5000, 'FLOW_MOD + barrier on the active connection', c.flowMods([makeFlowMod({
        cookie: 0xc0n, priority: 10, match: { ethType: 0x88b5 },
        instructions: [{ type: 'applyActions', actions: [{ type: 'output', port: OFPP.CONTROLLER }] }],
      })]));
      const got = nextPacketIn(c);
      await step(5000, 'PACKET_OUT + barrier on the active connection', c.packetOut([{ type: 'output', port: OFPP.TABLE }],
        Buffer.from('ffffffffffff' + 'fa163e000001' + '88b5' + '00'.repeat(46), 'hex')));
      expect((await step(5000, 'PACKET_IN on the active connection', got)).cookie).toBe(0xc0n);
      expect(c.isClosed).toBe(false);
    } finally {
      // Each step above has its own budget, and so does the cleanup, so a hang is reported by name
      // (the test's own timeout below is larger than all of them together).
      try {
        await within(5000, ctl.close(), 'closing the controller listener').catch(() => undefined);
      } finally {
        await within(40_000, p.stop(), 'stopping the private switch');
      }
    }
  }, 150_000);

  it('PACKET_IN arrives after SET_ASYNC when a PACKET_OUT hits an output:CONTROLLER flow', async () => {
    const c = await connectWithin(15_000, 'connecting to the management socket', ovs!.mgmtSocket(BRIDGE),
      { echoIntervalMs: 0, requestTimeoutMs: 5000 });
    try {
      await within(5000, c.enableAsync(), 'SET_ASYNC + barrier');
      await within(5000, c.flowMods([makeFlowMod({
        cookie: 0xe02n, tableId: 0, priority: 1000, match: { ethType: 0x88b5 },
        instructions: [{ type: 'applyActions', actions: [{ type: 'output', port: OFPP.CONTROLLER }] }],
      })]), 'FLOW_MOD + barrier');
      const frame = Buffer.concat([
        Buffer.from('ffffffffffff' + 'fa163e000001' + '88b5', 'hex'),
        Buffer.from('weft packet-in test payload.............', 'latin1'),
      ]);
      const got = nextPacketIn(c);
      await within(5000, c.packetOut([{ type: 'output', port: OFPP.TABLE }], frame), 'PACKET_OUT + barrier');
      const pin = await within(5000, got, 'PACKET_IN after SET_ASYNC');
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
