// A local copy of the monitored rows, kept current by applying <table-updates2> (the update2
// notification of monitor_cond). In "modify", a changed column carries:
//   column holding at most one element (scalar, or optional with max 1)
//                  -> the new value (["set",[]] when an optional column becomes empty);
//                     checked against ovsdb-server 3.1: datapath_id aa01 -> aa02 arrives as "aa02"
//   set column (max > 1) -> the elements to toggle: those in the old set are removed, the others added
//   map column     -> pairs to apply: a new key is added, a key with the same value is removed,
//                     a key with a different value gets the new value
// "initial" and "insert" carry the row, omitting columns whose value is the column's default.
import { atomKey, type Atom, type Datum, type OvsMap } from './datum.ts';
import type { TableUpdates2 } from './connection.ts';
import { decodeDatum, defaultDatum, type ColumnType, type DbSchema } from './schema.ts';

export type ReplicaRow = Record<string, Datum>;

export interface RowChange {
  table: string;
  uuid: string;
  kind: 'insert' | 'modify' | 'delete';
  /** True for rows delivered as "initial" (the monitor's starting state). */
  initial: boolean;
  /** Row before the change (modify, delete). */
  old?: ReplicaRow;
  /** Row after the change (insert, modify). */
  new?: ReplicaRow;
  /** Columns whose value changed (modify). */
  changed?: string[];
}

export function applySetDiff(old: Atom[], diff: Atom[]): Atom[] {
  const result = new Map<string, Atom>(old.map((a) => [atomKey(a), a]));
  for (const a of diff) {
    const k = atomKey(a);
    if (result.has(k)) result.delete(k);
    else result.set(k, a);
  }
  return [...result.values()];
}

export function applyMapDiff(old: OvsMap, diff: OvsMap): OvsMap {
  // Index by atom key so uuid-keyed maps work too; keep insertion order of the old map.
  const result = new Map<string, [Atom, Atom]>([...old].map(([k, v]) => [atomKey(k), [k, v]]));
  for (const [k, v] of diff) {
    const key = atomKey(k);
    const cur = result.get(key);
    if (cur === undefined) result.set(key, [k, v]);
    else if (atomKey(cur[1]) === atomKey(v)) result.delete(key);
    else result.set(key, [k, v]);
  }
  return new Map([...result.values()]);
}

/** Applies one column's update2 "modify" value to its old value. */
export function applyColumnDiff(t: ColumnType, old: Datum, wire: unknown): Datum {
  const diff = decodeDatum(wire, t);
  if (t.max === 1) return diff;
  if (t.kind === 'map') return applyMapDiff(old as OvsMap, diff as OvsMap);
  if (t.kind === 'set') return applySetDiff(old as Atom[], diff as Atom[]);
  return diff;
}

export class Replica {
  /** table -> uuid -> row (only the monitored columns, normalised by column kind). */
  readonly tables = new Map<string, Map<string, ReplicaRow>>();
  private readonly columns = new Map<string, string[]>();

  /**
   * @param schema the database schema (column kinds)
   * @param monitored table -> monitored columns (undefined: all columns of the table)
   */
  constructor(
    private readonly schema: DbSchema,
    monitored: Record<string, readonly string[] | undefined>,
  ) {
    for (const [table, cols] of Object.entries(monitored)) {
      const ts = schema.tables.get(table);
      if (!ts) throw new Error(`no table ${table} in schema ${schema.name}`);
      const list = cols ? [...cols] : [...ts.columns.keys()].filter((c) => c !== '_uuid' && c !== '_version');
      for (const c of list) if (!ts.columns.has(c)) throw new Error(`no column ${c} in table ${table}`);
      this.columns.set(table, list);
      this.tables.set(table, new Map());
    }
  }

  table(name: string): Map<string, ReplicaRow> {
    let t = this.tables.get(name);
    if (!t) {
      t = new Map();
      this.tables.set(name, t);
    }
    return t;
  }

  get(table: string, uuid: string): ReplicaRow | undefined {
    return this.tables.get(table)?.get(uuid);
  }

  /** Applies a <table-updates2> and returns what changed, in order. */
  apply(updates: TableUpdates2): RowChange[] {
    const changes: RowChange[] = [];
    for (const [table, rows] of Object.entries(updates ?? {})) {
      const ts = this.schema.tables.get(table);
      if (!ts) throw new Error(`update for unknown table ${table}`);
      const t = this.table(table);
      const cols = this.columns.get(table) ?? [...ts.columns.keys()].filter((c) => c !== '_uuid' && c !== '_version');
      for (const [uuid, u] of Object.entries(rows)) {
        const body = u.initial ?? u.insert;
        if (body !== undefined) {
          const row: ReplicaRow = {};
          for (const c of cols) row[c] = defaultDatum(ts.columns.get(c)!);
          for (const [c, v] of Object.entries(body)) {
            const ct = ts.columns.get(c);
            if (ct) row[c] = decodeDatum(v, ct);
          }
          const old = t.get(uuid);
          t.set(uuid, row);
          changes.push(
            old
              ? { table, uuid, kind: 'modify', initial: u.initial !== undefined, old, new: row, changed: Object.keys(row) }
              : { table, uuid, kind: 'insert', initial: u.initial !== undefined, new: row },
          );
        } else if (u.modify !== undefined) {
          const old = t.get(uuid);
          if (!old) throw new Error(`update2 modify for unknown row ${table} ${uuid}`);
          const row: ReplicaRow = { ...old };
          const changed: string[] = [];
          for (const [c, v] of Object.entries(u.modify)) {
            const ct = ts.columns.get(c);
            if (!ct) continue;
            row[c] = applyColumnDiff(ct, old[c] ?? defaultDatum(ct), v);
            changed.push(c);
          }
          t.set(uuid, row);
          changes.push({ table, uuid, kind: 'modify', initial: false, old, new: row, changed });
        } else if ('delete' in u) {
          const old = t.get(uuid);
          t.delete(uuid);
          if (old) changes.push({ table, uuid, kind: 'delete', initial: false, old });
        }
      }
    }
    return changes;
  }
}
