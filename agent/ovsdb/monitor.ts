// monitor_cond with a local replica. Notifications that arrive before the reply has been applied
// are queued, so the replica always sees "initial" first and then the updates in order.
import { EventEmitter } from 'node:events';
import { encodeDatum } from './datum.ts';
import type { MonitorCondRequest, OvsdbConnection, TableUpdates2 } from './connection.ts';
import type { Condition } from './ops.ts';
import { Replica, type RowChange } from './replica.ts';

export interface MonitorTableSpec {
  /** Columns to monitor (default: all). */
  columns?: string[];
  /** Rows to monitor (default: all). */
  where?: readonly Condition[];
  select?: MonitorCondRequest['select'];
}

export interface OvsdbMonitorEvents {
  /** Every batch of changes, the initial rows included (kind 'insert', initial true). */
  change: [changes: RowChange[]];
  /** The connection closed; the monitor is dead (start a new one on a new connection). */
  close: [error: Error | undefined];
}

let monitorSeq = 0;

export class OvsdbMonitor extends EventEmitter<OvsdbMonitorEvents> {
  private cancelled = false;
  private constructor(
    readonly conn: OvsdbConnection,
    readonly db: string,
    readonly id: string,
    readonly replica: Replica,
    private readonly detach: () => void,
  ) {
    super();
  }

  /**
   * Starts a monitor_cond on `db`. `onChange`, when given, is registered before the initial rows are
   * applied, so it sees them too.
   */
  static async start(
    conn: OvsdbConnection,
    db: string,
    tables: Record<string, MonitorTableSpec>,
    onChange?: (changes: RowChange[]) => void,
  ): Promise<OvsdbMonitor> {
    const schema = await conn.getSchema(db);
    const id = `weft-mon-${++monitorSeq}`;
    const replica = new Replica(schema, Object.fromEntries(Object.entries(tables).map(([t, s]) => [t, s.columns])));
    const requests: Record<string, MonitorCondRequest> = {};
    for (const [t, s] of Object.entries(tables)) {
      const r: MonitorCondRequest = {};
      if (s.columns) r.columns = s.columns;
      if (s.where) r.where = s.where.map(([c, f, v]) => [c, f, encodeDatum(v)]);
      if (s.select) r.select = s.select;
      requests[t] = r;
    }
    let queue: TableUpdates2[] | undefined = [];
    let monitor: OvsdbMonitor | undefined;
    const onUpdate = (mid: unknown, updates: TableUpdates2) => {
      if (mid !== id) return;
      if (queue) queue.push(updates);
      else monitor!.applyUpdates(updates);
    };
    const onClose = (e: Error | undefined) => monitor?.emit('close', e);
    conn.on('update2', onUpdate);
    conn.on('close', onClose);
    const detach = () => {
      conn.off('update2', onUpdate);
      conn.off('close', onClose);
    };
    let initial: TableUpdates2;
    try {
      initial = await conn.monitorCondRaw(db, id, requests);
    } catch (e) {
      detach();
      throw e;
    }
    monitor = new OvsdbMonitor(conn, db, id, replica, detach);
    if (onChange) monitor.on('change', onChange);
    monitor.applyUpdates(initial);
    const pending = queue;
    queue = undefined;
    for (const u of pending) monitor.applyUpdates(u);
    return monitor;
  }

  private applyUpdates(u: TableUpdates2): void {
    if (this.cancelled) return;
    const changes = this.replica.apply(u);
    if (changes.length) this.emit('change', changes);
  }

  /** monitor_cancel (when the connection is still open) and stop listening. */
  async cancel(): Promise<void> {
    if (this.cancelled) return;
    this.cancelled = true;
    this.detach();
    if (!this.conn.closed) await this.conn.monitorCancel(this.id).catch(() => undefined);
  }
}
