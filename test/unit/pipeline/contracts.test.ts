// Every compiled flow keeps its table's contract (agent/pipeline/tables.ts, DESIGN.md principle
// 2): it matches only fields the table may match (ethType/ipProto prerequisites always allowed),
// sets only fields the table may set, continues (goto, resubmit, ct(table=)) only into the
// table's `next`, always forward, and encodes as a FLOW_MOD. Checked over big random hosts
// compiled by ALL_FEATURES.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DesiredFlows } from '../../../agent/features/engine.ts';
import { ALL_FEATURES } from '../../../agent/features/index.ts';
import type { Action } from '../../../agent/openflow/actions.ts';
import type { FieldName } from '../../../agent/openflow/fields.ts';
import { toFlowMod, type Flow } from '../../../agent/pipeline/flow.ts';
import { table, tableId, tableNameOf, TABLES, type TableName } from '../../../agent/pipeline/tables.ts';
import { applyOp, BIG, randomHostConfig, scenarioArb } from '../../helpers/host-arbitraries.ts';
import { Scenario } from '../../helpers/host-scenarios.ts';

const PREREQUISITES: readonly FieldName[] = ['ethType', 'ipProto'];

/** Contract violations of one flow, as readable strings (empty when it keeps the contract). */
export function violations(f: Flow): string[] {
  const c = table(f.table);
  const out: string[] = [];
  for (const field of Object.keys(f.match) as FieldName[]) {
    if (f.match[field] === undefined) continue;
    if (!PREREQUISITES.includes(field) && !c.matches.includes(field)) out.push(`matches ${field}`);
  }
  const into = (what: string, t: TableName | undefined, id: number | undefined) => {
    if (t === undefined) out.push(`${what} into unknown table ${id}`);
    else if (!c.next.includes(t)) out.push(`${what} into ${t}`);
    else if (tableId(t) <= c.id) out.push(`${what} backwards into ${t}`);
  };
  const walk = (actions: readonly Action[], inCt: boolean) => {
    for (const a of actions) {
      if (a.type === 'setField' && !c.sets.includes(a.field)) out.push(`sets ${a.field}${inCt ? ' in ct exec' : ''}`);
      if (a.type === 'move' && !c.sets.includes(a.dst.field)) out.push(`moves into ${a.dst.field}`);
      if (a.type === 'resubmit') into('resubmit', a.table === undefined ? undefined : tableNameOf(a.table), a.table);
      if (a.type === 'ct') {
        if (a.table !== undefined) into('ct', tableNameOf(a.table), a.table);
        if (a.exec) walk(a.exec, true);
      }
    }
  };
  walk(f.actions, false);
  if (f.goto) into('goto', f.goto, tableId(f.goto));
  if (!Number.isInteger(f.priority) || f.priority < 0 || f.priority > 0xffff) out.push(`priority ${f.priority}`);
  try {
    toFlowMod(f, 1);
  } catch (e) {
    out.push(`does not encode: ${(e as Error).message}`);
  }
  return out;
}

describe('table contracts', () => {
  it('the pipeline only goes forward, and every next table exists', () => {
    for (const t of TABLES) for (const n of t.next) expect(tableId(n), `${t.name} -> ${n}`).toBeGreaterThan(t.id);
    expect(new Set(TABLES.map((t) => t.id)).size).toBe(TABLES.length);
  });

  it('the checker catches a flow that breaks its contract', () => {
    const bad: Flow = {
      table: 'output', priority: 1, match: { reg7: { value: 1 }, ethDst: 'fa:16:3e:00:00:01' },
      actions: [{ type: 'setField', field: 'reg5', value: { value: 1 } }, { type: 'resubmit', table: tableId('classify') }],
      goto: 'l2_lookup', feature: 'l2', object: 'x',
    };
    expect(violations(bad)).toEqual([
      'matches ethDst', 'sets reg5', 'resubmit into classify', 'goto into l2_lookup',
    ]);
  });

  it('every flow of big random hosts keeps its table contract', () => {
    let flows = 0;
    const tables = new Set<TableName>();
    fc.assert(fc.property(scenarioArb(BIG, 400), fc.boolean(), (ops, tunnel) => {
      const s = new Scenario(randomHostConfig(tunnel));
      for (const o of ops) applyOp(s, o);
      const d = new DesiredFlows(ALL_FEATURES);
      d.full(s);
      expect([...d.conflicts]).toEqual([]);
      for (const f of d.flows()) {
        flows++;
        tables.add(f.table);
        expect(violations(f), `${f.feature} ${f.object}: ${JSON.stringify(f, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))}`)
          .toEqual([]);
      }
    }), { numRuns: 60 });
    // The scenarios really exercise the forwarding tables.
    expect(flows).toBeGreaterThan(1000);
    for (const t of ['classify', 'spoof_guard', 'l2_lookup', 'output'] as const) expect(tables).toContain(t);
  });
});
