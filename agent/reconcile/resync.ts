// The restart/reconnect protocol (DESIGN.md principle 7), on one connection:
//   1. replay: add every desired flow under the current generation, in bundles. An add replaces a
//      flow with the same table/priority/match in place (cookie and instructions, counters kept),
//      so a flow that was already there never goes missing, and traffic never stops;
//   2. dump every flow of the switch (all tables, all cookies);
//   3. delete_strict each flow that is not desired: another generation's (leftovers of an older
//      agent), or ours under a key nobody wants (objects deleted while we were away), each by its
//      exact cookie, so a flow the replay re-stamped can never be hit. Never a flush.
// The result is the new `installed`: the desired flows minus those the switch refused.
import type { OpenFlowConnection } from '../openflow/connection.ts';
import { nameTables, type Flow } from '../pipeline/flow.ts';
import { toOfctlText } from '../openflow/render.ts';
import { sendBundles, sendBundlesSkippingRejected, type BundleCounters } from './bundles.ts';
import type { RejectedFlow } from './errors.ts';
import {
  planLeftovers, planReplay, switchKey, type CookieJar, type InstalledFlow, type PlannedMod,
} from './plan.ts';
import type { ReconcileLogger } from './types.ts';

export interface ResyncHooks {
  /**
   * Called between the replay and the dump (tests look at the switch there: it must hold the old
   * flows and the new ones, never less). Awaited.
   */
  readonly afterReplay?: () => Promise<void> | void;
}

export interface ResyncContext extends ResyncHooks {
  readonly generation: number;
  readonly cookies: CookieJar;
  readonly maxBundle: number;
  readonly counters: BundleCounters;
  readonly log: ReconcileLogger;
}

export interface ResyncOutcome {
  readonly installed: Map<string, InstalledFlow>;
  readonly rejected: RejectedFlow[];
  readonly deleted: number;
  /** Flows the dump showed. */
  readonly dumped: number;
  readonly replayMs: number;
  /** The flow-stats dump alone (request to last reply decoded). */
  readonly dumpMs: number;
}

/** `desired` is keyed by flowKey (the reconciler's snapshot of its desired table). */
export async function resyncSwitch(
  conn: OpenFlowConnection, desired: ReadonlyMap<string, Flow>, ctx: ResyncContext,
): Promise<ResyncOutcome> {
  const t0 = performance.now();
  const planned = planReplay(desired, ctx.cookies);
  const installed = new Map<string, InstalledFlow>();
  const rejected = await sendBundlesSkippingRejected(conn, planned, ctx.maxBundle, ctx.counters, (part) => {
    for (const p of part) installed.set(p.key, p.after!);
  }, 'resync replay');
  const replayMs = performance.now() - t0;
  await ctx.afterReplay?.();

  const t1 = performance.now();
  const dumped = await conn.dumpFlows();
  const dumpMs = performance.now() - t1;
  const leftovers = planLeftovers(dumped, installed, ctx.generation, () => {
    const keys = new Set<string>();
    for (const p of planned) if (installed.has(p.key)) keys.add(switchKey(p.flow!));
    return keys;
  });
  // No flow key for a leftover (the rendered flow names it if the switch refused the delete).
  const deletes: PlannedMod[] = leftovers.map((l) => ({ key: '', mod: l.mod, after: null }));
  const ours = leftovers.filter((l) => l.why === 'not desired');
  if (ours.length > 0) {
    ctx.log.info({ count: ours.length, first: nameTables(toOfctlText(ours[0].stats)) },
      'deleting flows of this generation that are no longer desired');
  }
  await sendBundles(conn, deletes, ctx.maxBundle, ctx.counters, () => undefined, 'resync cleanup');
  return { installed, rejected, deleted: deletes.length, replayMs, dumpMs, dumped: dumped.length };
}
