// Bridge rows. ensureBridge() creates a bridge the way `ovs-vsctl add-br` does (with its local
// internal port of the same name) or brings an existing one to the requested settings; it never
// touches controllers (setting a primary controller flushes all flows) and is idempotent.
import { asSet, mapToRecord, namedUuid, recordToMap, uuid, type Datum } from './datum.ts';
import type { OvsdbConnection } from './connection.ts';
import { OvsdbError } from './errors.ts';
import { op, type Mutation, type Operation, type Row } from './ops.ts';
import { VSWITCH_DB, mergeMapMutations, rowUuid, transactAndWait, type WaitOptions } from './open-vswitch.ts';

export interface BridgeOptions extends WaitOptions {
  /** 'netdev' (userspace) or 'system' (kernel). */
  datapathType?: string;
  /** 'secure': no NORMAL fallback flows when no controller is connected. */
  failMode?: 'secure' | 'standalone';
  /** Allowed OpenFlow versions, e.g. ['OpenFlow13']. Set exactly when given. */
  protocols?: string[];
  /** Keys to set in other_config (e.g. hwaddr, datapath-id); other keys are kept. */
  otherConfig?: Record<string, string>;
  /** Keys to set in external_ids; other keys are kept. */
  externalIds?: Record<string, string>;
  /** Wait until ovs-vswitchd has applied a change (default true). */
  wait?: boolean;
}

export interface BridgeRow {
  uuid: string;
  name: string;
  datapathType: string;
  failMode: string | undefined;
  protocols: string[];
  otherConfig: Record<string, string>;
  externalIds: Record<string, string>;
  /** Port row uuids. */
  ports: string[];
}

export interface EnsureResult {
  uuid: string;
  /** False when the database already matched and nothing was written. */
  changed: boolean;
}

const BRIDGE_COLUMNS = ['_uuid', 'name', 'datapath_type', 'fail_mode', 'protocols', 'other_config', 'external_ids', 'ports'];

export function decodeBridge(row: Record<string, Datum>): BridgeRow {
  const fm = asSet(row.fail_mode)[0];
  return {
    uuid: rowUuid(row._uuid),
    name: String(row.name),
    datapathType: String(row.datapath_type ?? ''),
    failMode: typeof fm === 'string' ? fm : undefined,
    protocols: asSet(row.protocols).map(String),
    otherConfig: mapToRecord(row.other_config),
    externalIds: mapToRecord(row.external_ids),
    ports: asSet(row.ports).map((p) => rowUuid(p)),
  };
}

export async function getBridge(conn: OvsdbConnection, name: string): Promise<BridgeRow | undefined> {
  const [r] = await conn.transact(VSWITCH_DB, [op.select('Bridge', [['name', '==', name]], BRIDGE_COLUMNS)]);
  const row = r?.rows?.[0];
  return row ? decodeBridge(row) : undefined;
}

export async function listBridges(conn: OvsdbConnection): Promise<BridgeRow[]> {
  const [r] = await conn.transact(VSWITCH_DB, [op.select('Bridge', [], BRIDGE_COLUMNS)]);
  return (r?.rows ?? []).map(decodeBridge);
}

/** A `wait` guard failed or an index was violated at commit: someone else wrote the same row meanwhile. */
export function isLostRace(e: unknown): boolean {
  return e instanceof OvsdbError && ((e.op?.startsWith('wait ') ?? false) || e.error === 'constraint violation');
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && [...a].sort().join('\0') === [...b].sort().join('\0');

export async function ensureBridge(conn: OvsdbConnection, name: string, opts: BridgeOptions = {}): Promise<EnsureResult> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await ensureBridgeOnce(conn, name, opts);
    } catch (e) {
      // A concurrent writer beat us between the select and the transaction: look again.
      if (attempt < 3 && isLostRace(e)) continue;
      throw e;
    }
  }
}

async function ensureBridgeOnce(conn: OvsdbConnection, name: string, o: BridgeOptions): Promise<EnsureResult> {
  const existing = await getBridge(conn, name);
  if (!existing) {
    const row: Row = { name, ports: [namedUuid('port')] };
    if (o.datapathType !== undefined) row.datapath_type = o.datapathType;
    if (o.failMode !== undefined) row.fail_mode = [o.failMode];
    if (o.protocols !== undefined) row.protocols = o.protocols;
    if (o.otherConfig !== undefined) row.other_config = new Map(Object.entries(o.otherConfig));
    if (o.externalIds !== undefined) row.external_ids = new Map(Object.entries(o.externalIds));
    const ops: Operation[] = [
      op.wait('Bridge', [['name', '==', name]], ['name'], '==', []),
      op.insert('Interface', { name, type: 'internal' }, 'iface'),
      op.insert('Port', { name, interfaces: [namedUuid('iface')] }, 'port'),
      op.insert('Bridge', row, 'br'),
      op.mutate('Open_vSwitch', [], [['bridges', 'insert', [namedUuid('br')]]]),
      op.comment(`weft: ensure bridge ${name}`),
    ];
    const res = await transactAndWait(conn, ops, o);
    return { uuid: res[3]!.uuid!, changed: true };
  }
  const update: Row = {};
  if (o.datapathType !== undefined && existing.datapathType !== o.datapathType) update.datapath_type = o.datapathType;
  if (o.failMode !== undefined && existing.failMode !== o.failMode) update.fail_mode = [o.failMode];
  if (o.protocols !== undefined && !sameSet(existing.protocols, o.protocols)) update.protocols = o.protocols;
  const mutations: Mutation[] = [];
  if (o.otherConfig) mutations.push(...mergeMapMutations('other_config', recordToMap(existing.otherConfig), o.otherConfig));
  if (o.externalIds) mutations.push(...mergeMapMutations('external_ids', recordToMap(existing.externalIds), o.externalIds));
  if (!Object.keys(update).length && !mutations.length) return { uuid: existing.uuid, changed: false };
  const where = [['_uuid', '==', uuid(existing.uuid)]] as const;
  const ops: Operation[] = [];
  if (Object.keys(update).length) ops.push(op.update('Bridge', where, update));
  if (mutations.length) ops.push(op.mutate('Bridge', where, mutations));
  ops.push(op.comment(`weft: update bridge ${name}`));
  const res = await transactAndWait(conn, ops, o);
  if (res[0]?.count !== 1) throw new OvsdbError({ error: 'not found', details: `bridge ${name} vanished during update`, method: 'transact' });
  return { uuid: existing.uuid, changed: true };
}

/** Removes a bridge (and, by garbage collection, its ports). Returns false if it did not exist. */
export async function deleteBridge(conn: OvsdbConnection, name: string, opts: WaitOptions & { wait?: boolean } = {}): Promise<boolean> {
  const existing = await getBridge(conn, name);
  if (!existing) return false;
  await transactAndWait(
    conn,
    [op.mutate('Open_vSwitch', [], [['bridges', 'delete', [uuid(existing.uuid)]]]), op.comment(`weft: delete bridge ${name}`)],
    opts,
  );
  return true;
}
