// Register bits and the cookie layout (agent/pipeline/fields.ts, DESIGN.md principle 3): no two
// users of a field share a bit, every bit field fits its field, and the cookie parts tile 64 bits.
import { describe, expect, it } from 'vitest';
import { fieldDef } from '../../../agent/openflow/fields.ts';
import {
  BIT_FIELDS, bits, COOKIE, FEATURE_MASK, FEATURES, GENERATION_MASK, generationOf, makeCookie, objectBits, type BitField,
} from '../../../agent/pipeline/fields.ts';

const maskOf = (ofs: number, n: number) => ((1n << BigInt(n)) - 1n) << BigInt(ofs);

describe('register and metadata bit fields', () => {
  it('each fits inside its field', () => {
    for (const f of BIT_FIELDS) {
      expect(f.nBits, f.name).toBeGreaterThan(0);
      expect(f.ofs + f.nBits, f.name).toBeLessThanOrEqual(fieldDef(f.field).bytes * 8);
    }
  });

  it('no two bit fields share a bit of the same field', () => {
    const byField = new Map<string, BitField[]>();
    for (const f of BIT_FIELDS) byField.set(f.field, [...(byField.get(f.field) ?? []), f]);
    for (const [field, list] of byField) {
      for (let i = 0; i < list.length; i++) {
        for (let j = i + 1; j < list.length; j++) {
          const a = list[i];
          const b = list[j];
          expect(maskOf(a.ofs, a.nBits) & maskOf(b.ofs, b.nBits), `${a.name} and ${b.name} overlap in ${field}`).toBe(0n);
        }
      }
    }
    expect(new Set(BIT_FIELDS.map((f) => f.name)).size).toBe(BIT_FIELDS.length);
  });

  it('bits() gives the field bits only', () => {
    for (const f of BIT_FIELDS) {
      if (f.nBits > 32) continue;
      const { value, mask } = bits(f, 0xffffffff);
      expect(BigInt(mask)).toBe(maskOf(f.ofs, f.nBits) & 0xffffffffn);
      expect(value & ~mask).toBe(0);
      expect(bits(f, 1).value).toBe((1 << f.ofs) >>> 0);
    }
  });
});

describe('cookie layout', () => {
  const parts = Object.entries(COOKIE);

  it('the parts do not overlap and together cover 64 bits', () => {
    let all = 0n;
    for (const [name, p] of parts) {
      const m = maskOf(p.ofs, p.nBits);
      expect(all & m, `${name} overlaps`).toBe(0n);
      all |= m;
    }
    expect(all).toBe((1n << 64n) - 1n);
    expect(FEATURE_MASK).toBe(maskOf(COOKIE.feature.ofs, COOKIE.feature.nBits));
    expect(GENERATION_MASK).toBe(maskOf(COOKIE.generation.ofs, COOKIE.generation.nBits));
  });

  it('feature numbers are distinct, nonzero and fit their bits', () => {
    const values = Object.values(FEATURES);
    expect(new Set(values).size).toBe(values.length);
    for (const v of values) {
      expect(v).toBeGreaterThan(0);
      expect(v).toBeLessThan(2 ** COOKIE.feature.nBits);
    }
  });

  it('makeCookie puts each part in its place', () => {
    const c = makeCookie('l2', 0xbeef, 'port-1');
    expect((c & FEATURE_MASK) >> BigInt(COOKIE.feature.ofs)).toBe(BigInt(FEATURES.l2));
    expect(generationOf(c)).toBe(0xbeef);
    expect(c & maskOf(COOKIE.object.ofs, COOKIE.object.nBits)).toBe(objectBits('port-1'));
    expect(generationOf(makeCookie('l2', 0x1ffff, 'x'))).toBe(0xffff);
  });
});
