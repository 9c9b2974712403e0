// The pure half of the reconciler: change sets -> FLOW_MODs, coalescing, chunking, and which flows a
// flow-stats dump shows to be leftovers. Nothing here talks to a switch (test/unit/reconcile).
import type { FlowChanges } from '../features/engine.ts';
import { U64_MAX, makeFlowMod, type FlowMod, type FlowStats } from '../openflow/flowmod.ts';
import { decodeMatch, encodeMatch } from '../openflow/match.ts';
import { generationOf, makeCookie } from '../pipeline/fields.ts';
import { flowKey, instructionsOf, renderFlow, type Flow } from '../pipeline/flow.ts';
import { tableId, tableNameOf, type TableName } from '../pipeline/tables.ts';

/** What the reconciler knows is in the switch under one flow key. */
export interface InstalledFlow {
  readonly flow: Flow;
  readonly cookie: bigint;
}

/** One FLOW_MOD of a change set, with what `installed` holds for its key once it committed. */
export interface PlannedMod {
  /** The flow key; empty for the delete of a leftover found in a dump. */
  readonly key: string;
  readonly mod: FlowMod;
  /** The flow the mod is about: the new flow for an add, the installed one for a delete; none for a leftover. */
  readonly flow?: Flow;
  /** The entry for `key` after the commit; null when the key is deleted. */
  readonly after: InstalledFlow | null;
}

/** Cookies of one generation, memoised per (feature, object): makeCookie hashes the object name. */
export class CookieJar {
  private readonly cache = new Map<string, bigint>();

  constructor(readonly generation: number) {
    if (!Number.isInteger(generation) || generation < 0 || generation > 0xffff) {
      throw new Error(`generation must be a 16-bit integer, got ${generation}`);
    }
  }

  cookieOf(f: Flow): bigint {
    const k = `${f.feature}|${f.object}`;
    let c = this.cache.get(k);
    if (c === undefined) {
      if (this.cache.size >= 1 << 18) this.cache.clear();
      c = makeCookie(f.feature, this.generation, f.object);
      this.cache.set(k, c);
    }
    return c;
  }
}

/** An OpenFlow add: installs the flow, or replaces one with the same table/priority/match in place. */
export function addMod(f: Flow, cookie: bigint): FlowMod {
  return makeFlowMod({
    command: 'add', cookie, tableId: tableId(f.table), priority: f.priority, match: f.match, instructions: instructionsOf(f),
  });
}

/**
 * delete_strict of exactly one flow identity. With a cookie mask of 0 the cookie does not matter;
 * with a full mask only a flow that still carries that cookie is deleted.
 */
export function deleteStrictMod(
  t: { tableId: number; priority: number; match: FlowMod['match'] }, cookie = 0n, cookieMask = 0n,
): FlowMod {
  return makeFlowMod({ command: 'deleteStrict', tableId: t.tableId, priority: t.priority, match: t.match, cookie, cookieMask });
}

/** Structural equality of plain flow data (objects, arrays, bigint, Buffers). */
export function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b)) return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameData(a[i], bb[i])) return false;
    return true;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  if (ak.length !== bk.length) return false;
  for (const k of ak) if (!sameData(ao[k], bo[k])) return false;
  return true;
}

/** Same flow in the switch: same identity, instructions and cookie (feature + object). */
export function sameFlow(a: Flow, b: Flow): boolean {
  if (a === b) return true;
  return a.table === b.table && a.priority === b.priority && a.feature === b.feature && a.object === b.object
    && a.goto === b.goto && sameData(a.actions, b.actions) && sameData(a.match, b.match);
}

/**
 * The FLOW_MODs that take the switch from `installed` to `installed` + `changes`: a new key or a
 * changed flow -> add (which replaces a flow with the same identity atomically, cookie included);
 * a removed key that is installed -> delete_strict; a flow equal to the installed one -> nothing.
 */
export function planChanges(
  installed: ReadonlyMap<string, InstalledFlow>, changes: FlowChanges, cookies: CookieJar,
): PlannedMod[] {
  const out: PlannedMod[] = [];
  for (const [key, f] of changes) {
    const have = installed.get(key);
    if (f === null) {
      if (!have) continue;
      out.push({ key, flow: have.flow, after: null, mod: deleteStrictMod(modIdentity(have.flow)) });
      continue;
    }
    const cookie = cookies.cookieOf(f);
    if (have && have.cookie === cookie && sameFlow(have.flow, f)) continue;
    out.push({ key, flow: f, after: { flow: f, cookie }, mod: addMod(f, cookie) });
  }
  return out;
}

/** Adds for every flow (a replay); duplicates of a key keep the last flow. A map is taken as keyed already. */
export function planReplay(desired: Iterable<Flow> | ReadonlyMap<string, Flow>, cookies: CookieJar): PlannedMod[] {
  let byKey: ReadonlyMap<string, Flow>;
  if (desired instanceof Map) {
    byKey = desired;
  } else {
    const m = new Map<string, Flow>();
    for (const f of desired as Iterable<Flow>) m.set(flowKey(f), f);
    byKey = m;
  }
  const out: PlannedMod[] = [];
  for (const [key, f] of byKey) {
    const cookie = cookies.cookieOf(f);
    out.push({ key, flow: f, after: { flow: f, cookie }, mod: addMod(f, cookie) });
  }
  return out;
}

const modIdentity = (f: Flow) => ({ tableId: tableId(f.table), priority: f.priority, match: f.match });

/** Splits into runs of at most `size`, in order. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (!(size >= 1)) throw new Error(`chunk size must be >= 1, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The flow key of a flow the switch reported (tables we do not own get their number as name). */
export function statsKey(s: Pick<FlowStats, 'tableId' | 'priority' | 'match'>): string {
  const table = (tableNameOf(s.tableId) ?? String(s.tableId)) as TableName;
  return flowKey({ table, priority: s.priority, match: s.match });
}

/** The key a flow would have after a trip through the switch (our encoder, our decoder). */
export function switchKey(f: Flow): string {
  return flowKey({ table: f.table, priority: f.priority, match: decodeMatch(encodeMatch(f.match), 0).match });
}

export interface Leftover {
  readonly stats: FlowStats;
  readonly mod: FlowMod;
  readonly why: 'old generation' | 'not desired';
}

/**
 * Flows of a dump that must go: another generation's (whatever their key: an add of ours replaced
 * every desired one), or ours under a key that is not desired. Each becomes a delete_strict of the
 * switch's own identity *with its exact cookie* (full mask), so a flow that an add of ours replaced
 * meanwhile can never be hit.
 *
 * `desired` holds what was just replayed (every one of them is in the switch under its cookie), so
 * when the dump shows exactly as many flows of our generation with cookie C as `desired` has, they
 * are those flows, and no key needs computing; only cookies with more flows are looked at flow by
 * flow. `desiredSwitchKeys` is consulted (lazily) before deleting a flow of our generation: if its
 * key only differs by how a match prints after the trip through the switch, it is desired and kept.
 */
export function planLeftovers(
  dumped: readonly FlowStats[], desired: ReadonlyMap<string, InstalledFlow>, generation: number,
  desiredSwitchKeys?: () => ReadonlySet<string>,
): Leftover[] {
  const want = new Map<bigint, number>();
  for (const d of desired.values()) want.set(d.cookie, (want.get(d.cookie) ?? 0) + 1);
  const ours = new Map<bigint, FlowStats[]>();
  const out: Leftover[] = [];
  const remove = (s: FlowStats, why: Leftover['why']) => out.push({
    stats: s, why, mod: deleteStrictMod({ tableId: s.tableId, priority: s.priority, match: s.match }, s.cookie, U64_MAX),
  });
  for (const s of dumped) {
    if (generationOf(s.cookie) !== generation) {
      remove(s, 'old generation');
      continue;
    }
    let group = ours.get(s.cookie);
    if (!group) ours.set(s.cookie, (group = []));
    group.push(s);
  }
  let switchKeys: ReadonlySet<string> | undefined;
  for (const [cookie, group] of ours) {
    if (group.length === want.get(cookie)) continue;
    for (const s of group) {
      const key = statsKey(s);
      if (desired.has(key)) continue;
      if (desiredSwitchKeys) {
        switchKeys ??= desiredSwitchKeys();
        if (switchKeys.has(key)) continue;
      }
      remove(s, 'not desired');
    }
  }
  return out;
}

/** A flow as the logs show it: ovs-ofctl text with table names, plus who made it. */
export function describeFlow(f: Flow): string {
  // renderFlow means to drop the cookie but only manages when feature and object bits are zero.
  return `${renderFlow(f).replace(/^cookie=0x[0-9a-f]+, /, '')} [${f.feature} ${f.object}]`;
}
