import { describe, expect, it } from 'vitest';
import { JsonFramingError, JsonStreamSplitter } from '../../../agent/ovsdb/json-stream.ts';

const messages = [
  { id: 1, method: 'echo', params: [] },
  { id: null, method: 'update2', params: ['m', { Interface: { u: { modify: { name: 'a}b{c' } } } }] },
  { id: 2, result: [{ rows: [{ s: 'quote \\" and \\\\ backslash }' }] }], error: null },
  { id: 3, result: ['ünïcødé ✓ 🧵 "{[', '\\', '\\\\"'], error: null },
  { id: 4, result: [[], {}, [[{}]], ''], error: null },
];

describe('JsonStreamSplitter', () => {
  const text = messages.map((m) => JSON.stringify(m)).join('') + '\n' + JSON.stringify({ id: 5, result: 'tail' });
  const all = [...messages, { id: 5, result: 'tail' }];
  const bytes = Buffer.from(text, 'utf8');

  it('splits concatenated messages in one chunk', () => {
    const s = new JsonStreamSplitter();
    expect(s.push(bytes).map((t) => JSON.parse(t))).toEqual(all);
    expect(s.pendingBytes).toBe(0);
  });

  it('gives the same messages when the stream is cut at every byte position', () => {
    for (let cut = 0; cut <= bytes.length; cut++) {
      const s = new JsonStreamSplitter();
      const out = [...s.push(bytes.subarray(0, cut)), ...s.push(bytes.subarray(cut))];
      expect(out.map((t) => JSON.parse(t))).toEqual(all);
    }
  });

  it('copes with one byte at a time (cuts inside UTF-8 sequences and escapes)', () => {
    const s = new JsonStreamSplitter();
    const out: string[] = [];
    for (let i = 0; i < bytes.length; i++) out.push(...s.push(bytes.subarray(i, i + 1)));
    expect(out.map((t) => JSON.parse(t))).toEqual(all);
  });

  it('cuts at every pair of positions for a short message with escapes', () => {
    const b = Buffer.from(JSON.stringify({ a: '}\\"{', b: ['é'] }) + JSON.stringify([1, { c: '\\' }]));
    for (let i = 0; i <= b.length; i++) {
      for (let j = i; j <= b.length; j++) {
        const s = new JsonStreamSplitter();
        const out = [...s.push(b.subarray(0, i)), ...s.push(b.subarray(i, j)), ...s.push(b.subarray(j))];
        expect(out.map((t) => JSON.parse(t))).toEqual([{ a: '}\\"{', b: ['é'] }, [1, { c: '\\' }]]);
      }
    }
  });

  it('does not mutate across reused input buffers', () => {
    const s = new JsonStreamSplitter();
    const buf = Buffer.from('{"a":');
    expect(s.push(buf)).toEqual([]);
    buf.write('XXXXX');
    expect(s.push('1}')).toEqual(['{"a":1}']);
  });

  it('rejects garbage between messages', () => {
    const s = new JsonStreamSplitter();
    expect(() => s.push('{"a":1} x')).toThrow(JsonFramingError);
  });

  it('enforces the size limit', () => {
    const s = new JsonStreamSplitter(10);
    expect(() => s.push('{"a":"0123456789"')).toThrow(/exceeds/);
  });
});
