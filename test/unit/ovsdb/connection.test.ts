// The connection and monitor against a scripted fake server on a unix socket.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { OvsdbConnection, parseTarget } from '../../../agent/ovsdb/connection.ts';
import { OvsdbError } from '../../../agent/ovsdb/errors.ts';
import { OvsdbMonitor } from '../../../agent/ovsdb/monitor.ts';
import { op } from '../../../agent/ovsdb/ops.ts';

const dir = mkdtempSync(join(tmpdir(), 'wtu'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Handler = (msg: { id: unknown; method: string; params: unknown[] }, send: (o: unknown) => void) => void;
let server: net.Server | undefined;
let n = 0;

async function fakeServer(handler: Handler, onConn?: (send: (o: unknown) => void, got: unknown[]) => void) {
  const path = join(dir, `s${n++}.sock`);
  const got: unknown[] = [];
  server = net.createServer((sock) => {
    const send = (o: unknown) => sock.write(typeof o === 'string' ? o : JSON.stringify(o));
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      // test messages never contain braces in strings, so a naive split is enough here
      let depth = 0;
      let start = 0;
      for (let i = 0; i < buf.length; i++) {
        if (buf[i] === '{') depth++;
        else if (buf[i] === '}' && --depth === 0) {
          const m = JSON.parse(buf.slice(start, i + 1));
          got.push(m);
          if (m.method) handler(m, send);
          start = i + 1;
        }
      }
      buf = buf.slice(start);
    });
    onConn?.(send, got);
  });
  await new Promise<void>((r) => server!.listen(path, r));
  return { target: `unix:${path}`, got };
}

afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

const miniSchema = {
  name: 'Open_vSwitch',
  version: '1',
  tables: { Interface: { columns: { name: { type: 'string' }, ofport: { type: { key: 'integer', min: 0, max: 1 } } } } },
};

describe('OvsdbConnection', () => {
  it('parses targets', () => {
    expect(parseTarget('unix:/a/b')).toEqual({ path: '/a/b' });
    expect(parseTarget('tcp:127.0.0.1:6640')).toEqual({ host: '127.0.0.1', port: 6640 });
    expect(parseTarget('tcp:[::1]:6640')).toEqual({ host: '::1', port: 6640 });
    expect(() => parseTarget('ssl:x:1')).toThrow();
  });

  it('matches replies by id, answers echo, surfaces per-op errors as OvsdbError', async () => {
    let echoReply: unknown;
    const { target, got } = await fakeServer(
      (m, send) => {
        if (m.method === 'list_dbs') setTimeout(() => send({ id: m.id, result: ['Open_vSwitch'], error: null }), 20);
        if (m.method === 'transact')
          send({
            id: m.id,
            result: [{ count: 1 }, { syntax: '{"nosuch":1}', details: 'No column nosuch in table Port.', error: 'unknown column' }, null],
            error: null,
          });
        if (m.method === 'get_schema') send({ id: m.id, result: null, error: 'unknown database' });
      },
      (send) => send({ id: 'probe', method: 'echo', params: ['x'] }),
    );
    const c = await OvsdbConnection.connect(target);
    const [dbs, err, err2] = await Promise.all([
      c.listDbs(),
      c.transact('Open_vSwitch', [op.mutate('Open_vSwitch', [], [['next_cfg', '+=', 1]]), op.update('Port', [], { nosuch: 1 }), op.comment('x')]).catch((e) => e),
      c.getSchema('Nope').catch((e) => e),
    ]);
    expect(dbs).toEqual(['Open_vSwitch']);
    expect(err).toBeInstanceOf(OvsdbError);
    expect(err).toMatchObject({ error: 'unknown column', opIndex: 1, op: 'update Port', details: 'No column nosuch in table Port.' });
    expect(String(err.message)).toContain('operation #1 (update Port)');
    expect(err2).toMatchObject({ error: 'unknown database', method: 'get_schema' });
    echoReply = got.find((g) => (g as { id: unknown }).id === 'probe');
    expect(echoReply).toEqual({ id: 'probe', result: ['x'], error: null });
    await c.close();
  });

  it('rejects pending requests and emits close when the server goes away', async () => {
    let sock: (() => void) | undefined;
    const { target } = await fakeServer(() => sock?.());
    server!.on('connection', (s) => (sock = () => s.destroy()));
    const c = await OvsdbConnection.connect(target);
    const closed = new Promise((r) => c.once('close', r));
    await expect(c.listDbs()).rejects.toMatchObject({ error: 'connection closed' });
    await closed;
    expect(c.closed).toBe(true);
    await expect(c.listDbs()).rejects.toBeInstanceOf(OvsdbError);
  });
});

describe('OvsdbMonitor', () => {
  it('applies the initial reply before an update2 that arrives in the same chunk', async () => {
    const { target } = await fakeServer((m, send) => {
      if (m.method === 'get_schema') send({ id: m.id, result: miniSchema, error: null });
      if (m.method === 'monitor_cond') {
        const mid = m.params[1];
        // reply and notification written together: one 'data' event on the client
        const reply = JSON.stringify({ id: m.id, result: { Interface: { u1: { initial: { name: 'a' } } } }, error: null });
        const upd = JSON.stringify({ id: null, method: 'update2', params: [mid, { Interface: { u1: { modify: { ofport: 3 } } } }] });
        send(reply + upd);
      }
    });
    const c = await OvsdbConnection.connect(target);
    const seen: string[] = [];
    const mon = await OvsdbMonitor.start(c, 'Open_vSwitch', { Interface: { columns: ['name', 'ofport'] } }, (ch) =>
      seen.push(...ch.map((x) => `${x.kind}:${x.uuid}`)),
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual(['insert:u1', 'modify:u1']);
    expect(mon.replica.get('Interface', 'u1')).toEqual({ name: 'a', ofport: [3] });
    await c.close();
  });
});
