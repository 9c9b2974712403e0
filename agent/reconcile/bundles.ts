// Planned FLOW_MODs to the switch in ONF bundles of a bounded size, in order. runBundle checks every
// BUNDLE_ADD with a barrier before COMMIT and DISCARDs on error (ENVIRONMENT.md §2.3, pitfall 7),
// so a bundle is all or nothing; `onCommitted` runs after each commit, so a caller updates what it
// knows is installed only for bundles that really committed.
import type { OfMessageInit, OpenFlowConnection } from '../openflow/connection.ts';
import { OpenFlowBatchError } from '../openflow/errors.ts';
import { chunk, type PlannedMod } from './plan.ts';
import { FlowRejectedError, rejectedFlow, type RejectedFlow } from './errors.ts';

export interface BundleCounters {
  bundlesSent: number;
  flowModsSent: number;
}

const asMessages = (mods: readonly PlannedMod[]): OfMessageInit[] => mods.map((p) => ({ type: 'flowMod', ...p.mod }));

/**
 * The messages a bundle error names as refused by the switch or impossible to encode (a compiler
 * bug as well), by index; undefined when it names none (a connection loss, a timeout, a commit that
 * failed as a whole).
 */
function refusedOf(e: unknown, mods: readonly PlannedMod[]): { index: number; flow: RejectedFlow }[] | undefined {
  if (!(e instanceof OpenFlowBatchError)) return undefined;
  const named = [
    ...e.failures.map((f) => ({ index: f.index, error: f.error.errorName })),
    ...e.unencodable.map((f) => ({ index: f.index, error: `UNENCODABLE (${f.error.message})` })),
  ];
  const out = named.filter((n) => mods[n.index] !== undefined)
    .map((n) => ({ index: n.index, flow: rejectedFlow(mods[n.index], n.error) }));
  return out.length > 0 ? out : undefined;
}

/**
 * All or nothing per bundle: a rejected flow fails the call with FlowRejectedError (that bundle was
 * discarded, earlier bundles stay committed). Other errors (connection, timeout) are rethrown.
 */
export async function sendBundles(
  conn: OpenFlowConnection, mods: readonly PlannedMod[], maxBundle: number, counters: BundleCounters,
  onCommitted: (committed: readonly PlannedMod[]) => void, what: string,
): Promise<void> {
  for (const part of chunk(mods, maxBundle)) {
    try {
      counters.bundlesSent++;
      counters.flowModsSent += part.length;
      await conn.bundle(asMessages(part));
    } catch (e) {
      const refused = refusedOf(e, part);
      if (refused) throw new FlowRejectedError(refused.map((r) => r.flow), what, e);
      throw e;
    }
    onCommitted(part);
  }
}

/**
 * Like sendBundles, but a bundle with rejected flows is sent again without them (a few times at
 * most), so that one bad flow does not keep every other flow out of the switch. Returns the flows
 * left out.
 */
export async function sendBundlesSkippingRejected(
  conn: OpenFlowConnection, mods: readonly PlannedMod[], maxBundle: number, counters: BundleCounters,
  onCommitted: (committed: readonly PlannedMod[]) => void, what: string, attempts = 4,
): Promise<RejectedFlow[]> {
  const skipped: RejectedFlow[] = [];
  for (let part of chunk(mods, maxBundle)) {
    for (let attempt = 1; ; attempt++) {
      if (part.length === 0) break;
      try {
        counters.bundlesSent++;
        counters.flowModsSent += part.length;
        await conn.bundle(asMessages(part));
        onCommitted(part);
        break;
      } catch (e) {
        const refused = refusedOf(e, part);
        if (!refused) throw e;
        if (attempt >= attempts) throw new FlowRejectedError([...skipped, ...refused.map((r) => r.flow)], what, e);
        skipped.push(...refused.map((r) => r.flow));
        const bad = new Set(refused.map((r) => r.index));
        part = part.filter((_, i) => !bad.has(i));
      }
    }
  }
  return skipped;
}
