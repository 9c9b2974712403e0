import { request, type ClientRequest } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../../controller/app.ts';
import { staticTokens } from '../../../controller/auth/static-tokens.ts';
import { noAuth } from '../../../controller/auth/noauth.ts';
import { testConfig } from '../../../controller/config.ts';
import { MAX_STREAMS_PER_USER, TOPOLOGY_EVENTS_PATH, TOPOLOGY_PREFIX } from '../../../controller/api/topology/index.ts';
import { DASHBOARD_FILES } from '../../../controller/api/dashboard/index.ts';
import { openStore } from '../../../controller/store/open.ts';
import type { Store } from '../../../controller/store/types.ts';
import { ADMIN, ALICE, BOB, type Caller } from '../../helpers/api.ts';

// The dashboard's HTTP side on a listening controller: its static files, tickets, the event stream
// (format, auth, who sees what), and that a stream's subscription ends with its connection.

let app: FastifyInstance;
let store: Store;
let base = '';
/** Store listeners alive now (the sync hub holds one). */
let listeners = 0;
const clients: ClientRequest[] = [];

beforeEach(async () => {
  store = openStore(':memory:');
  const subscribe = store.subscribe.bind(store);
  store.subscribe = (listener) => {
    listeners++;
    const off = subscribe(listener);
    return () => {
      listeners--;
      off();
    };
  };
  app = await buildApp({ config: testConfig(), store, authenticator: noAuth() });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await app.close();
  await store.close();
  listeners = 0;
});

const who = (caller: Caller) => ({ 'x-project-id': caller.project, 'x-roles': (caller.roles ?? ['member']).join(',') });

async function call(caller: Caller, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...who(caller), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function ticket(caller: Caller): Promise<string> {
  const res = await call(caller, 'POST', `${TOPOLOGY_PREFIX}/tickets`);
  expect(res.status).toBe(201);
  expect(Date.parse(res.body.ticket.expires_at)).toBeGreaterThan(Date.now());
  return res.body.ticket.id;
}

interface EventClient {
  status: number;
  headers: Record<string, unknown>;
  /** The next event (skipping keep-alive comments). */
  next(): Promise<{ event: string; data: any }>;
  /** Stop reading from the socket (the server's writes pile up), and read again. */
  pause(): void;
  resume(): void;
  /** Resolves when the server ends or cuts the stream. */
  ended: Promise<void>;
  close(): void;
}

/** A minimal EventSource: one GET, events parsed as they arrive. */
function openEvents(query: string): Promise<EventClient> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${TOPOLOGY_EVENTS_PATH}${query}`, (res) => {
      const queue: Array<{ event: string; data: any }> = [];
      const waiting: Array<(e: { event: string; data: any }) => void> = [];
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (!event) continue;
          const parsed = { event, data: data ? JSON.parse(data) : undefined };
          const waiter = waiting.shift();
          if (waiter) waiter(parsed);
          else queue.push(parsed);
        }
      });
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        next: () => new Promise((ok, fail) => {
          const queued = queue.shift();
          if (queued) return ok(queued);
          const timer = setTimeout(() => fail(new Error('no event within 5 s')), 5000);
          waiting.push((e) => {
            clearTimeout(timer);
            ok(e);
          });
        }),
        pause: () => res.pause(),
        resume: () => res.resume(),
        ended: new Promise<void>((ok) => res.once('close', () => ok())),
        close: () => req.destroy(),
      });
    });
    req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
    clients.push(req);
    req.end();
  });
}

const until = async (fn: () => boolean, what: string) => {
  const deadline = Date.now() + 5000;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('topology events over HTTP', () => {
  it('streams a snapshot, then the changes the caller may see', async () => {
    const net = (await call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'alice-net' } })).body.network;
    const stream = await openEvents(`?ticket=${await ticket(ALICE)}`);
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(stream.headers['cache-control']).toBe('no-store');
    const snapshot = await stream.next();
    expect(snapshot.event).toBe('snapshot');
    expect(snapshot.data).toMatchObject({ revision: store.revision, caller: { project_id: ALICE.project, admin: false } });
    expect(snapshot.data.docs.network.map((n: any) => n.id)).toEqual([net.id]);
    expect(Object.keys(snapshot.data.docs).sort()).toEqual(['floatingip', 'network', 'port', 'router', 'subnet']);

    await call(BOB, 'POST', '/v2.0/networks', { network: { name: 'bob-net' } }); // not hers: no event
    const port = (await call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: net.id, name: 'p1' } })).body.port;
    const change = await stream.next();
    expect(change).toEqual({ event: 'changes', data: { revision: store.revision, changes: [{ op: 'upsert', kind: 'port', doc: expect.objectContaining({ id: port.id, name: 'p1', status: 'DOWN' }) }] } });
    expect(change.data.changes[0].doc).not.toHaveProperty('binding:host_id');
    expect((await call(ALICE, 'DELETE', `/v2.0/ports/${port.id}`)).status).toBe(204);
    expect((await stream.next()).data.changes).toEqual([{ op: 'delete', kind: 'port', id: port.id }]);
  });

  it('refuses a stream without a valid ticket, and a ticket twice', async () => {
    for (const query of ['', '?ticket=nope', '?ticket=a&ticket=b', '?token=whatever']) {
      const res = await call(ALICE, 'GET', `${TOPOLOGY_EVENTS_PATH}${query}`);
      expect(res.status, query).toBe(401);
      expect(res.body.NeutronError.message).toContain('ticket');
    }
    const id = await ticket(ADMIN);
    const first = await openEvents(`?ticket=${id}`);
    expect((await first.next()).data.caller).toEqual({ project_id: ADMIN.project, admin: true });
    expect((await call(ADMIN, 'GET', `${TOPOLOGY_EVENTS_PATH}?ticket=${id}`)).status).toBe(401);
  });

  it('drops the subscription when the client goes away, and limits streams per user', async () => {
    const baseline = listeners;
    const streams: EventClient[] = [];
    for (let i = 0; i < MAX_STREAMS_PER_USER; i++) {
      const s = await openEvents(`?ticket=${await ticket(ALICE)}`);
      await s.next();
      streams.push(s);
    }
    expect(listeners).toBe(baseline + MAX_STREAMS_PER_USER);
    const refused = await call(ALICE, 'GET', `${TOPOLOGY_EVENTS_PATH}?ticket=${await ticket(ALICE)}`);
    expect(refused.status).toBe(429);
    const bobs = await openEvents(`?ticket=${await ticket(BOB)}`); // another user is not affected
    expect((await bobs.next()).event).toBe('snapshot');

    for (const s of streams) s.close();
    bobs.close();
    await until(() => listeners === baseline, 'every subscription to end');
    const again = await openEvents(`?ticket=${await ticket(ALICE)}`);
    expect((await again.next()).event).toBe('snapshot');
    // Closing the app ends open streams instead of waiting for them.
    await app.close();
    expect(listeners).toBe(baseline - 1); // the hub unsubscribed too
  });

  it('cuts a client that stops reading instead of buffering for it without bound', async () => {
    const baseline = listeners;
    const stream = await openEvents(`?ticket=${await ticket(ADMIN)}`);
    await stream.next();
    stream.pause();
    // Admins get every commit: 1 MiB documents fill the socket buffers, then the stream's limit (4 MiB).
    const big = 'x'.repeat(1024 * 1024);
    let commits = 0;
    while (listeners > baseline && commits < 64) {
      await store.transact((tx) => tx.put('network', { id: `big-${commits}`, name: big, project_id: 'p' }));
      commits++;
      await new Promise((r) => setTimeout(r, 5)); // let the socket take what it can
    }
    expect(listeners, `still subscribed after ${commits} MiB`).toBe(baseline);
    stream.resume();
    await stream.ended;
    // Reconnecting gives a fresh snapshot with everything.
    const again = await openEvents(`?ticket=${await ticket(ADMIN)}`);
    const snapshot = await again.next();
    expect(snapshot.event).toBe('snapshot');
    expect(snapshot.data.docs.network).toHaveLength(commits);
    expect(snapshot.data.revision).toBe(store.revision);
  });

  it('serves the dashboard files without a token, and nothing else', async () => {
    const tokenApp = await buildApp({
      config: testConfig({ auth: 'token' }),
      store,
      authenticator: staticTokens({ tokens: { ['a'.repeat(32)]: { project_id: 'p', roles: ['admin'] } } }),
    });
    try {
      await tokenApp.listen({ host: '127.0.0.1', port: 0 });
      const addr = tokenApp.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      // Raw requests: fetch and inject would resolve dot segments before they reach the server.
      const get = (path: string) => new Promise<{ statusCode: number; headers: Record<string, unknown>; body: string }>((ok, fail) => {
        const req = request({ host: '127.0.0.1', port, path }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (body += c));
          res.on('end', () => ok({ statusCode: res.statusCode ?? 0, headers: res.headers, body }));
        });
        req.on('error', fail);
        req.end();
      });
      for (const url of ['/dashboard', '/dashboard/']) {
        const page = await get(url);
        expect(page.statusCode).toBe(200);
        expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
        expect(page.headers['content-security-policy']).toContain("script-src 'self'");
        expect(page.body).toContain('/dashboard/dashboard.js');
      }
      for (const file of DASHBOARD_FILES) expect((await get(`/dashboard/${file}`)).statusCode, file).toBe(200);
      expect((await get('/dashboard/dashboard.js')).headers['content-type']).toBe('text/javascript; charset=utf-8');
      for (const url of ['/dashboard/nope.js', '/dashboard/..%2Fpackage.json', '/dashboard/%2e%2e', '/dashboard/../package.json', '/dashboard/.%2E/.%2E/package.json']) {
        expect((await get(url)).statusCode, url).toBe(404);
      }
      for (const url of ['/dashboard/../v2.0/networks', '/dashboard/%2e%2e/v2.0/networks', '/dashboard/..%2Fv2.0%2Fnetworks']) {
        const sneaky = await get(url);
        expect(sneaky.statusCode, url).toBe(404);
        expect(sneaky.body, url).not.toContain('"networks"');
      }
      // Tickets need the token like the rest of the API.
      expect((await tokenApp.inject({ method: 'POST', url: `${TOPOLOGY_PREFIX}/tickets` })).statusCode).toBe(401);
      const ok = await tokenApp.inject({ method: 'POST', url: `${TOPOLOGY_PREFIX}/tickets`, headers: { 'x-auth-token': 'a'.repeat(32) } });
      expect(ok.statusCode).toBe(201);
    } finally {
      await tokenApp.close();
    }
  });
});
