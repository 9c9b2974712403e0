// Flows as immutable data. Compilers build them with flow(); the reconciler turns them into
// FLOW_MODs (toFlowMod); tests and `weft trace` print them with table names (renderFlow).
import type { Action, Instruction } from '../openflow/actions.ts';
import type { Match } from '../openflow/fields.ts';
import { makeFlowMod, type FlowMod } from '../openflow/flowmod.ts';
import { formatMatch, toOfctlText } from '../openflow/render.ts';
import { makeCookie, type FeatureName } from './fields.ts';
import { tableId, tableNameOf, type TableName } from './tables.ts';

export interface Flow {
  readonly table: TableName;
  readonly priority: number;
  readonly match: Match;
  /** Applied in order; an empty list with no goto is a drop. */
  readonly actions: readonly Action[];
  readonly goto?: TableName;
  /** Which feature made the flow, and for which object (a port id, a rule id, ...). */
  readonly feature: FeatureName;
  readonly object: string;
}

export interface FlowInit {
  readonly priority: number;
  readonly match?: Match;
  readonly actions?: readonly Action[];
  readonly goto?: TableName;
}

/** One flow, frozen. */
export function flow(feature: FeatureName, object: string, table: TableName, init: FlowInit): Flow {
  return Object.freeze({
    table, priority: init.priority, match: Object.freeze({ ...(init.match ?? {}) }),
    actions: Object.freeze([...(init.actions ?? [])]),
    ...(init.goto ? { goto: init.goto } : {}),
    feature, object,
  });
}

// Action helpers that take table names.
export const resubmit = (t: TableName): Action => ({ type: 'resubmit', table: tableId(t) });
export const output = (port: number): Action => ({ type: 'output', port });

/** What identifies a flow in the switch: table, priority and match (OpenFlow's strict identity). */
export function flowKey(f: Pick<Flow, 'table' | 'priority' | 'match'>): string {
  return `${f.table}/${formatMatch(f.match, f.priority)}`;
}

export function instructionsOf(f: Flow): Instruction[] {
  const out: Instruction[] = [];
  if (f.actions.length) out.push({ type: 'applyActions', actions: f.actions });
  if (f.goto) out.push({ type: 'gotoTable', tableId: tableId(f.goto) });
  return out;
}

export function toFlowMod(f: Flow, generation: number, command: FlowMod['command'] = 'add'): FlowMod {
  return makeFlowMod({
    command, cookie: makeCookie(f.feature, generation, f.object), cookieMask: 0n,
    tableId: tableId(f.table), priority: f.priority, match: f.match, instructions: instructionsOf(f),
  });
}

/**
 * A flow as ovs-ofctl would print it, with table names instead of numbers and without the cookie:
 * "table=l2_lookup, priority=1000,metadata=0x1000064,dl_dst=fa:16:3e:00:00:01 actions=set_field:0x3->reg7,goto_table:ingress_ct".
 */
export function renderFlow(f: Flow): string {
  return nameTables(toOfctlText(toFlowMod(f, 0)).replace(/^cookie=0x[0-9a-f]+, /, ''));
}

/** Replaces table numbers by names in ovs-ofctl text (table=, goto_table:, resubmit(,N), ct(table=N)). */
export function nameTables(text: string): string {
  const name = (n: string) => tableNameOf(Number(n)) ?? n;
  return text
    .replace(/table=(\d+)/g, (_, n) => `table=${name(n)}`)
    .replace(/goto_table:(\d+)/g, (_, n) => `goto_table:${name(n)}`)
    .replace(/resubmit\(([^,)]*),(\d+)\)/g, (_, p, n) => `resubmit(${p},${name(n)})`);
}
