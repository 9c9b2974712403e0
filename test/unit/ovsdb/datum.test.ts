import { describe, expect, it } from 'vitest';
import {
  asMap,
  asOptional,
  asSet,
  datumEquals,
  decodeLoose,
  encodeDatum,
  mapToRecord,
  namedUuid,
  uuid,
} from '../../../agent/ovsdb/datum.ts';
import { decodeDatum, defaultDatum, parseColumnType, parseSchema } from '../../../agent/ovsdb/schema.ts';
import { op } from '../../../agent/ovsdb/ops.ts';

describe('datum encoding', () => {
  it('encodes atoms, sets, maps and uuids', () => {
    expect(encodeDatum('x')).toBe('x');
    expect(encodeDatum(5)).toBe(5);
    expect(encodeDatum(false)).toBe(false);
    expect(encodeDatum(uuid('a-b'))).toEqual(['uuid', 'a-b']);
    expect(encodeDatum(namedUuid('row1'))).toEqual(['named-uuid', 'row1']);
    expect(encodeDatum([])).toEqual(['set', []]);
    expect(encodeDatum([1, 2])).toEqual(['set', [1, 2]]);
    expect(encodeDatum([namedUuid('p')])).toEqual(['set', [['named-uuid', 'p']]]);
    expect(encodeDatum(new Map([['iface-id', 'lsp1']]))).toEqual(['map', [['iface-id', 'lsp1']]]);
    expect(encodeDatum(new Map<string | number, unknown>([[1, uuid('q')]]) as never)).toEqual(['map', [[1, ['uuid', 'q']]]]);
  });

  it('rejects non-atoms', () => {
    expect(() => encodeDatum({ foo: 1 } as never)).toThrow(TypeError);
    expect(() => decodeLoose(['nope', 1])).toThrow(TypeError);
    expect(() => decodeLoose(null)).toThrow(TypeError);
  });

  it('decodes loosely and round-trips', () => {
    const cases: unknown[] = ['s', 1, 2.5, true, ['uuid', 'u1'], ['set', []], ['set', ['a', 'b']], ['map', [['k', 'v'], ['k2', ['uuid', 'u']]]]];
    for (const c of cases) expect(encodeDatum(decodeLoose(c))).toEqual(c);
    expect(decodeLoose(['uuid', 'u1'])).toEqual(uuid('u1'));
    expect(decodeLoose(['map', [['a', '1']]])).toEqual(new Map([['a', '1']]));
  });

  it('views: asSet/asMap/asOptional/mapToRecord', () => {
    expect(asSet(decodeLoose(5))).toEqual([5]);
    expect(asSet(decodeLoose(['set', []]))).toEqual([]);
    expect(asOptional(decodeLoose(['set', []]))).toBeUndefined();
    expect(asOptional(decodeLoose(7))).toBe(7);
    expect(() => asOptional([1, 2])).toThrow();
    expect(asMap(decodeLoose(['set', []]))).toEqual(new Map());
    expect(mapToRecord(decodeLoose(['map', [['iface-id', 'x'], ['n', 3]]]))).toEqual({ 'iface-id': 'x', n: '3' });
  });

  it('compares datums structurally', () => {
    expect(datumEquals([1, 2], [2, 1])).toBe(true);
    expect(datumEquals(5, [5])).toBe(true);
    expect(datumEquals(new Map([['a', '1'], ['b', '2']]), new Map([['b', '2'], ['a', '1']]))).toBe(true);
    expect(datumEquals(new Map([['a', '1']]), new Map([['a', '2']]))).toBe(false);
    expect(datumEquals(uuid('x'), uuid('x'))).toBe(true);
    expect(datumEquals('1', 1)).toBe(false);
  });
});

describe('schema column types', () => {
  it('classifies scalar, optional set, set and map', () => {
    expect(parseColumnType('integer')).toMatchObject({ kind: 'scalar', key: 'integer' });
    expect(parseColumnType({ key: 'integer', min: 0, max: 1 })).toMatchObject({ kind: 'set', max: 1 });
    expect(parseColumnType({ key: { type: 'uuid', refTable: 'Port' }, min: 0, max: 'unlimited' })).toMatchObject({ kind: 'set', max: Infinity });
    expect(parseColumnType({ key: 'string', value: 'string', min: 0, max: 'unlimited' })).toMatchObject({ kind: 'map' });
    expect(parseColumnType({ key: { type: 'string', enum: ['set', ['a', 'b']] } })).toMatchObject({ kind: 'scalar', key: 'string' });
  });

  it('normalises datums by column kind and knows defaults', () => {
    const opt = parseColumnType({ key: 'integer', min: 0, max: 1 });
    expect(decodeDatum(5, opt)).toEqual([5]);
    expect(decodeDatum(['set', []], opt)).toEqual([]);
    expect(defaultDatum(opt)).toEqual([]);
    const map = parseColumnType({ key: 'string', value: 'string', min: 0, max: 'unlimited' });
    expect(decodeDatum(['set', []], map)).toEqual(new Map());
    expect(defaultDatum(parseColumnType('integer'))).toBe(0);
    expect(defaultDatum(parseColumnType('string'))).toBe('');
    expect(() => decodeDatum(['set', [1, 2]], parseColumnType('integer'))).toThrow();
  });

  it('parses a schema and adds _uuid', () => {
    const s = parseSchema({ name: 'db', version: '1.0.0', tables: { T: { columns: { a: { type: 'string' } }, isRoot: true, indexes: [['a']] } } });
    expect(s.tables.get('T')!.columns.get('_uuid')).toMatchObject({ key: 'uuid', kind: 'scalar' });
    expect(s.tables.get('T')!.isRoot).toBe(true);
  });
});

describe('operation builders', () => {
  it('encode datums in rows, conditions and mutations', () => {
    expect(op.insert('Port', { name: 'p', interfaces: [namedUuid('i')] }, 'p')).toEqual({
      op: 'insert', table: 'Port', row: { name: 'p', interfaces: ['set', [['named-uuid', 'i']]] }, 'uuid-name': 'p',
    });
    expect(op.mutate('Bridge', [['name', '==', 'br-int']], [['ports', 'insert', [namedUuid('p')]]])).toEqual({
      op: 'mutate', table: 'Bridge', where: [['name', '==', 'br-int']], mutations: [['ports', 'insert', ['set', [['named-uuid', 'p']]]]],
    });
    expect(op.wait('Bridge', [['name', '==', 'b']], ['name'], '==', [])).toEqual({
      op: 'wait', table: 'Bridge', timeout: 0, where: [['name', '==', 'b']], columns: ['name'], until: '==', rows: [],
    });
  });
});
