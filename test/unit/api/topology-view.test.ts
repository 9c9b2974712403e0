import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeContext } from '../../../controller/auth/context.ts';
import { TopologyStream } from '../../../controller/api/topology/stream.ts';
import { TICKET_TTL_MS, TicketBook } from '../../../controller/api/topology/tickets.ts';
import { TOPOLOGY_KINDS, TopologyView, type TopologyChange } from '../../../controller/api/topology/view.ts';
import { sharedStateOf } from '../../../controller/store/open.ts';
import { MemorySharedState } from '../../../controller/store/shared-state.ts';
import type { Store } from '../../../controller/store/types.ts';
import { ADMIN, ALICE, BOB, testApi, type Caller, type TestApi } from '../../helpers/api.ts';

// What the dashboard's topology stream shows each caller: exactly what the REST API lists for
// them, field for field; how commits change it; how a slow client is cut; one-time tickets.

let api: TestApi;
beforeEach(async () => { api = await testApi(); });
afterEach(async () => api.close());

const PATHS = { network: 'networks', subnet: 'subnets', port: 'ports', router: 'routers', floatingip: 'floatingips' } as const;
const ctxOf = (caller: Caller) => makeContext(caller.project, caller.roles ?? ['member']);

async function create(caller: Caller, path: string, body: Record<string, unknown>): Promise<any> {
  const singular = path.replace(/s$/, '');
  const res = await api.call(caller, 'POST', `/v2.0/${path}`, { [singular]: body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body[singular];
}

/** Three projects: an external network, a network shared with everyone, private networks, Alice's router and floating IP. */
async function mixedModel() {
  const ext = await create(ADMIN, 'networks', { name: 'ext', 'router:external': true });
  await create(ADMIN, 'subnets', { network_id: ext.id, cidr: '172.24.4.0/24', ip_version: 4 });
  const adminNet = await create(ADMIN, 'networks', { name: 'admin-private' });
  await create(ADMIN, 'subnets', { network_id: adminNet.id, cidr: '10.9.0.0/24', ip_version: 4 });
  await create(ADMIN, 'ports', { network_id: adminNet.id, name: 'admin-vm', 'binding:host_id': 'compute-1' });
  const shared = await create(ADMIN, 'networks', { name: 'bob-shared', project_id: BOB.project, shared: true });
  await create(ADMIN, 'subnets', { network_id: shared.id, cidr: '10.8.0.0/24', ip_version: 4, project_id: BOB.project });
  const bobNet = await create(BOB, 'networks', { name: 'bob-private' });
  await create(BOB, 'subnets', { network_id: bobNet.id, cidr: '10.7.0.0/24', ip_version: 4 });
  await create(BOB, 'ports', { network_id: bobNet.id, name: 'bob-vm' });
  await create(BOB, 'ports', { network_id: shared.id, name: 'bob-on-shared' });
  const aliceNet = await create(ALICE, 'networks', { name: 'alice-net' });
  const aliceSub = await create(ALICE, 'subnets', { network_id: aliceNet.id, cidr: '10.0.0.0/24', ip_version: 4 });
  const router = await create(ALICE, 'routers', { name: 'r1', external_gateway_info: { network_id: ext.id } });
  expect((await api.call(ALICE, 'PUT', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: aliceSub.id })).status).toBe(200);
  const vm = await create(ALICE, 'ports', { network_id: aliceNet.id, name: 'vm1' });
  await create(ALICE, 'ports', { network_id: shared.id, name: 'alice-on-shared' });
  const fip = await create(ALICE, 'floatingips', { floating_network_id: ext.id, port_id: vm.id });
  return { ext, shared, bobNet, aliceNet, vm, fip };
}

/** Every commit's changes as `view` sees them. */
function follow(store: Store, view: TopologyView): TopologyChange[][] {
  const seen: TopologyChange[][] = [];
  store.subscribe((changes) => seen.push(view.apply(changes, store.view())));
  return seen;
}

describe('topology view', () => {
  it('shows each caller what the REST API lists for them, with the same values and no hidden attribute', async () => {
    await mixedModel();
    for (const caller of [ADMIN, ALICE, BOB]) {
      const snapshot = new TopologyView(ctxOf(caller)).snapshot(api.store.view());
      for (const kind of TOPOLOGY_KINDS) {
        const rows: any[] = (await api.call(caller, 'GET', `/v2.0/${PATHS[kind]}`)).body[PATHS[kind]];
        const where = `${caller.project} ${kind}`;
        expect(snapshot[kind].map((d) => d.id).sort(), where).toEqual(rows.map((r) => r.id).sort());
        for (const doc of snapshot[kind]) {
          const row = rows.find((r) => r.id === doc.id);
          for (const [key, value] of Object.entries(doc)) {
            expect(row, `${where} ${key}`).toHaveProperty([key]);
            expect(row[key], `${where} ${key}`).toEqual(value);
          }
        }
      }
    }
    // The snapshot is not vacuous: Alice sees her router, its ports, her floating IP and the networks she may use.
    const alice = new TopologyView(ctxOf(ALICE)).snapshot(api.store.view());
    expect(alice.network.map((n) => n.name).sort()).toEqual(['alice-net', 'bob-shared', 'ext']);
    expect(alice.port.map((p) => p.name).sort()).toEqual(['', 'alice-on-shared', 'vm1']); // '' = her router interface
    expect(alice.port.every((p) => !('binding:host_id' in p))).toBe(true);
    expect(alice.floatingip).toHaveLength(1);
    const admin = new TopologyView(ctxOf(ADMIN)).snapshot(api.store.view());
    expect(admin.port.find((p) => p.name === 'admin-vm')).toMatchObject({ 'binding:host_id': 'compute-1' });
  });

  it('turns commits into upserts and deletes of what the caller sees, and nothing else', async () => {
    const { ext, vm, fip, bobNet } = await mixedModel();
    const view = new TopologyView(ctxOf(ALICE));
    view.snapshot(api.store.view());
    const seen = follow(api.store, view);

    await create(BOB, 'ports', { network_id: bobNet.id, name: 'bob-vm2' });
    expect(seen.at(-1)).toEqual([]);
    expect((await api.call(ALICE, 'PUT', `/v2.0/ports/${vm.id}`, { port: { name: 'vm1-renamed' } })).status).toBe(200);
    expect(seen.at(-1)).toEqual([{ op: 'upsert', kind: 'port', doc: expect.objectContaining({ id: vm.id, name: 'vm1-renamed' }) }]);
    expect((await api.call(ALICE, 'DELETE', `/v2.0/floatingips/${fip.id}`)).status).toBe(204);
    expect(seen.at(-1)).toEqual([{ op: 'delete', kind: 'floatingip', id: fip.id }]);

    // A network that stops being shared takes its subnets out of sight; sharing it brings them back.
    const other = await create(ADMIN, 'networks', { name: 'bob-shared-2', project_id: BOB.project, shared: true });
    const sub = await create(ADMIN, 'subnets', { network_id: other.id, cidr: '10.6.0.0/24', ip_version: 4, project_id: BOB.project });
    // The subnet, and its network's new revision.
    expect(seen.at(-1)).toEqual([{ op: 'upsert', kind: 'subnet', doc: expect.objectContaining({ id: sub.id }) }, { op: 'upsert', kind: 'network', doc: expect.objectContaining({ id: other.id }) }]);
    expect((await api.call(ADMIN, 'PUT', `/v2.0/networks/${other.id}`, { network: { shared: false } })).status).toBe(200);
    expect(seen.at(-1)).toEqual(expect.arrayContaining([
      { op: 'delete', kind: 'network', id: other.id }, { op: 'delete', kind: 'subnet', id: sub.id },
    ]));
    expect(seen.at(-1)).toHaveLength(2);
    expect((await api.call(ADMIN, 'PUT', `/v2.0/networks/${other.id}`, { network: { shared: true } })).status).toBe(200);
    expect(seen.at(-1)!.map((c) => `${c.op} ${c.kind}`).sort()).toEqual(['upsert network', 'upsert subnet']);
    // The external network's own changes reach her too.
    expect((await api.call(ADMIN, 'PUT', `/v2.0/networks/${ext.id}`, { network: { name: 'public' } })).status).toBe(200);
    expect(seen.at(-1)).toEqual([{ op: 'upsert', kind: 'network', doc: expect.objectContaining({ id: ext.id, name: 'public' }) }]);
  });
});

/** A store whose subscribe() counts live listeners. */
function countListeners(store: Store): { readonly live: number } {
  let live = 0;
  const subscribe = store.subscribe.bind(store);
  store.subscribe = (listener) => {
    live++;
    const off = subscribe(listener);
    let on = true;
    return () => {
      if (on) live--;
      on = false;
      off();
    };
  };
  return { get live() { return live; } };
}

describe('topology stream', () => {
  const LIMIT = 10_000;
  const addNetwork = (store: Store, name: string) => store.transact((tx) => tx.put('network', { id: crypto.randomUUID(), name, project_id: 'p', shared: false }));

  it('cuts a client that reads too slowly, beyond its snapshot, and stops following commits', async () => {
    const counter = countListeners(api.store);
    const base = counter.live;
    const written: string[] = [];
    let buffered = 0;
    let destroyed = 0;
    const ends: string[] = [];
    const stream = new TopologyStream({
      store: api.store, ctx: ctxOf(ADMIN), bufferLimit: LIMIT, keepaliveMs: 60_000, onEnd: (r) => ends.push(r),
      sink: { write: (t) => written.push(t), get bufferedAmount() { return buffered; }, destroy: () => destroyed++ },
    });
    await addNetwork(api.store, 'before');
    stream.start();
    expect(counter.live).toBe(base + 1);
    expect(written[0]).toMatch(/^event: snapshot\ndata: \{.*\}\n\n$/s);
    const snapshotBytes = Buffer.byteLength(written[0]);
    expect(JSON.parse(written[0].split('data: ')[1]).docs.network.map((n: any) => n.name)).toEqual(['before']);

    buffered = LIMIT + snapshotBytes; // the snapshot itself may still be on its way
    await addNetwork(api.store, 'n1');
    expect(written).toHaveLength(2);
    expect(JSON.parse(written[1].split('data: ')[1])).toMatchObject({ changes: [{ op: 'upsert', kind: 'network', doc: { name: 'n1' } }] });
    buffered = LIMIT; // drained to the limit: the allowance is spent
    await addNetwork(api.store, 'n2');
    buffered = LIMIT + 1;
    await addNetwork(api.store, 'n3');
    expect(destroyed).toBe(1);
    expect(ends).toEqual(['too-slow']);
    expect(counter.live).toBe(base);
    expect(written).toHaveLength(3);
    await addNetwork(api.store, 'n4');
    expect(written).toHaveLength(3);
    stream.end('client-gone'); // the socket's close event arrives later: nothing more happens
    expect(ends).toEqual(['too-slow']);
  });

  it('sends every commit to admins, even an empty one, only visible ones to members, and keep-alives', async () => {
    const events = (caller: Caller) => {
      const written: string[] = [];
      const stream = new TopologyStream({
        store: api.store, ctx: ctxOf(caller), keepaliveMs: 20,
        sink: { write: (t) => written.push(t), bufferedAmount: 0, destroy: () => {} },
      });
      stream.start();
      return { written, stream };
    };
    const admin = events(ADMIN);
    const alice = events(ALICE);
    await addNetwork(api.store, 'someone-elses');
    const changes = (w: string[]) => w.filter((t) => t.startsWith('event: changes')).map((t) => JSON.parse(t.split('data: ')[1]));
    expect(changes(admin.written)).toEqual([{ revision: api.store.revision, changes: [expect.objectContaining({ op: 'upsert' })] }]);
    expect(changes(alice.written)).toEqual([]);
    await api.store.transact((tx) => tx.put('security_group', { id: 'sg', project_id: 'p' }));
    expect(changes(admin.written).at(-1)).toEqual({ revision: api.store.revision, changes: [] });
    await new Promise((r) => setTimeout(r, 70));
    expect(alice.written.filter((t) => t === ': keepalive\n\n').length).toBeGreaterThanOrEqual(2);
    alice.stream.end('client-gone');
    admin.stream.end('shutdown');
    const count = alice.written.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(alice.written).toHaveLength(count);
  });
});

describe('tickets', () => {
  it("work once and only within their time, on the store's shared state", async () => {
    let now = Date.now();
    const book = new TicketBook(sharedStateOf(api.store), () => now);
    const ctx = ctxOf(ALICE);
    const a = await book.issue(ctx);
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await book.redeem(a.id)).toEqual(ctx);
    expect(await book.redeem(a.id)).toBeUndefined();
    const b = await book.issue(ctx);
    now += TICKET_TTL_MS;
    expect(await book.redeem(b.id)).toBeUndefined();
    expect(await book.redeem('made-up')).toBeUndefined();
    expect(await book.redeem('../../m/head')).toBeUndefined();
  });

  it("stay bounded in number in one controller's memory", async () => {
    let now = 1_000;
    const shared = new MemorySharedState({ now: () => now });
    const book = new TicketBook(shared, () => now);
    const ctx = ctxOf(ALICE);
    const first = await book.issue(ctx);
    for (let i = 0; i < 10_000; i++) await book.issue(ctx);
    expect(shared.size).toBe(10_000);
    expect(await book.redeem(first.id)).toBeUndefined();
    now += TICKET_TTL_MS;
    await book.issue(ctx);
    expect(shared.size).toBe(1);
  });
});
