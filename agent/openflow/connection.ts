// One OpenFlow 1.3 connection to a switch: HELLO/version negotiation, FEATURES, ECHO keepalive
// both ways, xid-tracked requests (an ERROR rejects the request with the same xid), barriers,
// bundles, flow-stats dumps, PACKET_IN events.
//
// Requests without a reply (FLOW_MOD, PACKET_OUT, SET_ASYNC ...) sent with sendChecked() settle at
// the next barrier reply: OpenFlow processes messages in order, so an ERROR for them arrives before
// the reply to a later barrier.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { OFPP, type Action } from './actions.ts';
import { runBundle, sendFlowMods } from './batch.ts';
import { OpenFlowConnectionError, OpenFlowError } from './errors.ts';
import { makeFlowStatsRequest, OFP_NO_BUFFER, type FlowMod, type FlowStats, type FlowStatsRequest } from './flowmod.ts';
import { MessageFramer, OFP_VERSION_1_3, decodeHeader } from './header.ts';
import {
  OFPBF, OFPMPF_MORE, decodeMessage, encodeMessage,
  type MessageOf, type OfMessage, type OfMessageType,
} from './messages.ts';

import type {
  ConnectionOptions, ConnectionStats, ConnectTarget, OfMessageInit, OpenFlowConnectionEvents, Pending,
} from './connection-types.ts';

export type { ConnectionOptions, ConnectionStats, ConnectTarget, OfMessageInit, OpenFlowConnectionEvents } from './connection-types.ts';

export class OpenFlowConnection extends EventEmitter<OpenFlowConnectionEvents> {
  readonly version = OFP_VERSION_1_3;
  readonly stats: ConnectionStats = { echoRequestsSent: 0, echoRepliesReceived: 0, echoRequestsAnswered: 0 };
  private readonly socket: Duplex;
  private readonly framer = new MessageFramer();
  private readonly opts: Required<ConnectionOptions>;
  private readonly pending = new Map<number, Pending>();
  private readonly errorTaps = new Set<(e: OpenFlowError) => boolean>();
  private xidCounter = 0x1000;
  private seq = 0;
  private bundleCounter = 1;
  private lastRx = Date.now();
  private probing = false;
  private keepalive: NodeJS.Timeout | undefined;
  private closedWith: Error | undefined;
  private closed = false;
  private peerHello: ((m: MessageOf<'hello'>) => void) | undefined;
  private featuresReply: MessageOf<'featuresReply'> | undefined;

  private constructor(socket: Duplex, opts: ConnectionOptions) {
    super();
    this.socket = socket;
    this.opts = {
      echoIntervalMs: opts.echoIntervalMs ?? 5000,
      echoTimeoutMs: opts.echoTimeoutMs ?? 10000,
      requestTimeoutMs: opts.requestTimeoutMs ?? 30000,
      handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 10000,
    };
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e: Error) => this.fail(new OpenFlowConnectionError(`socket error: ${e.message}`)));
    socket.on('close', () => this.fail(this.closedWith ?? new OpenFlowConnectionError('connection closed')));
  }

  /** Connects to a switch (unix socket path or TCP), negotiates OpenFlow 1.3 and reads FEATURES. */
  static async connect(target: ConnectTarget, opts: ConnectionOptions = {}): Promise<OpenFlowConnection> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = 'path' in target ? net.connect({ path: target.path }) : net.connect({ host: target.host, port: target.port });
      s.once('connect', () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', reject);
    });
    return OpenFlowConnection.accept(socket, opts);
  }

  /** Runs the handshake on an already connected socket (e.g. a switch that connected to us). */
  static async accept(socket: Duplex, opts: ConnectionOptions = {}): Promise<OpenFlowConnection> {
    const conn = new OpenFlowConnection(socket, opts);
    try {
      await conn.handshake();
    } catch (e) {
      conn.close();
      throw e;
    }
    return conn;
  }

  /** The switch's FEATURES_REPLY (datapath id, number of tables). */
  get features(): MessageOf<'featuresReply'> {
    if (!this.featuresReply) throw new Error('handshake not finished');
    return this.featuresReply;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private async handshake(): Promise<void> {
    const hello = new Promise<MessageOf<'hello'>>((resolve, reject) => {
      const onClose = (e: Error | undefined) => {
        clearTimeout(t);
        reject(e ?? new OpenFlowConnectionError('closed during handshake'));
      };
      const t = setTimeout(() => {
        this.off('close', onClose);
        reject(new OpenFlowConnectionError('no HELLO from the switch'));
      }, this.opts.handshakeTimeoutMs);
      this.peerHello = (m) => {
        clearTimeout(t);
        this.off('close', onClose);
        resolve(m);
      };
      this.once('close', onClose);
    });
    this.send({ type: 'hello', version: OFP_VERSION_1_3, versions: [OFP_VERSION_1_3] });
    const peer = await hello;
    const ok = peer.versions ? peer.versions.includes(OFP_VERSION_1_3) : peer.version >= OFP_VERSION_1_3;
    if (!ok) {
      const text = Buffer.from('we support OpenFlow 1.3 only');
      this.send({ type: 'error', errType: 0, code: 0, data: text });
      throw new OpenFlowConnectionError(`version negotiation failed: peer offers ${peer.versions?.join(',') ?? peer.version}`);
    }
    this.featuresReply = await this.request({ type: 'featuresRequest' }, 'featuresReply', 'features', this.opts.handshakeTimeoutMs);
    if (this.opts.echoIntervalMs > 0) {
      this.keepalive = setInterval(() => this.tickKeepalive(), Math.max(10, Math.floor(this.opts.echoIntervalMs / 2)));
      this.keepalive.unref();
    }
  }

  private tickKeepalive(): void {
    if (this.closed || this.probing || Date.now() - this.lastRx < this.opts.echoIntervalMs) return;
    this.probing = true;
    this.echo(Buffer.from('weft-keepalive'), this.opts.echoTimeoutMs).then(
      () => {
        this.probing = false;
      },
      (e: Error) => {
        this.probing = false;
        if (!this.closed) this.close(new OpenFlowConnectionError(`echo keepalive failed: ${e.message}`));
      },
    );
  }

  nextXid(): number {
    this.xidCounter = (this.xidCounter + 1) >>> 0 || 1;
    return this.xidCounter;
  }

  /** Sends a message without tracking it; returns its xid. */
  send(m: OfMessageInit): number {
    if (this.closed) throw this.closedWith ?? new OpenFlowConnectionError('connection closed');
    const xid = m.xid ?? this.nextXid();
    this.socket.write(encodeMessage({ ...m, xid } as OfMessage));
    return xid;
  }

  /**
   * Writes messages that are already encoded (their xids taken from nextXid()), untracked: an
   * ERROR for one of them goes to the error taps. Used for large batches (batch.ts), where one
   * write of many messages is much cheaper than one write and one promise per message.
   */
  sendEncoded(data: Buffer): void {
    if (this.closed) throw this.closedWith ?? new OpenFlowConnectionError('connection closed');
    this.socket.write(data);
  }

  /**
   * Registers an outstanding request. Throws (synchronously) on a closed connection: `fail()` has
   * already rejected and cleared the table, so an entry added now would never settle, and its timer
   * would later reject a promise nobody holds (an unhandled rejection, seconds after the real error).
   */
  private track(xid: number, p: Omit<Pending, 'seq' | 'resolve' | 'reject'>, timeoutMs?: number): Promise<OfMessage | undefined> {
    if (this.closed) throw this.closedWith ?? new OpenFlowConnectionError('connection closed');
    return new Promise((resolve, reject) => {
      const entry: Pending = { ...p, seq: ++this.seq, resolve, reject };
      if (timeoutMs !== undefined && timeoutMs > 0) {
        entry.timer = setTimeout(() => {
          this.pending.delete(xid);
          reject(new OpenFlowConnectionError(`${p.context ?? p.replyType ?? 'request'}: no reply in ${timeoutMs} ms (xid ${xid})`));
        }, timeoutMs);
      }
      this.pending.set(xid, entry);
    });
  }

  /** Sends a request and resolves with its reply of type `replyType`; an ERROR with its xid rejects. */
  async request<T extends OfMessageType>(m: OfMessageInit, replyType: T, context?: string, timeoutMs?: number): Promise<MessageOf<T>> {
    const xid = m.xid ?? this.nextXid();
    const p = this.track(xid, { kind: 'reply', replyType, context }, timeoutMs ?? this.opts.requestTimeoutMs);
    this.send({ ...m, xid } as OfMessageInit);
    return (await p) as MessageOf<T>;
  }

  /**
   * Sends a message that has no reply. The promise settles only at the next barrier() sent after it
   * (rejecting on an ERROR for its xid), so send the barrier before awaiting it.
   */
  sendChecked(m: OfMessageInit, context?: string): Promise<void> {
    let p: Promise<void>;
    try {
      const xid = m.xid ?? this.nextXid();
      const tracked = this.track(xid, { kind: 'noReply', context });
      this.send({ ...m, xid } as OfMessageInit);
      p = tracked.then(() => undefined);
    } catch (e) {
      p = Promise.reject(e as Error);
    }
    // Callers await a barrier first; when that barrier fails (connection closed, timeout) they throw
    // without looking at this promise, which the same failure rejects. Mark it handled so that is not
    // reported as an unhandled rejection; a caller that awaits it still sees the error.
    p.catch(() => undefined);
    return p;
  }

  /** BARRIER_REQUEST; resolves when every message sent before it has been processed. */
  async barrier(): Promise<void> {
    const xid = this.nextXid();
    const p = this.track(xid, { kind: 'barrier', context: 'barrier' }, this.opts.requestTimeoutMs);
    this.send({ type: 'barrierRequest', xid });
    await p;
  }

  /** ECHO_REQUEST round trip; resolves with the round-trip time in ms. */
  async echo(data: Buffer = Buffer.alloc(0), timeoutMs?: number): Promise<number> {
    const t0 = performance.now();
    this.stats.echoRequestsSent++;
    const reply = await this.request({ type: 'echoRequest', data }, 'echoReply', 'echo', timeoutMs);
    this.stats.echoRepliesReceived++;
    if (!reply.data.equals(data)) throw new OpenFlowConnectionError('echo reply payload differs');
    return performance.now() - t0;
  }

  /** Sends FLOW_MODs and a barrier; rejects with OpenFlowBatchError naming every failed one. */
  flowMods(fms: readonly FlowMod[]): Promise<void> {
    return sendFlowMods(this, fms);
  }

  /**
   * Applies `messages` atomically in one bundle: OPEN, ADD each, BARRIER; if any ADD got an ERROR
   * the bundle is DISCARDed and this rejects with every error; otherwise COMMIT (see batch.ts).
   */
  bundle(messages: readonly OfMessageInit[], flags: number = OFPBF.ATOMIC | OFPBF.ORDERED): Promise<void> {
    return runBundle(this, this.bundleCounter++, messages, flags);
  }

  /**
   * Sees every ERROR whose xid belongs to no outstanding request (for example an ADD of a bundle that
   * fails only at COMMIT). A tap returning true consumes the error. Returns the function that removes it.
   */
  tapErrors(tap: (e: OpenFlowError) => boolean): () => void {
    this.errorTaps.add(tap);
    return () => this.errorTaps.delete(tap);
  }

  /** Multipart flow-stats dump (all tables by default); follows REPLY_MORE. */
  async dumpFlows(filter: Partial<FlowStatsRequest> = {}): Promise<FlowStats[]> {
    const xid = this.nextXid();
    const p = this.track(xid, { kind: 'multipart', replyType: 'flowStatsReply', context: 'dump flows', parts: [] },
      this.opts.requestTimeoutMs);
    this.send({ type: 'flowStatsRequest', xid, flags: 0, request: makeFlowStatsRequest(filter) });
    const done = (await p) as MessageOf<'flowStatsReply'>;
    return [...done.flows];
  }

  /** SET_ASYNC so that this (service) connection receives PACKET_IN, PORT_STATUS and FLOW_REMOVED. */
  async enableAsync(): Promise<void> {
    const p = this.sendChecked({
      type: 'setAsync', packetInMask: [0x7, 0x0], portStatusMask: [0x7, 0x0], flowRemovedMask: [0xf, 0x0],
    }, 'set async');
    await this.barrier();
    await p;
  }

  /** PACKET_OUT of a raw frame, followed by a barrier; rejects if the switch refused it. */
  async packetOut(actions: readonly Action[], data: Buffer, inPort: number = OFPP.CONTROLLER): Promise<void> {
    const p = this.sendChecked({ type: 'packetOut', bufferId: OFP_NO_BUFFER, inPort, actions, data }, 'packet out');
    await this.barrier();
    await p;
  }

  /** Closes the connection; outstanding requests reject. */
  close(reason?: Error): void {
    if (this.closed) return;
    this.closedWith = reason ?? new OpenFlowConnectionError('connection closed by us');
    this.socket.destroy();
    this.fail(this.closedWith);
  }

  private fail(e: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closedWith ??= e;
    if (this.keepalive) clearInterval(this.keepalive);
    for (const [, p] of this.pending) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
    this.socket.destroy();
    this.emit('close', this.closedWith);
  }

  private onData(chunk: Buffer): void {
    let msgs: Buffer[];
    try {
      msgs = this.framer.push(chunk);
    } catch (e) {
      this.close(new OpenFlowConnectionError(`framing error: ${(e as Error).message}`));
      return;
    }
    this.lastRx = Date.now();
    for (const raw of msgs) {
      let m: OfMessage;
      try {
        m = decodeMessage(raw);
      } catch (e) {
        this.onUndecodable(raw, e as Error);
        continue;
      }
      this.dispatch(m);
    }
  }

  private onUndecodable(raw: Buffer, e: Error): void {
    const { xid } = decodeHeader(raw);
    const err = new OpenFlowConnectionError(`cannot decode message (xid ${xid}): ${e.message}`);
    const p = this.pending.get(xid);
    if (p) {
      this.settle(xid, p);
      p.reject(err);
    } else {
      this.emit('unsolicitedError', err);
    }
  }

  private settle(xid: number, p: Pending): void {
    if (p.timer) clearTimeout(p.timer);
    this.pending.delete(xid);
  }

  private dispatch(m: OfMessage): void {
    this.emit('message', m);
    switch (m.type) {
      case 'hello':
        this.peerHello?.(m);
        this.peerHello = undefined;
        return;
      case 'echoRequest':
        this.stats.echoRequestsAnswered++;
        if (!this.closed) this.send({ type: 'echoReply', xid: m.xid, data: m.data });
        return;
      case 'packetIn':
        this.emit('packetIn', m);
        return;
      case 'portStatus':
        this.emit('portStatus', m);
        return;
      case 'flowRemoved':
        this.emit('flowRemoved', m);
        return;
      case 'error':
        this.onError(m);
        return;
      default:
        break;
    }
    const p = this.pending.get(m.xid);
    if (!p) return;
    if (p.kind === 'barrier' && m.type === 'barrierReply') {
      this.settle(m.xid, p);
      for (const [xid, q] of this.pending) {
        if (q.kind === 'noReply' && q.seq < p.seq) {
          this.settle(xid, q);
          q.resolve(undefined);
        }
      }
      p.resolve(m);
    } else if (p.kind === 'multipart' && m.type === 'flowStatsReply') {
      p.parts!.push(...m.flows);
      if ((m.flags & OFPMPF_MORE) === 0) {
        this.settle(m.xid, p);
        p.resolve({ ...m, flows: p.parts! });
      }
    } else if (p.kind === 'reply' && m.type === p.replyType) {
      this.settle(m.xid, p);
      p.resolve(m);
    }
  }

  private onError(m: MessageOf<'error'>): void {
    const p = this.pending.get(m.xid);
    const err = new OpenFlowError({ ...m, context: p?.context });
    if (p) {
      this.settle(m.xid, p);
      p.reject(err);
      return;
    }
    for (const tap of this.errorTaps) if (tap(err)) return;
    this.emit('unsolicitedError', err);
  }
}
