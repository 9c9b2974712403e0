// The reconciler's connection to the switch: opened on demand, reopened with exponential backoff
// after a failure, and watched, so the owner learns when it is lost (and must resync).
import type { OpenFlowConnection } from '../openflow/connection.ts';
import type { ReconcileLogger } from './types.ts';

export interface SwitchLinkOptions {
  readonly connect: () => Promise<OpenFlowConnection>;
  /** [first, max] ms between connection attempts. */
  readonly delayMs: readonly [number, number];
  readonly log: ReconcileLogger;
  /** A connection is up; `again` when it is not the first one. */
  readonly onConnected: (again: boolean) => void;
  /** The current connection closed (by the switch, the network, or close()). */
  readonly onLost: (e: Error | undefined) => void;
}

export class SwitchLink {
  private conn: OpenFlowConnection | undefined;
  private everConnected = false;
  private closed = false;
  private readonly sleepers = new Set<() => void>();
  connects = 0;

  constructor(private readonly opts: SwitchLinkOptions) {}

  get isUp(): boolean {
    return this.conn !== undefined && !this.conn.isClosed;
  }

  /** The open connection, connecting (and retrying with backoff) if needed; undefined once closed. */
  async get(): Promise<OpenFlowConnection | undefined> {
    if (this.conn && !this.conn.isClosed) return this.conn;
    const [first, max] = this.opts.delayMs;
    let delay = first;
    for (let attempt = 1; !this.closed; attempt++) {
      try {
        const c = await this.opts.connect();
        if (this.closed) {
          c.close();
          return undefined;
        }
        this.attach(c);
        return c;
      } catch (e) {
        const fields = { err: (e as Error).message, attempt, retryInMs: delay };
        if (attempt === 1) this.opts.log.warn(fields, 'cannot connect to the switch; retrying');
        else this.opts.log.debug(fields, 'cannot connect to the switch; retrying');
        await this.sleep(delay);
        delay = Math.min(delay * 2, max);
      }
    }
    return undefined;
  }

  /** Stops connecting and closes the connection (without calling onLost). */
  close(): void {
    this.closed = true;
    for (const wake of [...this.sleepers]) wake();
    const c = this.conn;
    this.conn = undefined;
    c?.close();
  }

  private attach(c: OpenFlowConnection): void {
    this.conn = c;
    this.connects++;
    c.on('close', (e) => {
      if (this.conn !== c) return;
      this.conn = undefined;
      if (!this.closed) this.opts.onLost(e);
    });
    c.on('unsolicitedError', (e) => this.opts.log.warn({ err: e.message }, 'unsolicited OpenFlow error'));
    const again = this.everConnected;
    this.everConnected = true;
    this.opts.onConnected(again);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.sleepers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }
}
