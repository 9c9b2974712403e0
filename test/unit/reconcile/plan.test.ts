// The pure half of the reconciler: change sets -> FLOW_MODs, the work queue (coalescing), chunking, leftovers.
import { describe, expect, it } from 'vitest';
import type { FlowChanges } from '../../../agent/features/engine.ts';
import { U64_MAX, type FlowStats } from '../../../agent/openflow/flowmod.ts';
import { decodeMatch, encodeMatch } from '../../../agent/openflow/match.ts';
import { generationOf, makeCookie } from '../../../agent/pipeline/fields.ts';
import { flow, flowKey, instructionsOf, type Flow } from '../../../agent/pipeline/flow.ts';
import { tableId } from '../../../agent/pipeline/tables.ts';
import {
  CookieJar, chunk, planChanges, planLeftovers, planReplay, sameData, sameFlow, statsKey, type InstalledFlow,
} from '../../../agent/reconcile/plan.ts';
import { FlowRejectedError, rejectedFlow } from '../../../agent/reconcile/errors.ts';
import { WorkQueue } from '../../../agent/reconcile/queue.ts';
import { portFlows, syntheticFlows } from '../../helpers/flowsets.ts';

const GEN = 7;
const jar = () => new CookieJar(GEN);
const installedOf = (flows: readonly Flow[], generation = GEN): Map<string, InstalledFlow> =>
  new Map(flows.map((f) => [flowKey(f), { flow: f, cookie: makeCookie(f.feature, generation, f.object) }]));
const changesOf = (entries: [Flow | string, Flow | null][]): FlowChanges =>
  new Map(entries.map(([k, f]) => [typeof k === 'string' ? k : flowKey(k), f]));

/** A flow as a flow-stats entry would report it after a trip through the switch. */
function asStats(f: Flow, cookie: bigint): FlowStats {
  return {
    tableId: tableId(f.table), durationSec: 1, durationNsec: 0, priority: f.priority, idleTimeout: 0, hardTimeout: 0,
    flags: 0, cookie, packetCount: 0n, byteCount: 0n, match: decodeMatch(encodeMatch(f.match), 0).match,
    instructions: instructionsOf(f),
  };
}

describe('CookieJar', () => {
  it('stamps feature, generation and object like makeCookie, and memoises', () => {
    const j = jar();
    const [f] = portFlows(3);
    expect(j.cookieOf(f)).toBe(makeCookie('classify', GEN, 'port-3'));
    expect(j.cookieOf(f)).toBe(j.cookieOf({ ...f }));
    expect(generationOf(j.cookieOf(f))).toBe(GEN);
  });

  it('refuses generations that do not fit 16 bits', () => {
    expect(() => new CookieJar(0x10000)).toThrow(/16-bit/);
    expect(() => new CookieJar(-1)).toThrow(/16-bit/);
    expect(() => new CookieJar(1.5)).toThrow(/16-bit/);
  });
});

describe('planChanges', () => {
  const [classify, l2, out] = portFlows(0);

  it('a new key becomes an add with this generation\'s cookie, the flow\'s table, priority, match and instructions', () => {
    const [p, ...rest] = planChanges(new Map(), changesOf([[classify, classify]]), jar());
    expect(rest).toEqual([]);
    expect(p.key).toBe(flowKey(classify));
    expect(p.mod).toMatchObject({
      command: 'add', cookie: makeCookie('classify', GEN, 'port-0'), cookieMask: 0n, tableId: 0, priority: 1000,
      match: classify.match, instructions: instructionsOf(classify),
    });
    expect(p.after).toEqual({ flow: classify, cookie: p.mod.cookie });
  });

  it('an equal flow (even a different object in memory) needs nothing', () => {
    const again = portFlows(0)[1];
    expect(again).not.toBe(l2);
    expect(planChanges(installedOf([l2]), changesOf([[again, again]]), jar())).toEqual([]);
  });

  it('changed actions, goto or object (cookie) become an add that replaces the flow in place', () => {
    const changed = portFlows(0, { variant: 5 })[2];
    const otherObject = portFlows(0, { object: 'port-x' })[2];
    const noGoto = flow(l2.feature, l2.object, l2.table, { priority: l2.priority, match: l2.match, actions: l2.actions });
    for (const f of [changed, otherObject, noGoto]) {
      const plan = planChanges(installedOf([out, l2]), changesOf([[f, f]]), jar());
      expect(plan.map((p) => p.mod.command)).toEqual(['add']);
      expect(plan[0].after?.flow).toBe(f);
    }
  });

  it('an installed flow of another generation is replaced (its cookie differs)', () => {
    const plan = planChanges(installedOf([out], GEN + 1), changesOf([[out, out]]), jar());
    expect(plan.map((p) => [p.mod.command, generationOf(p.mod.cookie)])).toEqual([['add', GEN]]);
  });

  it('a removed key is a delete_strict of the installed identity, whatever its cookie; unknown keys need nothing', () => {
    const plan = planChanges(installedOf([l2]), changesOf([[l2, null], ['l2_lookup/priority=1,nothing', null]]), jar());
    expect(plan).toHaveLength(1);
    expect(plan[0].mod).toMatchObject({
      command: 'deleteStrict', tableId: tableId('l2_lookup'), priority: l2.priority, match: l2.match, cookie: 0n, cookieMask: 0n,
      instructions: [],
    });
    expect(plan[0].after).toBeNull();
    expect(plan[0].flow).toBe(l2);
  });
});

describe('planReplay', () => {
  it('adds every flow once per key (the last one wins), in order', () => {
    const flows = syntheticFlows(6);
    const dup = portFlows(0, { variant: 9 })[0];
    const plan = planReplay([...flows, dup], jar());
    expect(plan.map((p) => p.key)).toEqual(flows.map(flowKey));
    expect(plan[0].flow).toBe(dup);
    expect(plan.every((p) => p.mod.command === 'add' && generationOf(p.mod.cookie) === GEN)).toBe(true);
  });
});

describe('WorkQueue', () => {
  it('coalesces change sets: one apply step takes every changed key with its latest desired flow', async () => {
    const [a, b, c] = portFlows(1);
    const b2 = portFlows(1, { variant: 1 })[1];
    const q = new WorkQueue();
    const early = q.apply(changesOf([[a, a]]));
    expect(q.desired).toBeUndefined(); // before the first resync a change set is superseded by it
    void q.resync(new Map([[flowKey(c), c]]));
    const all = q.takeAll();
    expect([...all.work.keys()]).toEqual([flowKey(c)]);
    expect(all.waiters).toHaveLength(2);
    for (const w of all.waiters) w.resolve();
    await early;

    const first = changesOf([[a, a], [b, b]]);
    const done = [q.apply(first), q.apply(changesOf([[b, b2], [a, null]])), q.apply(changesOf([[c, null]]))];
    expect(first.size).toBe(2);
    const step = q.takeChanges();
    expect([...step.work]).toEqual([[flowKey(a), null], [flowKey(b), b2], [flowKey(c), null]]);
    expect(step.waiters).toHaveLength(3);
    expect(q.pendingApply).toBe(false);
    step.restore();
    expect(q.pendingApply).toBe(true);
    const again = q.takeChanges();
    expect(again.work.size).toBe(3);
    again.restore();
    q.rejectAll(new Error('closed'));
    await Promise.all(done.map((p) => expect(p).rejects.toThrow('closed')));
  });
});

describe('chunk', () => {
  it('splits in order into runs of at most n', () => {
    expect(chunk([1, 2, 3, 4, 5, 6, 7], 3)).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
    expect(chunk([1, 2], 20_000)).toEqual([[1, 2]]);
    expect(chunk([], 3)).toEqual([]);
    expect(() => chunk([1], 0)).toThrow();
  });
});

describe('planLeftovers', () => {
  const flows = syntheticFlows(9);
  const desired = installedOf(flows);
  const cookie = (f: Flow, g = GEN) => makeCookie(f.feature, g, f.object);
  const replayed = flows.map((f) => asStats(f, cookie(f)));

  it('statsKey of a flow the switch reports equals its flowKey', () => {
    for (const f of syntheticFlows(300)) expect(statsKey(asStats(f, 1n))).toBe(flowKey(f));
  });

  it('a dump of exactly the replayed flows has no leftovers', () => {
    expect(planLeftovers(replayed, desired, GEN)).toEqual([]);
  });

  it('deletes other generations and undesired keys of ours, each by its exact cookie', () => {
    const gone = portFlows(50)[0];
    const sameCookieOtherKey = { ...asStats(flows[1], cookie(flows[1])), priority: 7 };
    const dumped = [
      ...replayed,
      asStats(gone, cookie(gone)),
      asStats(portFlows(51)[1], cookie(portFlows(51)[1], 1)),
      sameCookieOtherKey,
      { ...asStats(flows[2], 0n), tableId: 200 }, // a table we do not own
    ];
    const left = planLeftovers(dumped, desired, GEN);
    expect(left.map((l) => [l.why, l.stats])).toEqual([
      ['old generation', dumped[10]], ['old generation', dumped[12]], ['not desired', dumped[11]], ['not desired', dumped[9]],
    ]);
    for (const l of left) {
      expect(l.mod).toMatchObject({
        command: 'deleteStrict', tableId: l.stats.tableId, priority: l.stats.priority, match: l.stats.match,
        cookie: l.stats.cookie, cookieMask: U64_MAX, instructions: [],
      });
    }
  });

  it('asks the trip-through-the-switch keys (once) before deleting a flow of this generation', () => {
    const f = flows[1];
    const odd = { ...asStats(f, cookie(f)), priority: 4242 };
    let asked = 0;
    const keys = () => {
      asked++;
      return new Set([statsKey(odd)]);
    };
    expect(planLeftovers([...replayed, odd, odd], desired, GEN, keys)).toEqual([]);
    expect(asked).toBe(1);
    expect(planLeftovers([asStats(f, cookie(f, 3))], desired, GEN, keys).map((l) => l.why)).toEqual(['old generation']);
  });
});

describe('sameData / sameFlow', () => {
  it('compares plain data with bigints and buffers, ignoring undefined properties', () => {
    expect(sameData({ a: 1n, b: [Buffer.from('x')], c: undefined }, { a: 1n, b: [Buffer.from('x')] })).toBe(true);
    expect(sameData({ a: 1n }, { a: 2n })).toBe(false);
    expect(sameData([1, 2], { 0: 1, 1: 2 })).toBe(false);
    expect(sameData(Buffer.from('x'), Buffer.from('y'))).toBe(false);
  });

  it('flows equal in content are the same flow', () => {
    const [a] = portFlows(4);
    const [b] = portFlows(4);
    expect(sameFlow(a, b)).toBe(true);
    expect(sameFlow(a, portFlows(4, { object: 'other' })[0])).toBe(false);
  });
});

describe('FlowRejectedError', () => {
  it('names each refused flow as ovs-ofctl text with table names and its owner', () => {
    const [f] = portFlows(2);
    const plan = planReplay([f], jar());
    const e = new FlowRejectedError([rejectedFlow(plan[0], 'BAD_ACTION.MATCH_INCONSISTENT')], 'apply');
    expect(e.message).toContain('apply: the switch rejected 1 flow(s)');
    expect(e.message).toContain(
      'BAD_ACTION.MATCH_INCONSISTENT: table=classify, priority=1000,in_port=3,dl_src=fa:16:3e:00:00:02 '
      + 'actions=set_field:0x1->metadata,set_field:0x3->reg5,goto_table:l2_lookup [classify port-2]');
  });
});
