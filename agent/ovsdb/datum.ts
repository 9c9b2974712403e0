// OVSDB datum encoding (RFC 7047 §5.1) to and from plain JS values:
//   atom   string | number | boolean | {uuid} | {namedUuid}   <->  "s" | 1 | true | ["uuid",u] | ["named-uuid",n]
//   set    Atom[]                                              <->  ["set",[atoms]]  (or a bare atom for 1 element)
//   map    Map<Atom, Atom>                                     <->  ["map",[[k,v],...]]
// Without a schema a one-element set and a scalar look alike on the wire; decodeDatum() with a
// column type (schema.ts) normalises that, decodeLoose() keeps whatever the wire said.

export interface Uuid {
  readonly uuid: string;
}
export interface NamedUuid {
  readonly namedUuid: string;
}
export type Atom = string | number | boolean | Uuid | NamedUuid;
export type OvsSet = Atom[];
export type OvsMap = Map<Atom, Atom>;
export type Datum = Atom | OvsSet | OvsMap;

export type JsonAtom = string | number | boolean | ['uuid', string] | ['named-uuid', string];
export type JsonDatum = JsonAtom | ['set', JsonAtom[]] | ['map', [JsonAtom, JsonAtom][]];

export const uuid = (u: string): Uuid => ({ uuid: u });
export const namedUuid = (n: string): NamedUuid => ({ namedUuid: n });

export function isUuid(a: unknown): a is Uuid {
  return typeof a === 'object' && a !== null && typeof (a as Uuid).uuid === 'string' && !Array.isArray(a);
}
export function isNamedUuid(a: unknown): a is NamedUuid {
  return typeof a === 'object' && a !== null && typeof (a as NamedUuid).namedUuid === 'string' && !Array.isArray(a);
}
export function isAtom(d: unknown): d is Atom {
  return typeof d === 'string' || typeof d === 'number' || typeof d === 'boolean' || isUuid(d) || isNamedUuid(d);
}

/** A string key that is equal for equal atoms (uuids compare by value). */
export function atomKey(a: Atom): string {
  switch (typeof a) {
    case 'string':
      return `s${a}`;
    case 'number':
      return `n${a}`;
    case 'boolean':
      return a ? 'b1' : 'b0';
    default:
      return isUuid(a) ? `u${a.uuid}` : `N${(a as NamedUuid).namedUuid}`;
  }
}

export function atomEquals(a: Atom, b: Atom): boolean {
  return atomKey(a) === atomKey(b);
}

export function encodeAtom(a: Atom): JsonAtom {
  if (typeof a === 'string' || typeof a === 'number' || typeof a === 'boolean') return a;
  if (isUuid(a)) return ['uuid', a.uuid];
  if (isNamedUuid(a)) return ['named-uuid', a.namedUuid];
  throw new TypeError(`not an OVSDB atom: ${JSON.stringify(a)}`);
}

/** Arrays become sets, Maps become maps, anything else must be an atom. */
export function encodeDatum(d: Datum): JsonDatum {
  if (Array.isArray(d)) return ['set', d.map(encodeAtom)];
  if (d instanceof Map) return ['map', [...d].map(([k, v]) => [encodeAtom(k), encodeAtom(v)] as [JsonAtom, JsonAtom])];
  return encodeAtom(d);
}

export function decodeAtom(j: unknown): Atom {
  if (typeof j === 'string' || typeof j === 'number' || typeof j === 'boolean') return j;
  if (Array.isArray(j) && j.length === 2 && typeof j[1] === 'string') {
    if (j[0] === 'uuid') return uuid(j[1]);
    if (j[0] === 'named-uuid') return namedUuid(j[1]);
  }
  throw new TypeError(`not an OVSDB atom: ${JSON.stringify(j)}`);
}

/** Decodes as the wire says: a bare atom stays an atom (even if the column is a set). */
export function decodeLoose(j: unknown): Datum {
  if (Array.isArray(j) && j.length === 2) {
    if (j[0] === 'set' && Array.isArray(j[1])) return j[1].map(decodeAtom);
    if (j[0] === 'map' && Array.isArray(j[1])) {
      const m: OvsMap = new Map();
      for (const pair of j[1] as unknown[]) {
        if (!Array.isArray(pair) || pair.length !== 2) throw new TypeError(`bad map pair ${JSON.stringify(pair)}`);
        m.set(decodeAtom(pair[0]), decodeAtom(pair[1]));
      }
      return m;
    }
  }
  return decodeAtom(j);
}

/** A set view of a datum: a bare atom is a one-element set. */
export function asSet(d: Datum | undefined): Atom[] {
  if (d === undefined) return [];
  if (Array.isArray(d)) return d;
  if (d instanceof Map) throw new TypeError('expected a set, got a map');
  return [d];
}

/** A map view; an empty set (["set",[]]) is also an empty map. */
export function asMap(d: Datum | undefined): OvsMap {
  if (d === undefined) return new Map();
  if (d instanceof Map) return d;
  if (Array.isArray(d) && d.length === 0) return new Map();
  throw new TypeError(`expected a map, got ${JSON.stringify(d)}`);
}

/** The value of an optional (0..1) column, or undefined when it is the empty set. */
export function asOptional(d: Datum | undefined): Atom | undefined {
  const s = asSet(d);
  if (s.length > 1) throw new TypeError(`expected at most one element, got ${s.length}`);
  return s[0];
}

/** Map with string keys and values as a plain record (other atoms are stringified). */
export function mapToRecord(d: Datum | undefined): Record<string, string> {
  const r: Record<string, string> = {};
  for (const [k, v] of asMap(d)) r[atomToString(k)] = atomToString(v);
  return r;
}

export function recordToMap(r: Record<string, string | number | boolean>): OvsMap {
  return new Map(Object.entries(r));
}

export function atomToString(a: Atom): string {
  if (typeof a === 'string') return a;
  if (typeof a === 'number' || typeof a === 'boolean') return String(a);
  return isUuid(a) ? a.uuid : (a as NamedUuid).namedUuid;
}

/** Structural equality of two datums (sets compare as sets, maps as maps). */
export function datumEquals(a: Datum, b: Datum): boolean {
  const aIsMap = a instanceof Map;
  const bIsMap = b instanceof Map;
  if (aIsMap || bIsMap) {
    const am = asMap(a);
    const bm = asMap(b);
    if (am.size !== bm.size) return false;
    const bk = new Map([...bm].map(([k, v]) => [atomKey(k), atomKey(v)]));
    for (const [k, v] of am) if (bk.get(atomKey(k)) !== atomKey(v)) return false;
    return true;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    const as = new Set(asSet(a).map(atomKey));
    const bs = new Set(asSet(b).map(atomKey));
    if (as.size !== bs.size) return false;
    for (const k of as) if (!bs.has(k)) return false;
    return true;
  }
  return atomKey(a as Atom) === atomKey(b as Atom);
}
