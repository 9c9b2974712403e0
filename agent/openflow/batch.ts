// Batches over one connection: FLOW_MODs checked by a barrier, and ONF bundles (OpenFlow 1.3).
//
// OVS validates a bundled message at BUNDLE_ADD time and answers an invalid one with an ERROR
// carrying the ADD's xid, but a later COMMIT would still succeed with the remaining messages
// (ENVIRONMENT.md §2.3). So: OPEN, ADD all, BARRIER, and DISCARD if any ADD failed. Errors found at
// COMMIT time (e.g. an overlap) abort the whole bundle on the switch; they arrive with the ADD's xid,
// followed by an ERROR for the COMMIT, and are reported together. Bundles carry tens of thousands of
// messages, so their ADDs are written in large buffers by the single-pass encoder (fast-encode.ts)
// and their errors are matched by xid, without a promise per message.
import type { OfMessageInit, OpenFlowConnection } from './connection.ts';
import { OpenFlowBatchError, OpenFlowConnectionError, OpenFlowError } from './errors.ts';
import type { FlowMod } from './flowmod.ts';
import { MessageWriter } from './fast-encode.ts';
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

/** Bytes of encoded BUNDLE_ADDs written to the socket at a time. */
const WRITE_CHUNK = 256 * 1024;

/**
 * OPEN, every message as a BUNDLE_ADD, BARRIER, then COMMIT, or DISCARD if any ADD got an ERROR.
 *
 * The ADDs are not tracked one by one: they are encoded into large buffers (one socket write per
 * ~256 KiB, yielding to the event loop in between so that the socket drains while the next part is
 * encoded), and an ERROR for one of them, which carries its xid and belongs to no outstanding
 * request, reaches this bundle's error tap. OpenFlow processes messages in order, so every such
 * ERROR arrives before the BARRIER reply.
 */
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
  const failures: BatchFailure[] = [];
  const unencodable: { index: number; error: Error }[] = [];
  const untap = conn.tapErrors((e) => {
    const index = addXids.get(e.xid);
    if (index === undefined) return false;
    failures.push({ index, error: withContext(e, `bundle ${bundleId} message #${index}`) });
    return true;
  });
  try {
    const w = new MessageWriter(WRITE_CHUNK + 64 * 1024);
    for (let index = 0; index < messages.length; index++) {
      const xid = conn.nextXid();
      addXids.set(xid, index);
      const m = messages[index];
      try {
        if (m.type === 'flowMod') w.bundleAddFlowMod(xid, bundleId, flags, m);
        else w.message({ type: 'bundleAdd', xid, bundleId, flags, message: { ...m, xid } as OfMessage });
      } catch (e) {
        // The writer dropped the half-written message; the bundle will be discarded, but the other
        // messages still go, so that the switch names every one it refuses in this one pass.
        unencodable.push({ index, error: e as Error });
      }
      if (w.length >= WRITE_CHUNK) {
        conn.sendEncoded(w.take());
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    if (w.length > 0) conn.sendEncoded(w.take());
    await conn.barrier();
    if (failures.length > 0 || unencodable.length > 0) {
      const rejected = [...failures].sort((a, b) => a.index - b.index);
      await ctl('discardRequest').catch(() => undefined);
      throw new OpenFlowBatchError(
        `bundle ${bundleId} discarded, ${rejected.length + unencodable.length} of ${messages.length} messages rejected`,
        rejected, undefined, unencodable);
    }
    try {
      await ctl('commitRequest');
    } catch (e) {
      // Errors found at COMMIT time (e.g. an overlap) name their ADD by xid (collected by the tap),
      // followed by the ERROR for the COMMIT itself.
      const why = e instanceof OpenFlowError ? e.errorName : (e as Error).message;
      throw new OpenFlowBatchError(`bundle ${bundleId} commit failed (${why})`, [...failures].sort((a, b) => a.index - b.index), e);
    }
  } finally {
    untap();
  }
}

function withContext(e: OpenFlowError, context: string): OpenFlowError {
  return new OpenFlowError({
    errType: e.errType, code: e.code, experimenter: e.experimenter, xid: e.xid, data: e.data, context,
  });
}
