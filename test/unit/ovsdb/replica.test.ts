import { describe, expect, it } from 'vitest';
import { uuid } from '../../../agent/ovsdb/datum.ts';
import { applyMapDiff, applySetDiff, Replica } from '../../../agent/ovsdb/replica.ts';
import { parseSchema } from '../../../agent/ovsdb/schema.ts';

const schema = parseSchema({
  name: 'Open_vSwitch',
  version: '8.3.1',
  tables: {
    Interface: {
      columns: {
        name: { type: 'string' },
        ofport: { type: { key: 'integer', min: 0, max: 1 } },
        external_ids: { type: { key: 'string', value: 'string', min: 0, max: 'unlimited' } },
        error: { type: { key: 'string', min: 0, max: 1 } },
        type: { type: 'string' },
      },
    },
    Bridge: {
      columns: {
        name: { type: 'string' },
        ports: { type: { key: { type: 'uuid', refTable: 'Port' }, min: 0, max: 'unlimited' } },
        protocols: { type: { key: 'string', min: 0, max: 'unlimited' } },
      },
    },
    Open_vSwitch: { columns: { next_cfg: { type: 'integer' }, cur_cfg: { type: 'integer' } } },
  },
});

describe('update2 diff application', () => {
  it('toggles set elements', () => {
    expect(applySetDiff([1, 2, 3], [2, 4])).toEqual([1, 3, 4]);
    expect(applySetDiff([], [5])).toEqual([5]);
    expect(applySetDiff([5], [5, 6])).toEqual([6]);
    expect(applySetDiff([uuid('a'), uuid('b')], [uuid('a')])).toEqual([uuid('b')]);
  });

  it('adds, removes and replaces map keys', () => {
    const old = new Map<string, string>([['a', '1'], ['b', '2'], ['c', '3']]);
    const diff = new Map<string, string>([['a', '1'], ['b', '9'], ['d', '4']]);
    expect(applyMapDiff(old, diff)).toEqual(new Map([['b', '9'], ['c', '3'], ['d', '4']]));
  });
});

describe('Replica', () => {
  const mk = () => new Replica(schema, { Interface: ['name', 'ofport', 'external_ids', 'error', 'type'], Bridge: undefined, Open_vSwitch: ['next_cfg', 'cur_cfg'] });

  it('fills defaults for omitted columns on initial/insert', () => {
    const r = mk();
    const ch = r.apply({ Interface: { u1: { initial: { name: 'vm1', external_ids: ['map', [['iface-id', 'lsp1']]] } } } });
    expect(ch).toEqual([
      expect.objectContaining({ table: 'Interface', uuid: 'u1', kind: 'insert', initial: true }),
    ]);
    expect(r.get('Interface', 'u1')).toEqual({ name: 'vm1', ofport: [], external_ids: new Map([['iface-id', 'lsp1']]), error: [], type: '' });
  });

  it('applies the observed ovsdb-server sequence (insert, then ofport and cur_cfg)', () => {
    const r = mk();
    r.apply({ Open_vSwitch: { o: { initial: { next_cfg: 10, cur_cfg: 10 } } } });
    r.apply({
      Interface: { i: { insert: { name: 'vm5', external_ids: ['map', [['attached-mac', '02:00:00:00:00:05'], ['iface-id', 'lsp-vm5']]] } } },
      Open_vSwitch: { o: { modify: { next_cfg: 11 } } },
    });
    const ch = r.apply({ Interface: { i: { modify: { ofport: 5 } } }, Open_vSwitch: { o: { modify: { cur_cfg: 11 } } } });
    expect(r.get('Interface', 'i')!.ofport).toEqual([5]);
    expect(r.get('Open_vSwitch', 'o')).toEqual({ next_cfg: 11, cur_cfg: 11 });
    expect(ch[0]).toMatchObject({ kind: 'modify', changed: ['ofport'], old: { ofport: [] }, new: { ofport: [5] } });
  });

  it('replaces optional (max 1) columns; toggles sets and applies map diffs', () => {
    const r = mk();
    r.apply({
      Interface: { i: { initial: { name: 'p', ofport: 5, error: 'could not open', external_ids: ['map', [['a', '1'], ['b', '2']]] } } },
      Bridge: { b: { initial: { name: 'br', ports: ['set', [['uuid', 'p1'], ['uuid', 'p2']]], protocols: 'OpenFlow13' } } },
    });
    r.apply({
      Interface: { i: { modify: { ofport: 6, error: ['set', []], external_ids: ['map', [['a', '1'], ['b', '3'], ['c', '4']]] } } },
      Bridge: { b: { modify: { ports: ['set', [['uuid', 'p1'], ['uuid', 'p3']]], protocols: ['set', ['OpenFlow13', 'OpenFlow15']], name: 'br2' } } },
    });
    expect(r.get('Interface', 'i')).toMatchObject({ ofport: [6], error: [], external_ids: new Map([['b', '3'], ['c', '4']]) });
    expect(r.get('Bridge', 'b')).toEqual({ name: 'br2', ports: [uuid('p2'), uuid('p3')], protocols: ['OpenFlow15'] });
    r.apply({ Interface: { i: { modify: { ofport: ['set', []], error: 'x' } } } });
    expect(r.get('Interface', 'i')).toMatchObject({ ofport: [], error: ['x'] });
  });

  it('deletes rows and reports the old row', () => {
    const r = mk();
    r.apply({ Interface: { i: { insert: { name: 'x' } } } });
    const ch = r.apply({ Interface: { i: { delete: null } } });
    expect(ch).toEqual([expect.objectContaining({ kind: 'delete', old: expect.objectContaining({ name: 'x' }) })]);
    expect(r.get('Interface', 'i')).toBeUndefined();
    expect(r.apply({ Interface: { gone: { delete: null } } })).toEqual([]);
  });

  it('rejects a modify for an unknown row and unknown tables', () => {
    const r = mk();
    expect(() => r.apply({ Interface: { nope: { modify: { name: 'x' } } } })).toThrow(/unknown row/);
    expect(() => new Replica(schema, { Nope: undefined })).toThrow(/no table/);
    expect(() => new Replica(schema, { Interface: ['bogus'] })).toThrow(/no column/);
  });
});
