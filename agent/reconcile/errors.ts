// Errors the reconciler surfaces. A rejected flow names itself in ovs-ofctl text with table names,
// so that a compiler bug is obvious in the logs.
import { toOfctlText } from '../openflow/render.ts';
import { nameTables, type Flow } from '../pipeline/flow.ts';
import { describeFlow, type PlannedMod } from './plan.ts';

export interface RejectedFlow {
  readonly key: string;
  /** Undefined for a delete of a leftover the switch reported. */
  readonly flow: Flow | undefined;
  /** The flow as ovs-ofctl text with table names, plus feature and object. */
  readonly rendered: string;
  /** The switch's answer, e.g. "BAD_ACTION.MATCH_INCONSISTENT". */
  readonly error: string;
}

export function rejectedFlow(p: PlannedMod, error: string): RejectedFlow {
  const rendered = p.flow ? describeFlow(p.flow) : nameTables(toOfctlText(p.mod));
  return { key: p.key, flow: p.flow, error, rendered: p.mod.command === 'add' ? rendered : `${p.mod.command} ${rendered}` };
}

const SHOWN = 10;

/** The switch refused flows: at BUNDLE_ADD time (the bundle was discarded) or at commit. */
export class FlowRejectedError extends Error {
  constructor(readonly rejected: readonly RejectedFlow[], what: string, cause?: unknown) {
    const lines = rejected.slice(0, SHOWN).map((r) => `  ${r.error}: ${r.rendered}`);
    if (rejected.length > SHOWN) lines.push(`  ... and ${rejected.length - SHOWN} more`);
    super(`${what}: the switch rejected ${rejected.length} flow(s):\n${lines.join('\n')}`,
      cause === undefined ? undefined : { cause });
    this.name = 'FlowRejectedError';
  }
}

/** The reconciler was closed while the operation waited or ran. */
export class ReconcilerClosedError extends Error {
  constructor() {
    super('flow reconciler closed');
    this.name = 'ReconcilerClosedError';
  }
}
