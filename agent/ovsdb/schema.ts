// The parts of an OVSDB schema (RFC 7047 §3.2) the client needs: each column's kind, for decoding
// datums consistently and for applying update2 diffs (which differ for scalars, sets and maps).
import { decodeLoose, asMap, asSet, type Datum } from './datum.ts';

export type AtomicType = 'integer' | 'real' | 'boolean' | 'string' | 'uuid';
export type ColumnKind = 'scalar' | 'set' | 'map';

export interface ColumnType {
  key: AtomicType;
  value?: AtomicType;
  min: number;
  /** Infinity for "unlimited". */
  max: number;
  /** scalar: exactly one atom; set: min..max atoms (an optional column is a set of max 1); map: has a value type. */
  kind: ColumnKind;
}

export interface TableSchema {
  name: string;
  columns: Map<string, ColumnType>;
  isRoot: boolean;
  indexes: string[][];
}

export interface DbSchema {
  name: string;
  version: string;
  tables: Map<string, TableSchema>;
}

function baseType(j: unknown): AtomicType {
  const t = typeof j === 'string' ? j : (j as { type?: unknown })?.type;
  if (t === 'integer' || t === 'real' || t === 'boolean' || t === 'string' || t === 'uuid') return t;
  throw new TypeError(`bad OVSDB base type ${JSON.stringify(j)}`);
}

export function parseColumnType(j: unknown): ColumnType {
  if (typeof j === 'string') return { key: baseType(j), min: 1, max: 1, kind: 'scalar' };
  const o = j as { key: unknown; value?: unknown; min?: number; max?: number | 'unlimited' };
  const key = baseType(o.key);
  const value = o.value === undefined ? undefined : baseType(o.value);
  const min = o.min ?? 1;
  const max = o.max === 'unlimited' ? Infinity : (o.max ?? 1);
  const kind: ColumnKind = value !== undefined ? 'map' : min === 1 && max === 1 ? 'scalar' : 'set';
  return value === undefined ? { key, min, max, kind } : { key, value, min, max, kind };
}

const UUID_COLUMN: ColumnType = { key: 'uuid', min: 1, max: 1, kind: 'scalar' };

export function parseSchema(j: unknown): DbSchema {
  const o = j as { name: string; version: string; tables: Record<string, { columns: Record<string, { type: unknown }>; isRoot?: boolean; indexes?: string[][] }> };
  const tables = new Map<string, TableSchema>();
  for (const [name, t] of Object.entries(o.tables)) {
    const columns = new Map<string, ColumnType>([
      ['_uuid', UUID_COLUMN],
      ['_version', UUID_COLUMN],
    ]);
    for (const [c, def] of Object.entries(t.columns)) columns.set(c, parseColumnType(def.type));
    tables.set(name, { name, columns, isRoot: t.isRoot ?? false, indexes: t.indexes ?? [] });
  }
  return { name: o.name, version: o.version, tables };
}

export function columnType(schema: DbSchema, table: string, column: string): ColumnType {
  const t = schema.tables.get(table);
  if (!t) throw new Error(`no table ${table} in schema ${schema.name}`);
  const c = t.columns.get(column);
  if (!c) throw new Error(`no column ${column} in table ${table}`);
  return c;
}

/** The value a column has when a row does not set it (update2 insert/initial omit such columns). */
export function defaultDatum(t: ColumnType): Datum {
  if (t.kind === 'map') return new Map();
  if (t.kind === 'set') return [];
  switch (t.key) {
    case 'integer':
    case 'real':
      return 0;
    case 'boolean':
      return false;
    case 'string':
      return '';
    case 'uuid':
      return { uuid: '00000000-0000-0000-0000-000000000000' };
  }
}

/** Decodes a wire datum into the normal form of its column: scalar -> Atom, set -> Atom[], map -> Map. */
export function decodeDatum(j: unknown, t: ColumnType): Datum {
  const d = decodeLoose(j);
  if (t.kind === 'map') return asMap(d);
  if (t.kind === 'set') return asSet(d);
  if (Array.isArray(d) || d instanceof Map) throw new TypeError(`expected one atom for a scalar column, got ${JSON.stringify(j)}`);
  return d;
}

export function decodeRow(table: TableSchema, row: Record<string, unknown>): Record<string, Datum> {
  const out: Record<string, Datum> = {};
  for (const [c, v] of Object.entries(row)) {
    const t = table.columns.get(c);
    out[c] = t ? decodeDatum(v, t) : decodeLoose(v);
  }
  return out;
}

