// nf_tables set batches (agent/l3/nft-set-batch.ts), read back with a netlink decoder of the test's
// own: message order and flags, sequence numbers, the nested element attributes, and the acks.
import { describe, expect, it } from 'vitest';
import { ipv4Bytes, parseAcks, replaceSetsBatch, setsBatch } from '../../../agent/l3/nft-set-batch.ts';

interface Msg { type: number; flags: number; seq: number; family: number; resId: number; attrs: Attr[] }
interface Attr { type: number; nested: boolean; data: Buffer }

function attrs(b: Buffer): Attr[] {
  const out: Attr[] = [];
  for (let at = 0; at < b.length;) {
    const len = b.readUInt16LE(at);
    const type = b.readUInt16LE(at + 2);
    expect(len).toBeGreaterThanOrEqual(4);
    out.push({ type: type & 0x3fff, nested: (type & 0x8000) !== 0, data: b.subarray(at + 4, at + len) });
    at += (len + 3) & ~3;
  }
  return out;
}

function messages(b: Buffer): Msg[] {
  const out: Msg[] = [];
  for (let at = 0; at < b.length;) {
    const len = b.readUInt32LE(at);
    expect(len % 4).toBe(0);
    out.push({
      type: b.readUInt16LE(at + 4), flags: b.readUInt16LE(at + 6), seq: b.readUInt32LE(at + 8),
      family: b.readUInt8(at + 16), resId: b.readUInt16BE(at + 18), attrs: attrs(b.subarray(at + 20, at + len)),
    });
    at += len;
  }
  return out;
}

const text = (a: Attr | undefined): string => a!.data.toString('utf8').replace(/\0$/, '');
const NEW = (10 << 8) | 12;
const DEL = (10 << 8) | 14;

describe('replaceSetsBatch', () => {
  const a = ipv4Bytes('203.0.113.20');
  const b = ipv4Bytes('10.0.0.5');
  const batch = replaceSetsBatch('weft', [
    { name: 'floating', keys: [a] },
    { name: 'empty', keys: [] },
    { name: 'fip_to_fixed', keys: [a], values: [b] },
  ], 41);
  const msgs = messages(batch.bytes);

  it('frames one transaction: BATCH_BEGIN, a flush and a fill per set (no fill for an empty one), BATCH_END', () => {
    expect(msgs.map((m) => m.type)).toEqual([16, DEL, NEW, DEL, DEL, NEW, 17]);
    expect(msgs.map((m) => m.seq)).toEqual([41, 42, 43, 44, 45, 46, 47]);
    expect(batch.firstSeq).toBe(41);
    expect(batch.nextSeq).toBe(48);
    // The markers name the nf_tables subsystem; the set messages are for the ip family.
    for (const m of [msgs[0], msgs[6]]) expect([m.family, m.resId, m.flags]).toEqual([0, 10, 1]);
    for (const m of msgs.slice(1, 6)) expect(m.family).toBe(2);
  });

  it('asks an ack of every message but the markers, and creates elements without requiring them new', () => {
    expect(batch.acked).toEqual([42, 43, 44, 45, 46]);
    expect(msgs.filter((m) => m.type === DEL).every((m) => m.flags === (1 | 4))).toBe(true);
    expect(msgs.filter((m) => m.type === NEW).every((m) => m.flags === (1 | 4 | 0x400))).toBe(true);
  });

  it('names the table and the set; a flush carries no elements', () => {
    expect(msgs[1].attrs.map((x) => [x.type, text(x)])).toEqual([[1, 'weft'], [2, 'floating']]);
    expect(text(msgs[3].attrs[1])).toBe('empty');
  });

  it('nests each element: key (and data for a map) as a value of raw bytes', () => {
    const [list] = attrs(msgs[5].attrs.find((x) => x.type === 3)!.data);
    expect(list.type).toBe(1);
    expect(list.nested).toBe(true);
    const [key, data] = attrs(list.data);
    expect([key.type, data.type, key.nested, data.nested]).toEqual([1, 2, true, true]);
    expect([...attrs(key.data)[0].data]).toEqual([203, 0, 113, 20]);
    expect([...attrs(data.data)[0].data]).toEqual([10, 0, 0, 5]);
    // A set element has a key only.
    expect(attrs(attrs(msgs[2].attrs[2].data)[0].data).map((x) => x.type)).toEqual([1]);
  });

  it('wraps sequence numbers at 32 bits', () => {
    const w = replaceSetsBatch('t', [{ name: 's', keys: [a] }], 2 ** 32 - 2);
    expect(messages(w.bytes).map((m) => m.seq)).toEqual([2 ** 32 - 2, 2 ** 32 - 1, 0, 1]);
    expect(w.nextSeq).toBe(2);
  });

  it('spreads a set over several fill messages when its elements outgrow an attribute (16-bit length)', () => {
    const keys = Array.from({ length: 3000 }, (_, i) => Uint8Array.from([10, 0, i >> 8, i & 255]));
    const big = messages(replaceSetsBatch('t', [{ name: 'm', keys, values: keys }], 1).bytes);
    expect(big.map((m) => m.type)).toEqual([16, DEL, NEW, NEW, 17]);
    const fills = big.filter((m) => m.type === NEW).map((m) => attrs(m.attrs.find((x) => x.type === 3)!.data));
    expect(fills.every((f) => f.length > 0)).toBe(true);
    expect(fills.flat().map((e) => [...attrs(attrs(e.data)[0].data)[0].data].join('.'))).toEqual(keys.map((k) => k.join('.')));
  });

  it('refuses a map whose values do not match its keys', () => {
    expect(() => replaceSetsBatch('t', [{ name: 'm', keys: [a, b], values: [b] }], 1)).toThrow(/2 keys but 1 values/);
  });
});

describe('setsBatch', () => {
  const [a, b, c] = ['203.0.113.20', '10.0.0.5', '10.0.0.6'].map(ipv4Bytes);
  const elementKeys = (m: Msg): string[] => attrs(m.attrs.find((x) => x.type === 3)!.data).map((e) => [...attrs(attrs(e.data)[0].data)[0].data].join('.'));

  it('takes out the keys of `remove`, then adds the elements, per set; a set with nothing to change sends nothing', () => {
    const msgs = messages(setsBatch('weft', [
      { name: 'fixed', flush: false, remove: [b], keys: [c] },
      { name: 'floating', flush: false, remove: [], keys: [] },
      { name: 'fip_to_fixed', flush: false, remove: [a], keys: [a], values: [c] },
    ], 1).bytes);
    expect(msgs.map((m) => m.type)).toEqual([16, DEL, NEW, DEL, NEW, 17]);
    expect(msgs.slice(1, 5).map((m) => [text(m.attrs[1]), elementKeys(m)])).toEqual([
      ['fixed', ['10.0.0.5']], ['fixed', ['10.0.0.6']], ['fip_to_fixed', ['203.0.113.20']], ['fip_to_fixed', ['203.0.113.20']],
    ]);
    // A removal names keys only, even in a map.
    expect(attrs(attrs(msgs[3].attrs[2].data)[0].data).map((x) => x.type)).toEqual([1]);
    expect(attrs(attrs(msgs[4].attrs[2].data)[0].data).map((x) => x.type)).toEqual([1, 2]);
  });

  it('has nothing to acknowledge when no set changes', () => {
    const empty = setsBatch('weft', [{ name: 'fixed', flush: false, remove: [], keys: [] }], 5);
    expect(empty.acked).toEqual([]);
    expect(messages(empty.bytes).map((m) => m.type)).toEqual([16, 17]);
  });
});

describe('parseAcks', () => {
  const ack = (seq: number, error: number): Buffer => {
    const m = Buffer.alloc(36);
    m.writeUInt32LE(36, 0);
    m.writeUInt16LE(2, 4); // NLMSG_ERROR
    m.writeUInt32LE(seq, 8);
    m.writeInt32LE(error, 16);
    m.writeUInt32LE(20, 20); // the header of the message answered
    m.writeUInt32LE(seq, 28);
    return m;
  };

  it('reads each acknowledgement of a datagram: the message it answers and its error', () => {
    const other = Buffer.alloc(20);
    other.writeUInt32LE(20, 0);
    other.writeUInt16LE(3, 4); // NLMSG_DONE: not an ack
    expect(parseAcks(Buffer.concat([ack(7, 0), other, ack(8, -2)]))).toEqual([{ seq: 7, error: 0 }, { seq: 8, error: -2 }]);
  });

  it('stops at a truncated or malformed message instead of reading past it', () => {
    expect(parseAcks(ack(7, 0).subarray(0, 30))).toEqual([]);
    const bad = ack(7, 0);
    bad.writeUInt32LE(4, 0);
    expect(parseAcks(bad)).toEqual([]);
  });
});

describe('ipv4Bytes', () => {
  it('takes dotted quads only', () => {
    expect([...ipv4Bytes('255.0.10.1')]).toEqual([255, 0, 10, 1]);
    for (const bad of ['1.2.3', '1.2.3.256', '1.2.3.x', '::1', '']) expect(() => ipv4Bytes(bad), bad).toThrow();
  });
});
