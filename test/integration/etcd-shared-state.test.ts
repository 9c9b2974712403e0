import { request } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../controller/app.ts';
import { TOPOLOGY_EVENTS_PATH, TOPOLOGY_PREFIX } from '../../controller/api/topology/index.ts';
import { TICKET_TTL_MS, TicketBook } from '../../controller/api/topology/tickets.ts';
import { makeContext } from '../../controller/auth/context.ts';
import { noAuth } from '../../controller/auth/noauth.ts';
import { testConfig } from '../../controller/config.ts';
import { MODEL_INDEXES } from '../../controller/domain/indexes.ts';
import { EtcdSharedState } from '../../controller/store/etcd/etcd-shared-state.ts';
import { openEtcdStore, type EtcdStore } from '../../controller/store/etcd/etcd-store.ts';
import { sharedStateOf } from '../../controller/store/open.ts';
import type { SharedState } from '../../controller/store/shared-state.ts';
import { startEtcdCluster, type EtcdCluster } from '../../lab/etcd.ts';

// The replicas' shared state on a real 3-member etcd cluster: two stores on one prefix are two
// controller replicas. Put-if-absent, take and time to live across them; that it stays out of the
// model; and the dashboard's tickets issued on one replica and redeemed on the other.

let cluster: EtcdCluster;
const opened: EtcdStore[] = [];
const apps: FastifyInstance[] = [];
let prefixes = 0;

beforeAll(async () => {
  cluster = await startEtcdCluster({ members: 3 });
}, 60_000);
afterAll(async () => cluster?.cleanup());
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

/** Two replicas on a prefix of their own: their stores and their shared states. */
async function replicas(): Promise<Array<{ store: EtcdStore; shared: SharedState }>> {
  const prefix = `/shared-test-${process.pid}-${++prefixes}/`;
  const out = [];
  for (let i = 0; i < 2; i++) {
    const store = await openEtcdStore({ endpoints: cluster.endpoints, prefix, indexes: MODEL_INDEXES });
    opened.push(store);
    out.push({ store, shared: sharedStateOf(store) });
  }
  return out;
}

const until = async (what: string, fn: () => Promise<boolean>, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe('the shared state on etcd', () => {
  it('is the etcd kind for an etcd store, under the prefix it reserves', async () => {
    const [a] = await replicas();
    expect(a.shared).toBeInstanceOf(EtcdSharedState);
    await a.shared.put('probe', 'here');
    const raw = await a.store.client.get(`${a.store.keys.shared}probe`).string();
    expect(raw).toBe('here');
  });

  it('keeps the first put-if-absent of either replica and answers it to both', async () => {
    const [a, b] = await replicas();
    const answers = await Promise.all([a.shared.putIfAbsent('auth/tokens', 'from-a'), b.shared.putIfAbsent('auth/tokens', 'from-b')]);
    expect(new Set(answers).size).toBe(1);
    expect(['from-a', 'from-b']).toContain(answers[0]);
    expect(await b.shared.get('auth/tokens')).toBe(answers[0]);
    expect(await a.shared.putIfAbsent('auth/tokens', 'later')).toBe(answers[0]);
  });

  it('gives a value to exactly one of many takes across the replicas', async () => {
    const [a, b] = await replicas();
    for (let round = 0; round < 10; round++) {
      await a.shared.put(`once/${round}`, `v${round}`, { ttlMs: 60_000 });
      const taken = await Promise.all([a, b, a, b].map((r) => r.shared.take(`once/${round}`)));
      expect(taken.filter((t) => t !== undefined)).toEqual([`v${round}`]);
    }
  });

  it('lets etcd delete a value when its time to live runs out, and keeps one without', async () => {
    const [a, b] = await replicas();
    await a.shared.put('brief', 'x', { ttlMs: 1000 });
    await a.shared.put('lasting', 'y');
    expect(await b.shared.get('brief')).toBe('x');
    await until('the lease to run out', async () => (await b.shared.get('brief')) === undefined);
    expect(await b.shared.get('lasting')).toBe('y');
  });

  it("tells a watcher of either replica's writes under a prefix, from what is there when it starts", async () => {
    const [a, b] = await replicas();
    await b.shared.put('w/before', '0');
    const heard: Array<[string, string | undefined]> = [];
    const watch = await a.shared.watch('w/', (key, value) => heard.push([key, value]));
    expect(heard).toEqual([['w/before', '0']]);
    await b.shared.put('w/x', '1');
    await b.shared.put('elsewhere', 'not heard');
    await a.shared.put('w/x', '2');
    await b.shared.take('w/before');
    await until('the changes', async () => heard.length === 4);
    expect(heard).toEqual([['w/before', '0'], ['w/x', '1'], ['w/x', '2'], ['w/before', undefined]]);
    await watch.stop();
  });

  it("keeps a lease's keys while the replica lives, writes them again when etcd loses the lease, and lets them go after release", async () => {
    const [a, b] = await replicas();
    const heard: Array<[string, string | undefined]> = [];
    const watch = await b.shared.watch('held/', (key, value) => heard.push([key, value]));
    const lease = a.shared.lease(1000);
    await lease.put('held/me', 'here');
    // Longer than the time to live: the client keeps the lease alive.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await b.shared.get('held/me')).toBe('here');
    // etcd loses the lease (as after a long partition): the key goes, then comes back on a new one.
    const leaseOf = async () => (await b.store.client.kv.range({ key: Buffer.from(`${b.store.keys.shared}held/me`) })).kvs[0]?.lease;
    const first = await leaseOf();
    await b.store.client.leaseClient.leaseRevoke({ ID: first! });
    await until('the key to come back on a new lease', async () => {
      const now = await leaseOf();
      return now !== undefined && now !== first;
    });
    await lease.release();
    await until('the key to go after release', async () => (await b.shared.get('held/me')) === undefined);
    expect(heard.map(([, v]) => v)).toEqual(['here', undefined, 'here', undefined]);
    await watch.stop();
  });

  it('is no part of the model: no revision, no change for listeners', async () => {
    const [a, b] = await replicas();
    const seen: number[] = [];
    b.store.subscribe((_, revision) => seen.push(revision));
    await a.shared.put('k', 'v', { ttlMs: 30_000 });
    await a.shared.putIfAbsent('p', 'v');
    await b.shared.take('k');
    await a.store.transact((tx) => tx.put('network', { id: 'n1', name: 'after' }));
    await until('b to see the commit', async () => b.store.revision === 1);
    expect(seen).toEqual([1]);
    expect(a.store.revision).toBe(1);
  });
});

describe("the dashboard's tickets across replicas", () => {
  const alice = makeContext('alice-project', ['member'], 'alice');

  it('works once across replicas and not after its time', async () => {
    const [a, b] = await replicas();
    let now = Date.now();
    const onA = new TicketBook(a.shared, () => now);
    const onB = new TicketBook(b.shared, () => now);
    const ticket = await onA.issue(alice);
    const redeemed = await Promise.all([onB.redeem(ticket.id), onA.redeem(ticket.id), onB.redeem(ticket.id)]);
    expect(redeemed.filter(Boolean)).toEqual([alice]);
    const late = await onA.issue(alice);
    now += TICKET_TTL_MS;
    expect(await onB.redeem(late.id)).toBeUndefined();
  });

  it('opens the event stream on replica B with a ticket replica A issued, once', async () => {
    const [a, b] = await replicas();
    const appA = await listeningApp(a.store);
    const appB = await listeningApp(b.store);
    const issued = await appA.app.inject({
      method: 'POST',
      url: `${TOPOLOGY_PREFIX}/tickets`,
      headers: { 'x-project-id': 'alice-project', 'x-roles': 'member' },
    });
    expect(issued.statusCode).toBe(201);
    const id = JSON.parse(issued.body).ticket.id as string;
    const first = await openEvents(appB.base, id);
    expect(first.status).toBe(200);
    expect(first.contentType).toBe('text/event-stream; charset=utf-8');
    expect(first.firstEvent).toMatch(/^event: snapshot\n/);
    for (const base of [appB.base, appA.base]) expect((await openEvents(base, id)).status).toBe(401);
  });
});

async function listeningApp(store: EtcdStore): Promise<{ app: FastifyInstance; base: string }> {
  const app = await buildApp({ config: testConfig(), store, authenticator: noAuth() });
  apps.push(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  return { app, base: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}` };
}

/** GET the event stream: its status and, when it opens, its first event; then hang up. */
function openEvents(base: string, ticket: string): Promise<{ status: number; contentType?: string; firstEvent?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${TOPOLOGY_EVENTS_PATH}?ticket=${encodeURIComponent(ticket)}`, (res) => {
      const status = res.statusCode ?? 0;
      const contentType = res.headers['content-type'];
      if (status !== 200) {
        res.resume();
        res.on('end', () => resolve({ status, contentType }));
        return;
      }
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        const end = text.indexOf('\n\n');
        if (end < 0) return;
        req.destroy();
        resolve({ status, contentType, firstEvent: text.slice(0, end + 1) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}
