// Registers, metadata and cookie bits: who uses which bits, declared once.
// test/unit/pipeline/fields.test.ts checks that nothing overlaps.
import type { FieldName } from '../openflow/fields.ts';

export interface BitField {
  readonly name: string;
  readonly field: FieldName;
  readonly ofs: number;
  readonly nBits: number;
  readonly purpose: string;
}

/** The local ofport a packet came from. Its low 16 bits are also the source port's ct zone. */
export const SRC_PORT: BitField = { name: 'SRC_PORT', field: 'reg5', ofs: 0, nBits: 32, purpose: 'source local port (ofport)' };
/** The local ofport a packet goes to. Its low 16 bits are also the destination port's ct zone. */
export const DST_PORT: BitField = { name: 'DST_PORT', field: 'reg7', ofs: 0, nBits: 32, purpose: 'destination local port (ofport)' };
/** The network a packet is in, as a host-local key (see networkKey in features/). */
export const NETWORK: BitField = { name: 'NETWORK', field: 'metadata', ofs: 0, nBits: 32, purpose: 'network key' };
/** Set on packets that came from another host: they are never sent back to the fabric. */
export const FROM_FABRIC: BitField = { name: 'FROM_FABRIC', field: 'reg0', ofs: 0, nBits: 1, purpose: 'arrived by tunnel or provider uplink' };
/** Set when the source port has no security groups (port security off, or a network-owned port). */
export const SKIP_EGRESS_SG: BitField = { name: 'SKIP_EGRESS_SG', field: 'reg0', ofs: 1, nBits: 1, purpose: 'source port is not filtered' };

export const BIT_FIELDS: readonly BitField[] = [SRC_PORT, DST_PORT, NETWORK, FROM_FABRIC, SKIP_EGRESS_SG];

/** A value and mask that match or set just this field's bits. */
export function bits(f: BitField, value: number): { value: number; mask: number } {
  const mask = f.nBits === 32 ? 0xffffffff : ((1 << f.nBits) - 1) << f.ofs;
  return { value: ((value << f.ofs) & mask) >>> 0, mask: mask >>> 0 };
}

/** The ct zone register subfield (low 16 bits) of a port register. */
export const zoneOf = (f: BitField) => ({ field: f.field, ofs: 0, nBits: 16 });

// Cookie: | feature (8) | generation (16) | object (40) |
export const COOKIE = {
  feature: { ofs: 56, nBits: 8 },
  generation: { ofs: 40, nBits: 16 },
  object: { ofs: 0, nBits: 40 },
} as const;

export const FEATURES = {
  classify: 1,
  port_security: 2,
  security_groups: 3,
  l2: 4,
  tunnels: 5,
  provider: 6,
  base: 7,
  output: 8,
  dhcp: 9,
} as const;
export type FeatureName = keyof typeof FEATURES;

const mask = (b: { ofs: number; nBits: number }) => ((1n << BigInt(b.nBits)) - 1n) << BigInt(b.ofs);
export const GENERATION_MASK = mask(COOKIE.generation);
export const FEATURE_MASK = mask(COOKIE.feature);

/** 40 bits of FNV-1a over the object's name: stable across restarts and hosts. */
export function objectBits(object: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < object.length; i++) {
    h ^= BigInt(object.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h & mask(COOKIE.object);
}

export function makeCookie(feature: FeatureName, generation: number, object: string): bigint {
  return (BigInt(FEATURES[feature]) << BigInt(COOKIE.feature.ofs))
    | (BigInt(generation & 0xffff) << BigInt(COOKIE.generation.ofs))
    | objectBits(object);
}

export const generationOf = (cookie: bigint): number => Number((cookie & GENERATION_MASK) >> BigInt(COOKIE.generation.ofs));
