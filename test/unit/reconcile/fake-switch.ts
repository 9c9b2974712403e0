// An in-memory OpenFlow 1.3 switch on a unix socket for the reconciler's unit tests: HELLO and
// FEATURES, barriers, ONF bundles (ADDs validated by `reject`, applied at COMMIT), flow-stats dumps
// in several parts, and one flow table shared by every connection, like a real switch.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FlowMod, FlowStats } from '../../../agent/openflow/flowmod.ts';
import { MessageFramer } from '../../../agent/openflow/header.ts';
import { encodeMatch } from '../../../agent/openflow/match.ts';
import { decodeMessage, encodeMessage, OFPMPF_MORE, type OfMessage } from '../../../agent/openflow/messages.ts';

export interface FakeSwitchHooks {
  /** Refuse this FLOW_MOD at BUNDLE_ADD time (BAD_ACTION.MATCH_INCONSISTENT). */
  reject?: (fm: FlowMod) => boolean;
  /** Return true to swallow the message (no reply, no effect); may destroy the socket. */
  intercept?: (m: OfMessage, socket: net.Socket) => boolean;
}

export class FakeSwitch {
  readonly path: string;
  /** `${table}/${priority}/${match hex}` -> the flow */
  readonly flows = new Map<string, FlowMod>();
  readonly received: OfMessage[] = [];
  connections = 0;
  commits = 0;
  private readonly dir: string;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  private constructor(readonly hooks: FakeSwitchHooks) {
    this.dir = mkdtempSync(join(tmpdir(), 'wfs-'));
    this.path = join(this.dir, 'br-int.mgmt');
    this.server = net.createServer((s) => this.onConnection(s));
  }

  static async start(hooks: FakeSwitchHooks = {}): Promise<FakeSwitch> {
    const f = new FakeSwitch(hooks);
    await new Promise<void>((r) => f.server.listen(f.path, r));
    return f;
  }

  /** Every flow as ovs-ofctl-like "cookie/table/priority" triples, sorted (for compact asserts). */
  summary(): string[] {
    return [...this.flows.values()].map((f) => `${f.cookie.toString(16)}/${f.tableId}/${f.priority}`).sort();
  }

  /** Drops every connection (a switch restart keeps or loses its flows: `lose`). */
  dropAll(lose = false): void {
    for (const s of this.sockets) s.destroy();
    if (lose) this.flows.clear();
  }

  async stop(): Promise<void> {
    this.dropAll();
    await new Promise<void>((r) => this.server.close(() => r()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private onConnection(s: net.Socket): void {
    this.connections++;
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => undefined);
    const framer = new MessageFramer();
    const bundles = new Map<number, FlowMod[]>();
    const send = (m: OfMessage) => {
      if (!s.destroyed) s.write(encodeMessage(m));
    };
    send({ type: 'hello', xid: 1, version: 6 });
    s.on('data', (chunk: Buffer) => {
      for (const raw of framer.push(chunk)) {
        const m = decodeMessage(raw);
        this.received.push(m);
        if (this.hooks.intercept?.(m, s)) continue;
        this.handle(m, send, bundles);
      }
    });
  }

  private handle(m: OfMessage, send: (m: OfMessage) => void, bundles: Map<number, FlowMod[]>): void {
    switch (m.type) {
      case 'featuresRequest':
        send({ type: 'featuresReply', xid: m.xid, datapathId: 1n, nBuffers: 0, nTables: 254, auxiliaryId: 0, capabilities: 0 });
        return;
      case 'echoRequest':
        send({ type: 'echoReply', xid: m.xid, data: m.data });
        return;
      case 'barrierRequest':
        send({ type: 'barrierReply', xid: m.xid });
        return;
      case 'bundleControl': {
        if (m.ctrlType === 'openRequest') bundles.set(m.bundleId, []);
        if (m.ctrlType === 'commitRequest') {
          for (const fm of bundles.get(m.bundleId) ?? []) this.flowMod(fm);
          this.commits++;
        }
        if (m.ctrlType !== 'openRequest') bundles.delete(m.bundleId);
        send({ ...m, ctrlType: m.ctrlType.replace('Request', 'Reply') as 'openReply' });
        return;
      }
      case 'bundleAdd':
        if (m.message.type === 'flowMod' && this.hooks.reject?.(m.message)) {
          send({ type: 'error', xid: m.xid, errType: 2, code: 10, data: Buffer.alloc(0) });
          return;
        }
        if (m.message.type === 'flowMod') bundles.get(m.bundleId)?.push(m.message);
        return;
      case 'flowMod':
        this.flowMod(m);
        return;
      case 'flowStatsRequest': {
        const all = [...this.flows.values()].map(stats);
        for (let i = 0; i < all.length || i === 0; i += 50) {
          const more = i + 50 < all.length;
          send({ type: 'flowStatsReply', xid: m.xid, flags: more ? OFPMPF_MORE : 0, flows: all.slice(i, i + 50) });
        }
        return;
      }
      default:
    }
  }

  private flowMod(fm: FlowMod): void {
    const key = `${fm.tableId}/${fm.priority}/${encodeMatch(fm.match).toString('hex')}`;
    if (fm.command === 'add') this.flows.set(key, fm);
    else if (fm.command === 'deleteStrict') {
      const have = this.flows.get(key);
      if (have && ((have.cookie ^ fm.cookie) & fm.cookieMask) === 0n) this.flows.delete(key);
    } else throw new Error(`fake switch: no ${fm.command}`);
  }
}

function stats(f: FlowMod): FlowStats {
  return {
    tableId: f.tableId, durationSec: 0, durationNsec: 0, priority: f.priority, idleTimeout: 0, hardTimeout: 0, flags: 0,
    cookie: f.cookie, packetCount: 0n, byteCount: 0n, match: f.match, instructions: f.instructions,
  };
}
