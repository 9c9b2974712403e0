// Incremental result == full recompute (DESIGN.md principle 8), for every feature in
// ALL_FEATURES: random batches of model changes (networks, ports, pairs, agents, subnets, groups,
// rules) and plug / unplug / re-plug, each batch folded in with model.apply + engine.update,
// must leave exactly the flows (text and cookie) that a fresh full compile of the final state
// gives, and no unit may claim another unit's flow.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DesiredFlows, type HostConfig } from '../../../agent/features/engine.ts';
import { ALL_FEATURES } from '../../../agent/features/index.ts';
import type { ModelEvent } from '../../../agent/model/host-model.ts';
import { applyOp, batchesArb, randomHostConfig, SMALL, type Op } from '../../helpers/host-arbitraries.ts';
import { flowsWithCookies, Scenario } from '../../helpers/host-scenarios.ts';

function fullOf(s: Scenario): DesiredFlows {
  const d = new DesiredFlows(ALL_FEATURES);
  d.full(s);
  return d;
}

function check(host: HostConfig, batches: Op[][], everyBatch: boolean): void {
  const s = new Scenario(host);
  const engine = new DesiredFlows(ALL_FEATURES);
  engine.full(s);
  batches.forEach((batch, n) => {
    const events: ModelEvent[] = batch.flatMap((o) => applyOp(s, o));
    engine.update(s, events);
    if (everyBatch || n === batches.length - 1) {
      const full = fullOf(s);
      expect([...engine.conflicts], `conflicts after batch ${n}`).toEqual([]);
      expect([...full.conflicts]).toEqual([]);
      expect(flowsWithCookies(engine.flows()), `after batch ${n}: ${JSON.stringify(batch)}`).toEqual(flowsWithCookies(full.flows()));
    }
  });
}

describe('incremental == full, over ALL_FEATURES', () => {
  it('random batches of changes, checked after every batch', () => {
    fc.assert(fc.property(batchesArb(SMALL, 25), (batches) => check(randomHostConfig(), batches, true)), { numRuns: 200 });
  });

  it('one event per update, longer histories', () => {
    const single = batchesArb(SMALL, 80).map((bs) => bs.flat().map((o) => [o]));
    fc.assert(fc.property(single, (batches) => check(randomHostConfig(), batches, false)), { numRuns: 150 });
  });

  it('a host without tunnels', () => {
    fc.assert(fc.property(batchesArb(SMALL, 25), (batches) => check(randomHostConfig(false), batches, true)), { numRuns: 100 });
  });

  it('everything in one batch (a snapshot)', () => {
    const one = batchesArb(SMALL, 30).map((bs) => [bs.flat()]);
    fc.assert(fc.property(one, (batches) => check(randomHostConfig(), batches, true)), { numRuns: 150 });
  });

  it('two ports plugged in one batch into a network nobody here served: both networks flows appear', () => {
    const s = new Scenario(randomHostConfig());
    const engine = new DesiredFlows(ALL_FEATURES);
    engine.full(s);
    const ops: Op[] = [
      { op: 'network', i: 0, del: false, type: 'vxlan', physnet: 0, admin: true, seg: 0 },
      { op: 'agent', i: 1, del: false, host: 1, ip: 0 },
      ...[0, 1].map((i): Op => ({
        op: 'port', i, del: false, net: 0, host: 0, admin: true, mac: 0, ips: [0], pairs: [], security: true, owner: 0, groups: [],
      })),
      { op: 'port', i: 2, del: false, net: 0, host: 3, admin: true, mac: 0, ips: [0], pairs: [], security: true, owner: 0, groups: [] },
    ];
    engine.update(s, ops.flatMap((o) => applyOp(s, o)));
    engine.update(s, [...applyOp(s, { op: 'plug', i: 0, gen: 0 }), ...applyOp(s, { op: 'plug', i: 1, gen: 0 })]);
    expect(flowsWithCookies(engine.flows())).toEqual(flowsWithCookies(fullOf(s).flows()));
    expect([...engine.flows()].some((f) => f.object === 'p2')).toBe(true);
  });

  it('a port moved to another network and unplugged in one batch: its old network is no longer carried', () => {
    // Found by "a host without tunnels" (seed -836442794), reduced. p3 is n1's only active port here,
    // so n1 carries p0's l2 entry (remote, on h1); one batch moves p3 to n0 and unplugs it.
    const s = new Scenario(randomHostConfig(false));
    const engine = new DesiredFlows(ALL_FEATURES);
    engine.full(s);
    const port = (i: number, net: number, host: number): Op => ({
      op: 'port', i, del: false, net, host, admin: true, mac: 0, ips: [], pairs: [], security: false, owner: 0, groups: [],
    });
    const setup: Op[] = [
      { op: 'network', i: 1, del: false, type: 'flat', physnet: 0, admin: true, seg: 0 },
      port(0, 1, 3),
      port(3, 1, 0),
      { op: 'plug', i: 3, gen: 0 },
    ];
    engine.update(s, setup.flatMap((o) => applyOp(s, o)));
    expect([...engine.flows()].some((f) => f.object === 'p0' && f.table === 'l2_lookup')).toBe(true);
    engine.update(s, [...applyOp(s, port(3, 0, 0)), ...applyOp(s, { op: 'plug', i: 3, gen: null })]);
    expect(flowsWithCookies(engine.flows())).toEqual(flowsWithCookies(fullOf(s).flows()));
    expect([...engine.flows()].some((f) => f.object === 'p0')).toBe(false);
  });
});
