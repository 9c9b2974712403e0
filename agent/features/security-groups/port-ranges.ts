// A port range as OpenFlow can match it: a minimal set of value/mask pairs (bitwise prefixes).
// OVS has no range match, so tcp_dst 1000-1999 becomes 1000/0xfff8, 1008/0xfff0, ... Every range
// of a w-bit field needs at most 2w-2 pairs; a whole field is one pair with mask 0 (match anything).

export interface MaskedValue {
  readonly value: number;
  readonly mask: number;
}

/**
 * The minimal prefix cover of [lo, hi] in a `bits`-wide field (greedy: at each step the largest
 * aligned block that starts at lo and stays inside the range; this is the classic optimal cover).
 * Returns [] for an empty range (lo > hi).
 */
export function rangeToMasks(lo: number, hi: number, bits = 16): MaskedValue[] {
  const full = bits === 32 ? 0xffffffff : 2 ** bits - 1;
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi > full) {
    throw new RangeError(`range ${lo}-${hi} does not fit in ${bits} bits`);
  }
  const out: MaskedValue[] = [];
  let cur = lo;
  while (cur <= hi) {
    // Largest k with cur aligned to 2^k and cur + 2^k - 1 <= hi.
    let k = 0;
    while (k < bits && cur % 2 ** (k + 1) === 0 && cur + 2 ** (k + 1) - 1 <= hi) k++;
    const size = 2 ** k;
    out.push({ value: cur, mask: (full - (size - 1)) >>> 0 });
    cur += size;
  }
  return out;
}
