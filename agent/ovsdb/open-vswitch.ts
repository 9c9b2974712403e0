// The Open_vSwitch root table: the configuration sequence numbers (next_cfg/cur_cfg) that tell when
// ovs-vswitchd has applied the database, and the host-wide external_ids.
import { asMap, asSet, mapToRecord, uuid as uuidAtom, type Datum } from './datum.ts';
import type { OvsdbConnection, TransactResult } from './connection.ts';
import { OvsdbError } from './errors.ts';
import { op, type Operation } from './ops.ts';

export const VSWITCH_DB = 'Open_vSwitch';

export interface OpenVswitchRow {
  uuid: string;
  nextCfg: number;
  curCfg: number;
  externalIds: Record<string, string>;
  ovsVersion: string | undefined;
  bridges: string[];
}

export interface WaitOptions {
  /** Give up (OvsdbError "timed out") after this long. Default 10 s. */
  timeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const rowUuid = (d: Datum | undefined): string => {
  const a = asSet(d)[0];
  if (!a || typeof a !== 'object' || !('uuid' in a)) throw new Error(`expected a uuid, got ${JSON.stringify(d)}`);
  return a.uuid;
};
export { rowUuid };

export async function getOpenVswitch(conn: OvsdbConnection): Promise<OpenVswitchRow> {
  const [r] = await conn.transact(VSWITCH_DB, [
    op.select('Open_vSwitch', [], ['_uuid', 'next_cfg', 'cur_cfg', 'external_ids', 'ovs_version', 'bridges']),
  ]);
  const row = r?.rows?.[0];
  if (!row) throw new OvsdbError({ error: 'not initialised', details: 'no Open_vSwitch row (run ovs-vsctl init)' });
  const ver = asSet(row.ovs_version)[0];
  return {
    uuid: rowUuid(row._uuid),
    nextCfg: Number(row.next_cfg),
    curCfg: Number(row.cur_cfg),
    externalIds: mapToRecord(row.external_ids),
    ovsVersion: typeof ver === 'string' ? ver : undefined,
    bridges: asSet(row.bridges).map((b) => rowUuid(b)),
  };
}

/** Operations that bump next_cfg and read it back (append them to a transaction, then waitForCurCfg). */
export function bumpNextCfgOps(): Operation[] {
  return [op.mutate('Open_vSwitch', [], [['next_cfg', '+=', 1]]), op.select('Open_vSwitch', [], ['next_cfg'])];
}

/** Waits until ovs-vswitchd reports cur_cfg >= target (it has applied the configuration). */
export async function waitForCurCfg(conn: OvsdbConnection, target: number, opts: WaitOptions = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    const [r] = await conn.transact(VSWITCH_DB, [op.select('Open_vSwitch', [], ['cur_cfg'])]);
    const cur = Number(r?.rows?.[0]?.cur_cfg ?? -1);
    if (cur >= target) return;
    if (Date.now() > deadline) {
      throw new OvsdbError({ error: 'timed out', details: `ovs-vswitchd did not reach cur_cfg ${target} (at ${cur}); is it running?` });
    }
    await sleep(10);
  }
}

/** Bumps next_cfg and waits for ovs-vswitchd to catch up (what ovs-vsctl does after a change). */
export async function waitForVswitchd(conn: OvsdbConnection, opts: WaitOptions = {}): Promise<number> {
  const res = await conn.transact(VSWITCH_DB, bumpNextCfgOps());
  const target = Number(res[1]?.rows?.[0]?.next_cfg);
  await waitForCurCfg(conn, target, opts);
  return target;
}

/**
 * Runs `ops` in one transaction. With `wait` (default true) next_cfg is bumped in the same
 * transaction and the call resolves once ovs-vswitchd has applied it. Returns the results of `ops`.
 */
export async function transactAndWait(
  conn: OvsdbConnection,
  ops: readonly Operation[],
  opts: WaitOptions & { wait?: boolean } = {},
): Promise<TransactResult[]> {
  const wait = opts.wait ?? true;
  const all = wait ? [...ops, ...bumpNextCfgOps()] : [...ops];
  const res = await conn.transact(VSWITCH_DB, all);
  if (wait) await waitForCurCfg(conn, Number(res[ops.length + 1]?.rows?.[0]?.next_cfg), opts);
  return res.slice(0, ops.length);
}

/** Sets (or, with undefined, removes) keys of Open_vSwitch external_ids; other keys are kept. */
export async function setOpenVswitchExternalIds(conn: OvsdbConnection, values: Record<string, string | undefined>): Promise<void> {
  const keys = Object.keys(values);
  if (!keys.length) return;
  const set = new Map(Object.entries(values).filter((e): e is [string, string] => e[1] !== undefined));
  await conn.transact(VSWITCH_DB, [
    op.mutate('Open_vSwitch', [], [
      ['external_ids', 'delete', keys],
      ['external_ids', 'insert', set],
    ]),
  ]);
}

/** Map mutations that make `current` hold exactly `desired` for the desired keys (others untouched); [] if nothing to do. */
export function mergeMapMutations(column: string, current: Datum | undefined, desired: Record<string, string>) {
  const cur = asMap(current);
  const changed = Object.entries(desired).filter(([k, v]) => cur.get(k) !== v);
  if (!changed.length) return [];
  return [
    [column, 'delete', changed.map(([k]) => k)] as const,
    [column, 'insert', new Map(changed)] as const,
  ];
}

export const uuidRef = uuidAtom;
