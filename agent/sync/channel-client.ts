import { EventEmitter } from 'node:events';
import net from 'node:net';
import WebSocket from 'ws';
import {
  CHANNEL_PATH,
  PROTOCOL_VERSION,
  controllerMessage,
  type ChangesMessage,
  type HelloMessage,
  type FloatingIpState,
  type PortState,
  type LostHostsMessage,
  type RevisionMessage,
  type RouterState,
  type SnapshotMessage,
  type UnderlayReach,
  type WelcomeMessage,
} from '../../schemas/agent/channel.ts';
import { HeldView } from './held-view.ts';

// The agent's end of the controller channel: one WebSocket to CHANNEL_PATH with the host's credential.
// It says hello, checks every controller message against the wire schemas, sends heartbeats at the
// interval the welcome names, reports applied revisions and port states, and reconnects forever.
//
// Several controller replicas (sharing one store) may be named: it speaks to one at a time, and
// when a connection dies or a connect fails it moves to the next; while some of the list is
// untried since the last good connection it retries after minBackoffMs, and only after a whole
// round fails does the delay grow (exponentially, up to maxBackoffMs). See reconnectDelay.
//
// It remembers what it took in (HeldView: the revision of the last message and the ids held of
// each kind) across connections, and every hello offers it, so that a reconnect, to the same
// replica or another, gets only what changed (or a snapshot when the controller cannot tell). Each
// changes or revision message names the revision of the message before it (`since`); a message
// that does not follow the last one, an invalid message or a silent controller makes it reconnect;
// the first two also drop what it remembers, so that the reconnect brings a snapshot.

export interface ChannelLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface ControllerChannelOptions {
  /** The controller replicas' APIs, http://host:port (https:// gives wss://), tried in turn. */
  urls: readonly string[];
  /** The host's agent credential (or an admin token, for tools), sent as X-Auth-Token. */
  token: string;
  /** Connect to this unix socket instead of the URL's host and port (the URL still names the request); one URL only. */
  socketPath?: string;
  hello: Omit<HelloMessage, 'type' | 'protocol'>;
  logger?: ChannelLogger;
  /** First reconnect delay (default 100 ms); doubles per failed attempt up to maxBackoffMs. */
  minBackoffMs?: number;
  /** Longest reconnect delay (default 5000 ms). */
  maxBackoffMs?: number;
  /** Largest controller message accepted, in bytes (default 1 GiB: snapshots of big models). */
  maxPayload?: number;
  /** Milliseconds for a connect and upgrade (default 10 s; 2 s with several URLs, so that a dead replica is passed quickly). */
  connectTimeoutMs?: number;
}

/**
 * Milliseconds before the next connect, after `failures` connections in a row ended without a
 * welcome (or died) and the URL moved on each time: the shortest delay while the round over the
 * `urls` URLs is not finished, then doubling per failed round, capped (jitter is added by the caller).
 */
export function reconnectDelay(failures: number, urls: number, minMs: number, maxMs: number): number {
  if (failures % urls !== 0) return minMs;
  const rounds = failures / urls;
  return Math.min(maxMs, minMs * 2 ** Math.min(rounds - 1, 30));
}

export interface DisconnectInfo {
  code: number;
  reason: string;
}

export interface ControllerChannelEvents {
  /** The socket is open and hello was sent. */
  connected: [];
  welcome: [WelcomeMessage];
  /** The whole view at a revision: replace the local model. */
  snapshot: [SnapshotMessage];
  /** What changed in the view since the last message (since = its revision): fold it in. */
  changes: [ChangesMessage];
  /** Nothing changed in the view up to this revision: the model is at this revision. */
  revision: [RevisionMessage];
  /** The controller moved the HA routers off these hosts (schemas/agent/channel.ts lostHostsMessage). */
  lostHosts: [LostHostsMessage];
  /** A heartbeat went to the controller (a `revision` message may answer it). */
  heartbeat: [];
  /** A connection that had opened is gone; a reconnect is scheduled unless close() was called. */
  disconnected: [DisconnectInfo];
}

const quiet: ChannelLogger = { debug() {}, info() {}, warn() {} };

export class ControllerChannel extends EventEmitter<ControllerChannelEvents> {
  private readonly log: ChannelLogger;
  private readonly wsUrls: readonly string[];
  private readonly minBackoff: number;
  private readonly maxBackoff: number;
  private readonly connectTimeout: number;
  private ws: WebSocket | undefined;
  /** Index in wsUrls of the replica to connect to next. */
  private current = 0;
  /** Connections in a row that ended without a welcome, or died (reset by a welcome). */
  private failures = 0;
  private started = false;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private lastSeen = 0;
  private welcomed = false;
  /** The controller of this connection takes `leaving` (its welcome said `handover`). */
  private handover = false;
  private id: string | undefined;
  /** What the agent took in, kept across connections (offered in hello to resume). */
  private readonly held = new HeldView();

  constructor(private readonly options: ControllerChannelOptions) {
    super();
    if (!options.urls.length) throw new Error('no controller URL');
    if (options.socketPath && options.urls.length > 1) throw new Error('a controller socket path goes with one controller URL');
    this.log = options.logger ?? quiet;
    this.wsUrls = options.urls.map((url) => `${url.replace(/\/+$/, '').replace(/^http/, 'ws')}${CHANNEL_PATH}`);
    this.minBackoff = options.minBackoffMs ?? 100;
    this.maxBackoff = options.maxBackoffMs ?? 5000;
    this.connectTimeout = options.connectTimeoutMs ?? (options.urls.length > 1 ? 2000 : 10_000);
  }

  /** The controller URL connected to, or tried next. */
  get url(): string {
    return this.options.urls[this.current];
  }

  /** The id the controller gave this agent (after the first welcome). */
  get agentId(): string | undefined {
    return this.id;
  }

  /** Welcomed on the current connection: reports are delivered. */
  get connected(): boolean {
    return this.welcomed && this.ws?.readyState === WebSocket.OPEN;
  }

  /** The revision the local model is at, as far as this channel delivered it. */
  get revision(): number | undefined {
    return this.held.revision;
  }

  /** Connect (and keep reconnecting until close()). Register event listeners first. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.connect();
  }

  /**
   * Report that everything up to `revision` took effect, with the local ports whose state changed
   * since the last report (all of them after a welcome), and router / floating IP states if any.
   * False when not connected: the report is lost, and the next connection starts with a snapshot or
   * resume to report on anyway.
   */
  reportApplied(
    revision: number, ports: Record<string, PortState> = {},
    l3: { routers?: Record<string, RouterState>; floatingips?: Record<string, FloatingIpState> } = {},
  ): boolean {
    return this.send({ type: 'applied', revision, ports, ...l3 });
  }

  /** Report BFD peers' reachability over the underlay (agent/underlay). False when not connected. */
  reportUnderlay(peers: Record<string, UnderlayReach | null>, full = false, isolated?: boolean): boolean {
    return this.send({ type: 'underlay', peers, ...(full ? { full } : {}), ...(isolated === undefined ? {} : { isolated }) });
  }

  /**
   * Tell the controller this agent is stopping cleanly, its HA routers silenced, so that it hands
   * them over at once. False when not connected, or when the controller does not take it.
   */
  sendLeaving(): boolean {
    return this.handover && this.send({ type: 'leaving' });
  }

  /** Disconnect for good; resolves once the socket is closed. No timers remain. */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.stopHeartbeats();
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((done) => {
      const cut = setTimeout(() => ws.terminate(), 1000);
      ws.once('close', () => {
        clearTimeout(cut);
        done();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'agent stopping');
    });
  }

  private connect(): void {
    if (this.stopped) return;
    this.welcomed = false;
    const socketPath = this.options.socketPath;
    const wsUrl = this.wsUrls[this.current];
    const ws = new WebSocket(wsUrl, {
      headers: { 'X-Auth-Token': this.options.token },
      maxPayload: this.options.maxPayload ?? 1024 * 1024 * 1024,
      handshakeTimeout: this.connectTimeout,
      perMessageDeflate: false,
      // ws ignores a socketPath option beside a ws:// URL; the connection itself it takes.
      ...(socketPath ? { createConnection: () => net.connect({ path: socketPath }) } : {}),
    });
    this.ws = ws;
    let opened = false;
    ws.on('unexpected-response', (_req, res) => {
      // Refused before the upgrade (an unknown or revoked credential, a token that is not an
      // agent's): the answer is a NeutronError, and its message is what the operator needs.
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk.slice(0, 4096 - body.length)));
      res.on('end', () => {
        let message = body;
        try {
          message = (JSON.parse(body) as { NeutronError?: { message?: string } }).NeutronError?.message ?? body;
        } catch { /* not JSON: the text as it is */ }
        this.log.warn({ status: res.statusCode, url: wsUrl }, `the controller refused this agent: ${message}`);
        ws.terminate();
      });
      res.on('error', () => ws.terminate());
    });
    ws.on('upgrade', (res) => {
      // Any byte from the controller counts as a sign of life (a big snapshot takes a while).
      res.socket?.on('data', () => (this.lastSeen = Date.now()));
    });
    ws.on('open', () => {
      opened = true;
      this.lastSeen = Date.now();
      this.log.debug({ url: wsUrl }, 'controller channel open');
      const resume = this.id === undefined ? undefined : this.held.resumeState(this.id);
      this.send({ type: 'hello', protocol: PROTOCOL_VERSION, ...this.options.hello, ...(resume ? { resume } : {}) });
      this.emit('connected');
    });
    ws.on('message', (data, isBinary) => {
      if (this.ws !== ws) return;
      this.lastSeen = Date.now();
      const text = isBinary ? '' : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : data.toString();
      this.receive(ws, text);
    });
    ws.on('pong', () => (this.lastSeen = Date.now()));
    ws.on('error', (err) => {
      const refused = /ECONNREFUSED|ECONNRESET|socket hang up/.test(err.message);
      (refused ? this.log.debug : this.log.warn).call(this.log, { err: err.message, url: wsUrl }, 'controller channel error');
    });
    ws.on('close', (code, reason) => {
      if (this.ws === ws) this.ws = undefined;
      this.stopHeartbeats();
      this.welcomed = false;
      if (opened) {
        const info = { code, reason: reason.toString() };
        // 4003: the credential is for another host; 4004: it was revoked. Neither heals by itself.
        if (code === 4003 || code === 4004) this.log.warn({ ...info, url: wsUrl }, `the controller refused this agent: ${info.reason}`);
        else this.log.info({ ...info, url: wsUrl }, 'controller channel closed');
        this.emit('disconnected', info);
      }
      this.scheduleReconnect();
    });
  }

  private receive(ws: WebSocket, text: string): void {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return this.drop(ws, 'a controller message is not JSON');
    }
    const parsed = controllerMessage.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return this.drop(ws, `invalid controller message: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'unknown'}`);
    }
    const msg = parsed.data;
    if (msg.type !== 'welcome' && !this.welcomed) return this.drop(ws, `'${msg.type}' before the welcome`);
    switch (msg.type) {
      case 'welcome':
        this.welcomed = true;
        this.handover = msg.handover === true;
        this.failures = 0;
        // Another agent id (the record was deleted, or another store): what is held is no base to resume from.
        if (this.id !== undefined && this.id !== msg.agentId) this.held.forget();
        this.id = msg.agentId;
        this.startHeartbeats(msg.heartbeatInterval);
        this.emit('welcome', msg);
        return;
      case 'lostHosts':
        this.emit('lostHosts', msg);
        return;
      case 'snapshot':
        this.held.replace(msg);
        this.emit('snapshot', msg as SnapshotMessage);
        return;
      case 'changes':
      case 'revision':
        if (msg.since !== this.held.revision) {
          return this.drop(ws, `${msg.type} since revision ${msg.since} at ${this.held.revision ?? 'no snapshot'}`);
        }
        if (msg.type === 'changes') {
          this.held.fold(msg);
          this.emit('changes', msg);
        } else {
          this.held.advance(msg.revision);
          this.emit('revision', msg);
        }
        return;
    }
  }

  /** Give up on this connection and on what is held (the reconnect brings a fresh snapshot). */
  private drop(ws: WebSocket, reason: string): void {
    this.log.warn({ reason }, 'controller channel out of step; reconnecting');
    this.held.forget();
    ws.terminate();
  }

  private send(msg: object): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    if ((msg as { type: string }).type !== 'hello' && !this.welcomed) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  private startHeartbeats(intervalSeconds: number): void {
    this.stopHeartbeats();
    const every = Math.max(10, intervalSeconds * 1000);
    // A controller that says nothing (not even a pong) for this long is gone though TCP did not say so.
    const deadAfter = Math.max(4 * every, 5000);
    this.heartbeatTimer = setInterval(() => {
      const ws = this.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      if (Date.now() - this.lastSeen > deadAfter) {
        // Not out of step, only silent: what is held stays a base to resume from.
        this.log.warn({ url: this.url, silentMs: deadAfter }, 'no word from the controller; reconnecting');
        return void ws.terminate();
      }
      if (this.send({ type: 'heartbeat' })) this.emit('heartbeat');
      ws.ping();
    }, every);
  }

  private stopHeartbeats(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    this.failures++;
    this.current = (this.current + 1) % this.wsUrls.length;
    const base = reconnectDelay(this.failures, this.wsUrls.length, this.minBackoff, this.maxBackoff);
    const delay = Math.round(base * (0.8 + Math.random() * 0.2));
    this.log.debug({ delay, attempt: this.failures, url: this.url }, 'reconnecting to the controller');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
  }
}
