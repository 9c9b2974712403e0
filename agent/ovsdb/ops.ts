// Builders for RFC 7047 §5.2 transaction operations. Inputs are plain JS datums (datum.ts); outputs
// are the JSON objects that go on the wire.
import { encodeDatum, type Datum } from './datum.ts';

export type ConditionFn = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'includes' | 'excludes';
export type Condition = readonly [column: string, fn: ConditionFn, value: Datum];
export type Mutator = '+=' | '-=' | '*=' | '/=' | '%=' | 'insert' | 'delete';
export type Mutation = readonly [column: string, mutator: Mutator, value: Datum];
export type Row = Record<string, Datum>;

/** A JSON operation object as sent to the server; `op` and `table` are kept for error messages. */
export interface Operation {
  op: string;
  table?: string;
  [k: string]: unknown;
}

const encodeWhere = (where: readonly Condition[]) => where.map(([c, f, v]) => [c, f, encodeDatum(v)]);
const encodeRow = (row: Row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, encodeDatum(v)]));

export const op = {
  insert(table: string, row: Row, uuidName?: string): Operation {
    return uuidName ? { op: 'insert', table, row: encodeRow(row), 'uuid-name': uuidName } : { op: 'insert', table, row: encodeRow(row) };
  },
  select(table: string, where: readonly Condition[], columns?: readonly string[]): Operation {
    return columns ? { op: 'select', table, where: encodeWhere(where), columns: [...columns] } : { op: 'select', table, where: encodeWhere(where) };
  },
  update(table: string, where: readonly Condition[], row: Row): Operation {
    return { op: 'update', table, where: encodeWhere(where), row: encodeRow(row) };
  },
  mutate(table: string, where: readonly Condition[], mutations: readonly Mutation[]): Operation {
    return { op: 'mutate', table, where: encodeWhere(where), mutations: mutations.map(([c, m, v]) => [c, m, encodeDatum(v)]) };
  },
  delete(table: string, where: readonly Condition[]): Operation {
    return { op: 'delete', table, where: encodeWhere(where) };
  },
  /** Fails the transaction unless the rows matching `where`, projected on `columns`, are (or are not) exactly `rows`. */
  wait(table: string, where: readonly Condition[], columns: readonly string[], until: '==' | '!=', rows: readonly Row[], timeoutMs = 0): Operation {
    return { op: 'wait', table, timeout: timeoutMs, where: encodeWhere(where), columns: [...columns], until, rows: rows.map(encodeRow) };
  },
  commit(durable: boolean): Operation {
    return { op: 'commit', durable };
  },
  abort(): Operation {
    return { op: 'abort' };
  },
  comment(comment: string): Operation {
    return { op: 'comment', comment };
  },
  assert(lock: string): Operation {
    return { op: 'assert', lock };
  },
};
