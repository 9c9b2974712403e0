// Security groups, the parts: the port range decomposition and the conjunction ids (unique,
// order-independent, and incremental == full when primary ids collide).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DesiredFlows } from '../../../agent/features/engine.ts';
import { securityGroupsFeature } from '../../../agent/features/security-groups.ts';
import { ConjIds, primaryConjId } from '../../../agent/features/security-groups/conj-ids.ts';
import { rangeToMasks } from '../../../agent/features/security-groups/port-ranges.ts';
import { toOfctlText } from '../../../agent/openflow/render.ts';
import { toFlowMod, type Flow } from '../../../agent/pipeline/flow.ts';
import { ModelBuilder } from '../../helpers/model-builder.ts';
import { compileAll, defaultGroup } from './sg-scenarios.ts';

const withCookies = (flows: Iterable<Flow>) => [...flows].map((f) => toOfctlText(toFlowMod(f, 0))).sort();

describe('rangeToMasks', () => {
  /** The minimal prefix cover, by recursion on the bit trie (a cover must use the maximal blocks). */
  const optimum = (lo: number, hi: number, bits: number): number => {
    const rec = (start: number, size: number): number => {
      const end = start + size - 1;
      if (end < lo || start > hi) return 0;
      if (start >= lo && end <= hi) return 1;
      return rec(start, size / 2) + rec(start + size / 2, size / 2);
    };
    return rec(0, 2 ** bits);
  };
  const covers = (masks: { value: number; mask: number }[], v: number) => masks.filter((m) => (v & m.mask) === m.value).length;

  it('is exact, disjoint and minimal for every range of a 6-bit field', () => {
    for (let lo = 0; lo < 64; lo++) {
      for (let hi = lo; hi < 64; hi++) {
        const masks = rangeToMasks(lo, hi, 6);
        const wrong = Array.from({ length: 64 }, (_, v) => v).filter((v) => covers(masks, v) !== (v >= lo && v <= hi ? 1 : 0));
        if (wrong.length || masks.length !== optimum(lo, hi, 6)) expect({ lo, hi, masks, wrong }).toBe('exact and minimal');
      }
    }
  });

  it('is exact, disjoint and minimal on random 16-bit ranges (at most 30 pairs)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 }), (a, b, probe) => {
      const lo = Math.min(a, b);
      const hi = Math.max(a, b);
      const masks = rangeToMasks(lo, hi);
      expect(masks.length).toBe(optimum(lo, hi, 16));
      expect(masks.length).toBeLessThanOrEqual(30);
      for (const v of [lo, hi, lo - 1, hi + 1, probe]) {
        if (v < 0 || v > 65535) continue;
        expect(covers(masks, v)).toBe(v >= lo && v <= hi ? 1 : 0);
      }
      for (const m of masks) expect(m.value & ~m.mask & 0xffff).toBe(0);
    }), { numRuns: 2000 });
  });

  it('examples', () => {
    expect(rangeToMasks(22, 22)).toEqual([{ value: 22, mask: 0xffff }]);
    expect(rangeToMasks(0, 65535)).toEqual([{ value: 0, mask: 0 }]);
    expect(rangeToMasks(1, 65535).length).toBe(16);
    expect(rangeToMasks(1000, 1999).map((m) => `${m.value}/${m.mask.toString(16)}`)).toEqual([
      '1000/fff8', '1008/fff0', '1024/fe00', '1536/ff00', '1792/ff80', '1920/ffc0', '1984/fff0',
    ]);
    expect(rangeToMasks(5, 4)).toEqual([]);
  });
});

/** Rule ids whose primary conj ids collide (found by a birthday search, about 2^16 tries). */
function collidingIds(n: number): string[] {
  const seen = new Map<number, string[]>();
  for (let i = 0; ; i++) {
    const id = `rule-${i}`;
    const p = primaryConjId(id);
    const list = seen.get(p) ?? [];
    list.push(id);
    seen.set(p, list);
    if (list.length === 2) {
      if (n <= 2) return list;
      // A third one of the same primary is too rare to search for: use two pairs instead.
      const other = collidingIdsFrom(i + 1, seen);
      return [...list, ...other].slice(0, n);
    }
  }
}
function collidingIdsFrom(start: number, seen: Map<number, string[]>): string[] {
  for (let i = start; ; i++) {
    const id = `rule-${i}`;
    const list = seen.get(primaryConjId(id)) ?? [];
    list.push(id);
    seen.set(primaryConjId(id), list);
    if (list.length === 2) return list;
  }
}

describe('conj ids', () => {
  const [a, b, c, d] = collidingIds(4);

  it('are the primary hash without collisions, never 0, and unique with them', () => {
    expect(primaryConjId(a)).toBe(primaryConjId(b));
    const ix = new ConjIds(['x', 'y', a, b, c, d]);
    const ids = ['x', 'y', a, b, c, d].map((id) => ix.idOf(id));
    expect(new Set(ids).size).toBe(6);
    expect(ids.every((i) => i > 0)).toBe(true);
    expect(ix.idOf('x')).toBe(primaryConjId('x'));
    // The smaller id of a colliding pair keeps the primary id; the other moves to the top half.
    const [keep, moved] = [a, b].sort();
    expect(ix.idOf(keep)).toBe(primaryConjId(keep));
    expect(ix.idOf(moved)).toBeGreaterThanOrEqual(0x80000000);
  });

  it('do not depend on the order rules arrived in', () => {
    fc.assert(fc.property(fc.shuffledSubarray(['x', 'y', 'z', a, b, c, d], { minLength: 0 }), (ids) => {
      const one = new ConjIds(ids);
      const two = new ConjIds([...ids].reverse());
      const three = new ConjIds([...ids, 'extra']);
      three.delete('extra');
      for (const id of ids) {
        expect(two.idOf(id)).toBe(one.idOf(id));
        expect(three.idOf(id)).toBe(one.idOf(id));
      }
    }));
  });

  it('neighbours() names every rule whose id moves, before and after the change', () => {
    const ix = new ConjIds(['x', a, c, d]);
    const before = new Map(['x', a, c, d].map((id) => [id, ix.idOf(id)]));
    expect(ix.neighbours('x')).toEqual([]);
    const n1 = new Set(ix.neighbours(b));
    ix.add(b);
    expect(new Set(ix.neighbours(b))).toEqual(n1);
    for (const [id, was] of before) if (ix.idOf(id) !== was) expect(n1.has(id)).toBe(true);
  });

  it('incremental == full when the model holds colliding rules', () => {
    const builder = defaultGroup(new ModelBuilder())
      .port('vm1', { security_groups: ['sg-default'], fixed_ips: [{ subnet_id: 's', ip_address: '10.0.0.5' }] }).plug('vm1', 3);
    const inc = new DesiredFlows([securityGroupsFeature]);
    inc.full(builder.state);
    builder.takeEvents();
    const steps: ((x: ModelBuilder) => void)[] = [
      (x) => x.rule(b, { security_group_id: 'sg-default', direction: 'egress', protocol: 'tcp', port_range_min: 80, port_range_max: 80 }),
      (x) => x.rule(a, { security_group_id: 'sg-default', direction: 'egress', protocol: 'udp', port_range_min: 53, port_range_max: 53 }),
      (x) => x.rule(d, { security_group_id: 'sg-default', direction: 'egress', protocol: 'tcp', port_range_min: 443, port_range_max: 443 }),
      (x) => x.rule(c, { security_group_id: 'sg-default', direction: 'egress', protocol: 'tcp', port_range_min: 8080, port_range_max: 8080 }),
      (x) => x.remove('security_group_rule', a),
      (x) => x.remove('security_group_rule', c),
    ];
    for (const step of steps) {
      step(builder);
      inc.update(builder.state, builder.takeEvents());
      const full = compileAll(builder.clone());
      expect(withCookies(inc.flows())).toEqual(withCookies(full.flows));
      expect([...inc.conflicts]).toEqual([]);
    }
  });
});
