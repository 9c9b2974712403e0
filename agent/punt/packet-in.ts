// The agent's packet-in path: its own OpenFlow connection to br-int (beside the reconciler's),
// with packet-ins enabled, handing each punted frame to a handler and sending back what it
// answers out of the port the frame came from. Used for DHCP; reconnects by itself.
import { OpenFlowConnection } from '../openflow/connection.ts';

export interface PuntLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface PacketInOptions {
  /** br-int's management socket. */
  path: string;
  /** The reply frame for a frame punted from `inPort`, or undefined to drop it. */
  handle(inPort: number, frame: Buffer): Buffer | undefined;
  log: PuntLogger;
}

export class PacketInService {
  private conn: OpenFlowConnection | undefined;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private backoffMs = 100;
  answered = 0;

  constructor(private readonly opts: PacketInOptions) {}

  start(): void {
    void this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.conn?.close();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    try {
      const conn = await OpenFlowConnection.connect({ path: this.opts.path });
      if (this.closed) return conn.close();
      this.conn = conn;
      conn.on('packetIn', (m) => this.onPacketIn(conn, m.match.inPort, m.data));
      conn.on('close', () => this.retry());
      await conn.enableAsync();
      this.backoffMs = 100;
    } catch (e) {
      this.opts.log.debug({ err: e }, 'packet-in connection failed; retrying');
      this.retry();
    }
  }

  private retry(): void {
    if (this.closed || this.timer) return;
    this.conn = undefined;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, this.backoffMs);
    this.backoffMs = Math.min(2000, this.backoffMs * 2);
  }

  private onPacketIn(conn: OpenFlowConnection, inPort: number | undefined, frame: Buffer): void {
    if (inPort === undefined) return;
    let reply: Buffer | undefined;
    try {
      reply = this.opts.handle(inPort, frame);
    } catch (e) {
      this.opts.log.warn({ err: e, inPort }, 'punted packet handler failed');
      return;
    }
    if (!reply) return;
    conn.packetOut([{ type: 'output', port: inPort }], reply).then(
      () => void this.answered++,
      (e) => this.opts.log.warn({ err: e, inPort }, 'packet-out refused'),
    );
  }
}
