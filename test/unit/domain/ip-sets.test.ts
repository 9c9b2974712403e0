import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatCidr, parseCidr } from '../../../controller/domain/cidr.ts';
import { compactCidrs, difference, intersects, isSubset, rangeToCidrs, setOf, setToCidrs } from '../../../controller/domain/ip-sets.ts';

// Address sets for subnet pools: compaction as netaddr's IPSet prints it, and set algebra
// checked against a brute-force model on a small address space.

const cidrs = (...texts: string[]) => texts.map(parseCidr);
const printed = (version: 4 | 6, texts: string[]) => compactCidrs(version, cidrs(...texts)).map(formatCidr);

describe('address sets', () => {
  it('compacts overlapping and adjacent prefixes as Neutron does', () => {
    expect(printed(4, ['10.10.10.0/24', '10.10.11.0/24'])).toEqual(['10.10.10.0/23']);
    expect(printed(4, ['192.168.1.0/24', '10.10.10.0/24', '10.10.0.0/16'])).toEqual(['10.10.0.0/16', '192.168.1.0/24']);
    expect(printed(4, ['10.11.12.13/24'])).toEqual(['10.11.12.0/24']);
    // Adjacent but not aligned: two blocks remain.
    expect(printed(4, ['10.0.1.0/24', '10.0.2.0/24'])).toEqual(['10.0.1.0/24', '10.0.2.0/24']);
    expect(printed(6, ['2001:db8:1234::/48', '2001:db8:1234:1111::/64', '2001:db8:1235::/48'])).toEqual(['2001:db8:1234::/47']);
  });

  it('splits a range into the fewest aligned CIDRs', () => {
    const r = { first: parseCidr('10.0.0.1/32').first, last: parseCidr('10.0.0.6/32').first };
    expect(rangeToCidrs(4, r).map(formatCidr)).toEqual(['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/31', '10.0.0.6/32']);
    expect(rangeToCidrs(4, parseCidr('0.0.0.0/0')).map(formatCidr)).toEqual(['0.0.0.0/0']);
    expect(rangeToCidrs(6, parseCidr('::/0')).map(formatCidr)).toEqual(['::/0']);
  });

  it('subtracts, intersects and compares sets', () => {
    const pool = setOf(cidrs('10.0.0.0/24'));
    const used = setOf(cidrs('10.0.0.0/30', '10.0.0.64/26'));
    expect(setToCidrs(4, difference(pool, used)).map(formatCidr)).toEqual(['10.0.0.4/30', '10.0.0.8/29', '10.0.0.16/28', '10.0.0.32/27', '10.0.0.128/25']);
    expect(intersects(pool, setOf(cidrs('10.0.0.255/32')))).toBe(true);
    expect(intersects(pool, setOf(cidrs('10.0.1.0/24')))).toBe(false);
    expect(isSubset(setOf(cidrs('10.0.0.0/25')), pool)).toBe(true);
    expect(isSubset(setOf(cidrs('10.0.0.0/23')), pool)).toBe(false);
    expect(difference(pool, pool)).toEqual([]);
  });

  it('agrees with a brute-force model of sets of 8-bit addresses', () => {
    // Addresses 0..255 of the IPv4 range 10.0.0.0/24, so each set can be enumerated.
    const base = parseCidr('10.0.0.0/24').first;
    const block = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 24, max: 32 }))
      .map(([host, len]) => parseCidr(`10.0.0.${host}/${len}`));
    const members = (set: readonly { first: bigint; last: bigint }[]) => {
      const out = new Set<number>();
      for (const r of set) for (let v = r.first; v <= r.last; v++) out.add(Number(v - base));
      return out;
    };
    fc.assert(fc.property(fc.array(block, { maxLength: 6 }), fc.array(block, { maxLength: 6 }), (as, bs) => {
      const a = setOf(as);
      const b = setOf(bs);
      const ma = members(as);
      const mb = members(bs);
      expect(members(a)).toEqual(ma);
      expect(members(difference(a, b))).toEqual(new Set([...ma].filter((x) => !mb.has(x))));
      expect(intersects(a, b)).toBe([...ma].some((x) => mb.has(x)));
      expect(isSubset(a, b)).toBe([...ma].every((x) => mb.has(x)));
      // Compaction covers the same addresses with disjoint, sorted blocks.
      const compact = setToCidrs(4, a);
      expect(members(compact)).toEqual(ma);
      for (let i = 1; i < compact.length; i++) expect(compact[i].first).toBeGreaterThan(compact[i - 1].last);
    }), { numRuns: 200 });
  });
});
