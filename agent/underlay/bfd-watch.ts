// Follows the BFD sessions of br-int's BFD ports (bfd-ports.ts) with an OVSDB monitor on their
// Interface rows' bfd_status: calls `onReach` only when a peer's state changes (up/down), and
// `onGone` when a peer's port goes away. ovs-vswitchd writes bfd_status at once on a state change.
import type { OvsdbConnection } from '../ovsdb/connection.ts';
import { mapToRecord } from '../ovsdb/datum.ts';
import { OvsdbMonitor } from '../ovsdb/monitor.ts';
import { VSWITCH_DB } from '../ovsdb/open-vswitch.ts';
import type { RowChange } from '../ovsdb/replica.ts';
import { ROLE_KEY } from '../host/bridges.ts';
import { BFD_PEER_HOST_KEY, BFD_ROLE, bfdReach } from './bfd-plan.ts';

export interface BfdWatchHandlers {
  onReach(host: string, reach: 'up' | 'down'): void;
  onGone(host: string): void;
  onClose?(err: Error | undefined): void;
}

export class BfdWatch {
  /** Interface uuid -> peer host and its last state. */
  private readonly rows = new Map<string, { host: string; reach: 'up' | 'down' | undefined }>();
  private monitor: OvsdbMonitor | undefined;

  private constructor(private readonly h: BfdWatchHandlers) {}

  static async start(conn: OvsdbConnection, h: BfdWatchHandlers): Promise<BfdWatch> {
    const w = new BfdWatch(h);
    w.monitor = await OvsdbMonitor.start(conn, VSWITCH_DB, {
      Interface: { columns: ['name', 'external_ids', 'bfd_status'], where: [['external_ids', 'includes', new Map([[ROLE_KEY, BFD_ROLE]])]] },
    }, (changes) => w.onChanges(changes));
    w.monitor.on('close', (e) => h.onClose?.(e));
    return w;
  }

  private onChanges(changes: RowChange[]): void {
    for (const c of changes) {
      if (c.table !== 'Interface') continue;
      const prev = this.rows.get(c.uuid);
      if (!c.new) {
        this.rows.delete(c.uuid);
        if (prev) this.h.onGone(prev.host);
        continue;
      }
      const host = mapToRecord(c.new.external_ids)[BFD_PEER_HOST_KEY];
      if (!host) continue;
      const reach = bfdReach(mapToRecord(c.new.bfd_status));
      this.rows.set(c.uuid, { host, reach });
      if (prev && prev.host !== host) this.h.onGone(prev.host);
      if (reach && (reach !== prev?.reach || prev.host !== host)) this.h.onReach(host, reach);
    }
  }

  async stop(): Promise<void> {
    await this.monitor?.cancel();
  }
}
