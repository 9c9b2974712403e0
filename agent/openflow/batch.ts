// Batches over one connection: FLOW_MODs checked by a barrier, and ONF bundles (OpenFlow 1.3).
//
// OVS validates a bundled message at BUNDLE_ADD time and answers an invalid one with an ERROR
// carrying the ADD's xid, but a later COMMIT would still succeed with the remaining messages
// (ENVIRONMENT.md §2.3). So: OPEN, ADD all, BARRIER, and DISCARD if any ADD failed. Errors found at
// COMMIT time (e.g. an overlap) abort the whole bundle on the switch; they arrive with the ADD's xid,
// followed by an ERROR for the COMMIT, and are reported together.
import type { OfMessageInit, OpenFlowConnection } from './connection.ts';
import { OpenFlowBatchError, OpenFlowConnectionError, OpenFlowError } from './errors.ts';
import type { FlowMod } from './flowmod.ts';
import type { OfMessage } from './messages.ts';

export interface BatchFailure {
  readonly index: number;
  readonly error: OpenFlowError;
}

/** Waits for all; returns the OpenFlow errors by index (other errors are rethrown). */
export async function collectFailures(ps: readonly Promise<void>[]): Promise<BatchFailure[]> {
  const results = await Promise.allSettled(ps);
  const out: BatchFailure[] = [];
  results.forEach((r, index) => {
    if (r.status === 'rejected') {
      if (r.reason instanceof OpenFlowError) out.push({ index, error: r.reason });
      else throw r.reason;
    }
  });
  return out;
}

export async function sendFlowMods(conn: OpenFlowConnection, fms: readonly FlowMod[]): Promise<void> {
  const sent = fms.map((fm, i) => conn.sendChecked({ type: 'flowMod', ...fm }, `flowMod #${i}`));
  await conn.barrier();
  const failures = await collectFailures(sent);
  if (failures.length > 0) throw new OpenFlowBatchError(`${failures.length} of ${fms.length} flow mods failed`, failures);
}

export async function runBundle(
  conn: OpenFlowConnection, bundleId: number, messages: readonly OfMessageInit[], flags: number,
): Promise<void> {
  const ctl = async (ctrlType: 'openRequest' | 'commitRequest' | 'discardRequest') => {
    const reply = await conn.request({ type: 'bundleControl', bundleId, ctrlType, flags }, 'bundleControl',
      `bundle ${bundleId} ${ctrlType}`);
    const want = ctrlType.replace('Request', 'Reply');
    if (reply.ctrlType !== want || reply.bundleId !== bundleId) {
      throw new OpenFlowConnectionError(`bundle ${bundleId}: expected ${want}, got ${reply.ctrlType} for ${reply.bundleId}`);
    }
  };
  await ctl('openRequest');
  const addXids = new Map<number, number>();
  const lateFailures: BatchFailure[] = [];
  const untap = conn.tapErrors((e) => {
    const index = addXids.get(e.xid);
    if (index === undefined) return false;
    lateFailures.push({ index, error: e });
    return true;
  });
  try {
    const adds = messages.map((m, index) => {
      const xid = conn.nextXid();
      addXids.set(xid, index);
      const message = { ...m, xid } as OfMessage;
      return conn.sendChecked({ type: 'bundleAdd', xid, bundleId, flags, message }, `bundle ${bundleId} message #${index}`);
    });
    await conn.barrier();
    const failures = await collectFailures(adds);
    if (failures.length > 0) {
      await ctl('discardRequest').catch(() => undefined);
      throw new OpenFlowBatchError(
        `bundle ${bundleId} discarded, ${failures.length} of ${messages.length} messages rejected`, failures);
    }
    try {
      await ctl('commitRequest');
    } catch (e) {
      const why = e instanceof OpenFlowError ? e.errorName : (e as Error).message;
      throw new OpenFlowBatchError(`bundle ${bundleId} commit failed (${why})`, lateFailures, e);
    }
  } finally {
    untap();
  }
}
