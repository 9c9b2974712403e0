// Watches Interface rows and reports which logical port (external_ids:iface-id) sits on which
// OpenFlow port. An interface is "bound" once it has an iface-id and a usable ofport; ofport -1
// (could not open the device) or the empty set (not assigned yet) counts as not bound.
import { EventEmitter } from 'node:events';
import { asOptional, mapToRecord, type Datum } from './datum.ts';
import type { OvsdbConnection } from './connection.ts';
import { OvsdbMonitor } from './monitor.ts';
import { VSWITCH_DB } from './open-vswitch.ts';
import type { ReplicaRow, RowChange } from './replica.ts';

export const WATCHED_INTERFACE_COLUMNS = ['name', 'ofport', 'external_ids', 'mac_in_use', 'error', 'type'];

export interface PortBinding {
  /** external_ids:iface-id: the logical port. */
  ifaceId: string;
  /** Interface uuid (two interfaces may claim one iface-id, e.g. during a migration). */
  interfaceUuid: string;
  name: string;
  ofport: number;
  type: string;
  /** external_ids:attached-mac, if set. */
  attachedMac: string | undefined;
  macInUse: string | undefined;
  externalIds: Record<string, string>;
}

/** State of an interface with an iface-id, bound or not (for diagnostics). */
export interface InterfaceState {
  ifaceId: string;
  interfaceUuid: string;
  name: string;
  /** undefined: not assigned yet; -1: OVS could not open the device. */
  ofport: number | undefined;
  error: string | undefined;
}

export interface InterfaceWatcherEvents {
  /** An iface-id became bound to an ofport. */
  added: [binding: PortBinding];
  /** A bound interface changed (ofport, iface-id, MACs, type or external_ids). `previous` is the old binding. */
  updated: [binding: PortBinding, previous: PortBinding];
  /** A binding went away: row deleted, iface-id removed, or ofport became -1/unset. */
  removed: [previous: PortBinding];
  /** The monitor's connection closed; the watcher is dead (start a new one to resync). */
  close: [error: Error | undefined];
}

function decode(uuid: string, row: ReplicaRow): { state: InterfaceState | undefined; binding: PortBinding | undefined } {
  const ids = mapToRecord(row.external_ids);
  const ifaceId = ids['iface-id'];
  if (!ifaceId) return { state: undefined, binding: undefined };
  const of = asOptional(row.ofport as Datum);
  const ofport = typeof of === 'number' ? of : undefined;
  const err = asOptional(row.error as Datum);
  const mac = asOptional(row.mac_in_use as Datum);
  const name = String(row.name);
  const state: InterfaceState = { ifaceId, interfaceUuid: uuid, name, ofport, error: typeof err === 'string' ? err : undefined };
  if (ofport === undefined || ofport <= 0) return { state, binding: undefined };
  return {
    state,
    binding: {
      ifaceId,
      interfaceUuid: uuid,
      name,
      ofport,
      type: String(row.type ?? ''),
      attachedMac: ids['attached-mac'],
      macInUse: typeof mac === 'string' ? mac : undefined,
      externalIds: ids,
    },
  };
}

const sameBinding = (a: PortBinding, b: PortBinding) =>
  a.ifaceId === b.ifaceId &&
  a.name === b.name &&
  a.ofport === b.ofport &&
  a.type === b.type &&
  a.attachedMac === b.attachedMac &&
  a.macInUse === b.macInUse &&
  JSON.stringify(a.externalIds) === JSON.stringify(b.externalIds);

export class InterfaceWatcher extends EventEmitter<InterfaceWatcherEvents> {
  private readonly bound = new Map<string, PortBinding>();
  private readonly states = new Map<string, InterfaceState>();
  private monitor: OvsdbMonitor | undefined;

  private constructor() {
    super();
  }

  /**
   * Starts watching. `init` runs before the monitor starts, so listeners it attaches also see the
   * bindings that already exist (as 'added'). They are always visible through bindings().
   */
  static async start(conn: OvsdbConnection, init?: (w: InterfaceWatcher) => void): Promise<InterfaceWatcher> {
    const w = new InterfaceWatcher();
    init?.(w);
    w.monitor = await OvsdbMonitor.start(conn, VSWITCH_DB, { Interface: { columns: WATCHED_INTERFACE_COLUMNS } }, (changes) =>
      w.onChanges(changes),
    );
    w.monitor.on('close', (e) => w.emit('close', e));
    return w;
  }

  /** Current bindings, keyed by Interface uuid. */
  bindings(): PortBinding[] {
    return [...this.bound.values()];
  }

  /** The binding of a logical port (the lowest ofport if several interfaces claim it). */
  lookup(ifaceId: string): PortBinding | undefined {
    let best: PortBinding | undefined;
    for (const b of this.bound.values()) if (b.ifaceId === ifaceId && (!best || b.ofport < best.ofport)) best = b;
    return best;
  }

  /** Interfaces that have an iface-id but no usable ofport yet (with OVS's error text, if any). */
  pending(): InterfaceState[] {
    return [...this.states.values()].filter((s) => !this.bound.has(s.interfaceUuid));
  }

  async stop(): Promise<void> {
    await this.monitor?.cancel();
  }

  private onChanges(changes: RowChange[]): void {
    for (const c of changes) {
      if (c.table !== 'Interface') continue;
      const prev = this.bound.get(c.uuid);
      const next = c.new ? decode(c.uuid, c.new) : { state: undefined, binding: undefined };
      if (next.state) this.states.set(c.uuid, next.state);
      else this.states.delete(c.uuid);
      if (next.binding) this.bound.set(c.uuid, next.binding);
      else this.bound.delete(c.uuid);
      if (prev && !next.binding) this.emit('removed', prev);
      else if (!prev && next.binding) this.emit('added', next.binding);
      else if (prev && next.binding && !sameBinding(prev, next.binding)) {
        if (prev.ifaceId !== next.binding.ifaceId) {
          // A different logical port now: report it as one going and one coming.
          this.emit('removed', prev);
          this.emit('added', next.binding);
        } else this.emit('updated', next.binding, prev);
      }
    }
  }
}

/** Convenience: start an InterfaceWatcher with listeners attached before the initial rows arrive. */
export function watchInterfaces(
  conn: OvsdbConnection,
  handlers: Partial<{ [K in keyof InterfaceWatcherEvents]: (...args: InterfaceWatcherEvents[K]) => void }> = {},
): Promise<InterfaceWatcher> {
  return InterfaceWatcher.start(conn, (w) => {
    for (const [ev, fn] of Object.entries(handlers)) if (fn) w.on(ev as keyof InterfaceWatcherEvents, fn as never);
  });
}
