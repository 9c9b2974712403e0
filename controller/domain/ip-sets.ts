import { bitsOf, type Cidr, type IpVersion, type Range } from './cidr.ts';

// Sets of addresses of one IP version, as netaddr's IPSet does them for subnet pools: a set is
// a sorted list of disjoint, non-adjacent ranges, and it is printed as the fewest CIDRs that
// cover it ("compacted"), in address order.

export type AddressSet = readonly Range[];

/** The union of some ranges, merged into a sorted list of disjoint, non-adjacent ones. */
export function setOf(ranges: readonly Range[]): AddressSet {
  const sorted = [...ranges].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.first <= last.last + 1n) {
      if (r.last > last.last) out[out.length - 1] = { first: last.first, last: r.last };
    } else {
      out.push({ first: r.first, last: r.last });
    }
  }
  return out;
}

/** The addresses of `a` that are not in `b`. */
export function difference(a: AddressSet, b: AddressSet): AddressSet {
  const out: Range[] = [];
  for (const r of a) {
    let first = r.first;
    for (const hole of b) {
      if (hole.last < first || hole.first > r.last) continue;
      if (hole.first > first) out.push({ first, last: hole.first - 1n });
      first = hole.last + 1n;
      if (first > r.last) break;
    }
    if (first <= r.last) out.push({ first, last: r.last });
  }
  return out;
}

export function intersects(a: AddressSet, b: AddressSet): boolean {
  return a.some((x) => b.some((y) => x.first <= y.last && y.first <= x.last));
}

/** Is every address of `a` in `b`? */
export function isSubset(a: AddressSet, b: AddressSet): boolean {
  return difference(a, b).length === 0;
}

/** The fewest CIDRs covering one range: the largest aligned block at each step. */
export function rangeToCidrs(version: IpVersion, r: Range): Cidr[] {
  const bits = bitsOf(version);
  const out: Cidr[] = [];
  let first = r.first;
  while (first <= r.last) {
    let size = bits; // host bits of the block
    while (size > 0 && (first & ((1n << BigInt(size)) - 1n)) !== 0n) size--;
    while (size > 0 && first + (1n << BigInt(size)) - 1n > r.last) size--;
    const last = first + (1n << BigInt(size)) - 1n;
    out.push({ version, prefix: bits - size, first, last });
    first = last + 1n;
  }
  return out;
}

/** A set as compacted CIDRs, in address order (netaddr's IPSet.compact + iter_cidrs). */
export function setToCidrs(version: IpVersion, set: AddressSet): Cidr[] {
  return set.flatMap((r) => rangeToCidrs(version, r));
}

/** Overlapping and adjacent CIDRs merged into the fewest covering ones. */
export function compactCidrs(version: IpVersion, cidrs: readonly Cidr[]): Cidr[] {
  return setToCidrs(version, setOf(cidrs));
}
