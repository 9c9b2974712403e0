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
  type RouterState,
  type SnapshotMessage,
  type WelcomeMessage,
} from '../../schemas/agent/channel.ts';

// The agent's end of the controller channel: one WebSocket to CHANNEL_PATH with the agent token.
// It says hello, checks every controller message against the wire schemas, sends heartbeats at the
// interval the welcome names, reports applied revisions and port states, and reconnects forever
// (capped exponential backoff, 100 ms .. 5 s) after a cut, a refusal or a controller restart.
// Every (re)connection starts with a snapshot; a gap in the change revisions, an invalid message or
// a silent controller makes it reconnect, which gets a fresh snapshot.

export interface ChannelLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface ControllerChannelOptions {
  /** The controller's API, http://host:port (https:// gives wss://). */
  url: string;
  /** The agent token, sent as X-Auth-Token. */
  token: string;
  /** Connect to this unix socket instead of the URL's host and port (the URL still names the request). */
  socketPath?: string;
  hello: Omit<HelloMessage, 'type' | 'protocol'>;
  logger?: ChannelLogger;
  /** First reconnect delay (default 100 ms); doubles per failed attempt up to maxBackoffMs. */
  minBackoffMs?: number;
  /** Longest reconnect delay (default 5000 ms). */
  maxBackoffMs?: number;
  /** Largest controller message accepted, in bytes (default 1 GiB: snapshots of big models). */
  maxPayload?: number;
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
  /** The commit right after the last snapshot/changes revision. */
  changes: [ChangesMessage];
  /** A connection that had opened is gone; a reconnect is scheduled unless close() was called. */
  disconnected: [DisconnectInfo];
}

const quiet: ChannelLogger = { debug() {}, info() {}, warn() {} };

export class ControllerChannel extends EventEmitter<ControllerChannelEvents> {
  private readonly log: ChannelLogger;
  private readonly wsUrl: string;
  private readonly minBackoff: number;
  private readonly maxBackoff: number;
  private ws: WebSocket | undefined;
  private attempts = 0;
  private started = false;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private lastSeen = 0;
  private welcomed = false;
  private id: string | undefined;
  /** The revision of the last snapshot or changes message; undefined until the snapshot of this connection. */
  private lastRevision: number | undefined;

  constructor(private readonly options: ControllerChannelOptions) {
    super();
    this.log = options.logger ?? quiet;
    this.wsUrl = `${options.url.replace(/\/+$/, '').replace(/^http/, 'ws')}${CHANNEL_PATH}`;
    this.minBackoff = options.minBackoffMs ?? 100;
    this.maxBackoff = options.maxBackoffMs ?? 5000;
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
    return this.lastRevision;
  }

  /** Connect (and keep reconnecting until close()). Register event listeners first. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.connect();
  }

  /**
   * Report that everything up to `revision` took effect, with the local ports whose state
   * changed since the last report (all of them after a snapshot). False when not connected:
   * the report is lost, and the next connection starts with a snapshot to report on anyway.
   */
  /** Applied `revision`; port states changed since the last report, and router / floating IP states if any. */
  reportApplied(
    revision: number, ports: Record<string, PortState> = {},
    l3: { routers?: Record<string, RouterState>; floatingips?: Record<string, FloatingIpState> } = {},
  ): boolean {
    return this.send({ type: 'applied', revision, ports, ...l3 });
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
    this.lastRevision = undefined;
    const socketPath = this.options.socketPath;
    const ws = new WebSocket(this.wsUrl, {
      headers: { 'X-Auth-Token': this.options.token },
      maxPayload: this.options.maxPayload ?? 1024 * 1024 * 1024,
      handshakeTimeout: 10_000,
      perMessageDeflate: false,
      // ws ignores a socketPath option beside a ws:// URL; the connection itself it takes.
      ...(socketPath ? { createConnection: () => net.connect({ path: socketPath }) } : {}),
    });
    this.ws = ws;
    let opened = false;
    ws.on('upgrade', (res) => {
      // Any byte from the controller counts as a sign of life (a big snapshot takes a while).
      res.socket?.on('data', () => (this.lastSeen = Date.now()));
    });
    ws.on('open', () => {
      opened = true;
      this.lastSeen = Date.now();
      this.log.debug({ url: this.wsUrl }, 'controller channel open');
      this.send({ type: 'hello', protocol: PROTOCOL_VERSION, ...this.options.hello });
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
      (refused ? this.log.debug : this.log.warn).call(this.log, { err: err.message, url: this.wsUrl }, 'controller channel error');
    });
    ws.on('close', (code, reason) => {
      if (this.ws === ws) this.ws = undefined;
      this.stopHeartbeats();
      this.welcomed = false;
      if (opened) {
        const info = { code, reason: reason.toString() };
        this.log.info(info, 'controller channel closed');
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
    switch (msg.type) {
      case 'welcome':
        this.welcomed = true;
        this.attempts = 0;
        this.id = msg.agentId;
        this.startHeartbeats(msg.heartbeatInterval);
        this.emit('welcome', msg);
        return;
      case 'snapshot':
        this.lastRevision = msg.revision;
        this.emit('snapshot', msg as SnapshotMessage);
        return;
      case 'changes':
        if (this.lastRevision === undefined || msg.revision !== this.lastRevision + 1) {
          return this.drop(ws, `changes at revision ${msg.revision} after ${this.lastRevision ?? 'no snapshot'}`);
        }
        this.lastRevision = msg.revision;
        this.emit('changes', msg);
        return;
    }
  }

  /** Give up on this connection (the reconnect brings a fresh snapshot). */
  private drop(ws: WebSocket, reason: string): void {
    this.log.warn({ reason }, 'controller channel out of step; reconnecting');
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
      if (Date.now() - this.lastSeen > deadAfter) return this.drop(ws, `no word from the controller for ${deadAfter} ms`);
      this.send({ type: 'heartbeat' });
      ws.ping();
    }, every);
  }

  private stopHeartbeats(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const base = Math.min(this.maxBackoff, this.minBackoff * 2 ** Math.min(this.attempts, 30));
    const delay = Math.round(base * (0.8 + Math.random() * 0.2));
    this.attempts++;
    this.log.debug({ delay, attempt: this.attempts }, 'reconnecting to the controller');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
  }
}
