import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openEtcdStore, type EtcdStore } from '../../controller/store/etcd/etcd-store.ts';
import { StoreUnavailableError } from '../../controller/store/etcd/unavailable.ts';
import type { Change, Doc, Tx } from '../../controller/store/types.ts';
import { startEtcdCluster, type EtcdCluster } from '../../lab/etcd.ts';

// The etcd store against a real 3-member etcd cluster on loopback: two stores on one prefix are
// two controller replicas. Each test uses its own prefix, so tests cannot see each other's keys.

const INDEXES = { thing: { colour: (d: Doc) => d.colour } };

let cluster: EtcdCluster;
const opened: EtcdStore[] = [];
let prefixes = 0;

beforeAll(async () => {
  cluster = await startEtcdCluster({ members: 3 });
}, 60_000);
afterAll(async () => cluster?.cleanup());
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

type OpenOptions = { keepRevisions?: number; keepHistoryMs?: number; commitTimeoutMs?: number };

async function replicas(n: number, o: OpenOptions = {}): Promise<{ prefix: string; stores: EtcdStore[] }> {
  const prefix = `/test-${process.pid}-${++prefixes}/`;
  const stores: EtcdStore[] = [];
  for (let i = 0; i < n; i++) stores.push(await open(prefix, o));
  return { prefix, stores };
}

async function open(prefix: string, o: OpenOptions = {}): Promise<EtcdStore> {
  const store = await openEtcdStore({ endpoints: cluster.endpoints, prefix, indexes: INDEXES, ...o });
  opened.push(store);
  return store;
}

/** Delays each of `store`'s watch deliveries by `ms`, so that its cache is certainly behind the other replica's commits. */
function slowWatch(store: EtcdStore, ms: number): void {
  const watched = store as unknown as { onWatch: (res: unknown) => void };
  const deliver = watched.onWatch.bind(store);
  watched.onWatch = (res) => void setTimeout(() => deliver(res), ms);
}

const until = async (what: string, fn: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** Takes the lowest free key of a 0..size-1 pool, as IPAM takes an address. */
function takeFree(tx: Tx, owner: string, size: number): number {
  for (let i = 0; i < size; i++) {
    if (tx.claim('pool', String(i), owner)) {
      tx.put('thing', { id: owner, slot: i, colour: 'red' });
      return i;
    }
  }
  throw new Error('pool exhausted');
}

/** Which member leads, as each member says over etcd's JSON gateway. */
async function leaderIndex(): Promise<number> {
  for (const [i, m] of cluster.members.entries()) {
    if (!m.running) continue;
    const res = await fetch(`${m.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}' }).catch(() => undefined);
    const status = (await res?.json().catch(() => undefined)) as { header?: { member_id?: string }; leader?: string } | undefined;
    if (status?.leader && status.leader !== '0' && status.header?.member_id === status.leader) return i;
  }
  return -1;
}

/** Txns each member has answered (its gRPC server's own count); undefined for a member not running. */
async function txnsAnswered(): Promise<Array<number | undefined>> {
  return Promise.all(cluster.members.map(async (m) => {
    if (!m.running) return undefined;
    const text = await (await fetch(`${m.clientUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('grpc_server_handled_total{grpc_code="OK",grpc_method="Txn"'));
    return Number(line?.split(' ').at(-1) ?? 0);
  }));
}

describe('the etcd store', () => {
  it("streams one replica's commits to the other in revision order, with the same revisions", async () => {
    const { stores: [a, b] } = await replicas(2);
    const seen: Array<[number, Change[]]> = [];
    b.subscribe((changes, revision) => seen.push([revision, [...changes]]));
    await a.transact((tx) => tx.put('thing', { id: 't1', colour: 'red' }));
    await a.transact((tx) => tx.put('thing', { id: 't1', colour: 'blue' }));
    const last = await a.transact((tx) => tx.remove('thing', 't1'));
    expect(last.revision).toBe(3);
    await until('b to see revision 3', () => b.revision === 3);
    expect(seen.map(([r, c]) => [r, c.map((x) => `${x.op}:${x.id}:${(x.doc ?? x.prev)?.colour}`)])).toEqual([
      [1, ['create:t1:red']],
      [2, ['update:t1:blue']],
      [3, ['delete:t1:blue']],
    ]);
    expect(seen[1][1][0].prev?.colour).toBe('red');
    expect(b.view().get('thing', 't1')).toBeUndefined();
  });

  it('serializes concurrent commits of two replicas: no key is handed out twice and the revisions have no gap', async () => {
    const { stores: [a, b] } = await replicas(2);
    const revisionsSeen: number[] = [];
    a.subscribe((_, revision) => revisionsSeen.push(revision));
    const n = 120;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => (i % 2 ? a : b).transact((tx) => takeFree(tx, `owner-${i}`, 256))),
    );
    const slots = results.map((r) => r.result);
    expect(new Set(slots).size).toBe(n);
    expect(Math.max(...slots)).toBe(n - 1); // exactly the lowest free ones
    const top = Math.max(...results.map((r) => r.revision));
    await until('both replicas to hold every commit', () => a.revision === top && b.revision === top);
    expect(revisionsSeen).toEqual(Array.from({ length: top }, (_, i) => i + 1));
    for (const store of [a, b]) {
      expect(store.view().list('thing')).toHaveLength(n);
      for (let i = 0; i < n; i++) expect(store.view().claimOwner('pool', String(slots[i]))).toBe(`owner-${i}`);
    }
  });

  it('answers a body that throws with its error and commits the bodies beside it', async () => {
    const { stores: [a] } = await replicas(1);
    const outcomes = await Promise.allSettled([
      a.transact((tx) => tx.put('thing', { id: 'ok1', colour: 'red' })),
      a.transact(() => {
        throw new Error('refused');
      }),
      a.transact((tx) => tx.put('thing', { id: 'ok2', colour: 'red' })),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason.message).toBe('refused');
    expect(a.view().find('thing', 'colour', 'red').map((d) => d.id).sort()).toEqual(['ok1', 'ok2']);
  });

  it("answers a body that refuses or writes nothing only from a cache that holds every other replica's commit", async () => {
    const { stores: [a, b] } = await replicas(2);
    slowWatch(b, 300);
    await a.transact((tx) => tx.put('thing', { id: 'port-1', colour: 'red' }));
    expect(b.view().get('thing', 'port-1')).toBeUndefined();
    // As an API handler does: 404 unless the document is there; a body that finds it writes nothing.
    const found = await b.transact((tx) => {
      const doc = tx.get('thing', 'port-1');
      if (!doc) throw new Error('PortNotFound');
      return doc.colour;
    });
    expect(found.result).toBe('red');
    expect(b.view().get('thing', 'port-1')).toBeDefined();
  });

  it("answers a refusal from a cache that held the other replica's commit when it ran, however the watch races it", async () => {
    const { stores: [a, b] } = await replicas(2);
    // No slowed watch: B's watch often brings A's commit while B's quorum read is on its way, after
    // the body refused on the cache before it. Reads of B's own keep other barriers on the wire.
    let stop = false;
    const reads = (async () => {
      while (!stop) await Promise.all([b.readBarrier(), b.readBarrier()]);
    })();
    const refused: number[] = [];
    let behind = 0;
    try {
      for (let i = 0; i < 300; i++) {
        await a.transact((tx) => tx.put('thing', { id: `net-${i}`, colour: 'red' }));
        if (!b.view().get('thing', `net-${i}`)) behind++;
        await b.transact((tx) => {
          if (!tx.get('thing', `net-${i}`)) throw new Error('NetworkNotFound');
        }).catch(() => refused.push(i));
      }
    } finally {
      stop = true;
      await reads;
    }
    expect(behind).toBeGreaterThan(0);
    expect(refused).toEqual([]);
  }, 60_000);

  it('answers a read barrier from a quorum read sent after it was asked, and lets concurrent barriers share reads', async () => {
    const { stores: [a, b] } = await replicas(2);
    slowWatch(b, 300);
    // B's quorum reads: counted, and the first one held after etcd answered it, until released.
    const slow = b as unknown as { quorumHeadRevision: (deadline: number) => Promise<number> };
    const quorumRead = slow.quorumHeadRevision.bind(b);
    let [sent, answered] = [0, 0];
    let release: () => void = () => undefined;
    let held: Promise<void> | undefined = new Promise((r) => (release = r));
    slow.quorumHeadRevision = async (deadline) => {
      sent++;
      const head = await quorumRead(deadline);
      answered++;
      await held;
      return head;
    };
    const first = b.readBarrier();
    await until('the first read to be answered by etcd', () => answered === 1);
    await a.transact((tx) => tx.put('thing', { id: 'port-1', colour: 'red' }));
    // Asked after A's commit, while the first read (from before it) is still on its way back.
    const second = b.readBarrier();
    held = undefined;
    release();
    await first;
    await second;
    expect(b.view().get('thing', 'port-1')).toBeDefined();
    expect(sent).toBe(2);

    sent = 0;
    await Promise.all(Array.from({ length: 20 }, () => b.readBarrier()));
    expect(sent).toBe(2);
  });

  it('reads the change log from etcd history on a replica that never saw the commits', async () => {
    const { prefix, stores: [a] } = await replicas(1);
    const logged: Change[] = [];
    a.subscribe((changes) => logged.push(...changes));
    for (let i = 0; i < 5; i++) await a.transact((tx) => tx.put('thing', { id: `t${i % 2}`, colour: `c${i}` }));
    await a.transact((tx) => tx.remove('thing', 't0'));
    const fresh = await open(prefix);
    expect(fresh.revision).toBe(6);
    expect(await fresh.changesSince(2)).toEqual(logged.filter((c) => c.revision > 2));
    expect(await fresh.changesSince(0)).toEqual(logged);
    expect(await fresh.changesSince(6)).toEqual([]);
  });

  it('loads documents and claims when a replica starts', async () => {
    const { prefix, stores: [a] } = await replicas(1);
    await a.transact((tx) => takeFree(tx, 'x', 4));
    await a.transact((tx) => takeFree(tx, 'y', 4));
    const b = await open(prefix);
    expect(b.view().get('thing', 'y')).toMatchObject({ slot: 1 });
    expect(b.view().claimOwner('pool', '0')).toBe('x');
    expect((await b.transact((tx) => takeFree(tx, 'z', 4))).result).toBe(2);
  });

  it("answers 'compacted' for history etcd has compacted away", async () => {
    const { prefix, stores: [a] } = await replicas(1);
    for (let i = 0; i < 4; i++) await a.transact((tx) => tx.put('thing', { id: `t${i}`, colour: 'red' }));
    const now = Number((await a.client.kv.range({ key: Buffer.from(a.keys.head) })).header.revision);
    await a.client.kv.compact({ revision: now });
    const fresh = await open(prefix);
    expect(await fresh.changesSince(1)).toBe('compacted');
    expect(await fresh.changesSince(4)).toEqual([]);
  });

  it('compacts history older than keepHistoryMs while the model is quiet and the shared state writes', async () => {
    const { prefix, stores: [a] } = await replicas(1, { keepHistoryMs: 2000 });
    await a.transact((tx) => tx.put('thing', { id: 't0', colour: 'red' }));
    await a.transact((tx) => tx.put('thing', { id: 't1', colour: 'red' }));
    // Writes outside the model and no commit, as agent presence goes on in a quiet fabric.
    const writes = setInterval(() => void a.client.put(`${prefix}s/presence`).value(String(Date.now())).catch(() => undefined), 20);
    try {
      const fresh = await open(prefix);
      expect(await fresh.changesSince(1)).toHaveLength(1);
      let answer: unknown;
      for (const end = Date.now() + 15_000; answer !== 'compacted' && Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
        answer = await fresh.changesSince(1);
      }
      expect(answer).toBe('compacted');
    } finally {
      clearInterval(writes);
    }
    await a.transact((tx) => tx.put('thing', { id: 't2', colour: 'red' }));
    const later = await open(prefix);
    expect(later.revision).toBe(3);
    expect(later.view().list('thing').map((d) => d.id).sort()).toEqual(['t0', 't1', 't2']);
  }, 30_000);

  it('reloads, and hands its listeners the difference, when its watch falls behind compacted history', async () => {
    const { stores: [a, b] } = await replicas(2);
    await a.transact((tx) => tx.put('thing', { id: 'kept', colour: 'red' }));
    await a.transact((tx) => tx.put('thing', { id: 'gone', colour: 'red' }));
    await until('b to hold both', () => b.revision === 2);
    // Cut b off (its watch stops), move on without it, compact, then let b follow from where it was.
    const internals = b as unknown as { watcher: { cancel(): Promise<void> }; headModRevision: number; follow(after: number): Promise<void> };
    const stale = internals.headModRevision;
    await internals.watcher.cancel();
    await a.transact((tx) => tx.remove('thing', 'gone'));
    await a.transact((tx) => tx.put('thing', { id: 'kept', colour: 'blue' }));
    await a.transact((tx) => tx.put('thing', { id: 'new', colour: 'red' }));
    const now = Number((await a.client.kv.range({ key: Buffer.from(a.keys.head) })).header.revision);
    await a.client.kv.compact({ revision: now });
    const seen: Array<[number, string[]]> = [];
    b.subscribe((changes, revision) => seen.push([revision, changes.map((c) => `${c.op}:${c.id}`).sort()]));
    await internals.follow(stale);
    await until('b to reload', () => b.revision === 5);
    expect(seen).toEqual([[5, ['create:new', 'delete:gone', 'update:kept']]]);
    expect(b.view().get('thing', 'kept')?.colour).toBe('blue');
    // And it follows again afterwards.
    await a.transact((tx) => tx.put('thing', { id: 'after', colour: 'red' }));
    await until('b to follow again', () => b.revision === 6);
  });

  it('sends its commits to the raft leader, and through the other members while the leader is gone', async () => {
    const { stores: [a] } = await replicas(1);
    const commit = (name: string) => a.transact((tx) => tx.put('thing', { id: name, colour: 'red' }));
    // Where 20 commits went, once the store has had a commit's time to look the leader up.
    const sentTo = async (label: string) => {
      await commit(`${label}-first`);
      await new Promise((r) => setTimeout(r, 300));
      const before = await txnsAnswered();
      for (let i = 0; i < 20; i++) await commit(`${label}-${i}`);
      const after = await txnsAnswered();
      return after.map((n, i) => (n === undefined ? undefined : n - (before[i] ?? 0)));
    };
    const leader = await leaderIndex();
    expect(leader).toBeGreaterThanOrEqual(0);
    const expected = cluster.members.map((_, i) => (i === leader ? 20 : 0));
    expect(await sentTo('steady')).toEqual(expected);

    await cluster.kill(leader);
    try {
      // The commit that meets the dead leader goes through another member; then the new leader takes them.
      await commit('leader-gone');
      let next = -1;
      for (const end = Date.now() + 10_000; next < 0 && Date.now() < end; await new Promise((r) => setTimeout(r, 100))) next = await leaderIndex();
      expect(next).not.toBe(leader);
      expect(await sentTo('new-leader')).toEqual(cluster.members.map((_, i) => (i === leader ? undefined : i === next ? 20 : 0)));
    } finally {
      await cluster.restart(leader);
    }
    expect(a.view().list('thing')).toHaveLength(43);
  }, 60_000);

  it('goes on committing when an etcd member is killed, and the member rejoins', async () => {
    const { stores: [a, b] } = await replicas(2);
    await a.transact((tx) => takeFree(tx, 'before', 64));
    await cluster.kill(0);
    try {
      const during = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).transact((tx) => takeFree(tx, `during-${i}`, 64))));
      expect(new Set(during.map((r) => r.result)).size).toBe(20);
    } finally {
      await cluster.restart(0);
    }
    const after = await a.transact((tx) => takeFree(tx, 'after', 64));
    expect(after.result).toBe(21);
    await until('b to catch up', () => b.revision === after.revision);
    expect(b.view().list('thing')).toHaveLength(22);
  }, 60_000);

  it('answers 503, never 500, for a refusal, a read and a write while no etcd member answers, and serves again after', async () => {
    const { stores: [a] } = await replicas(1, { commitTimeoutMs: 2000 });
    await a.transact((tx) => tx.put('thing', { id: 'before', colour: 'red' }));
    await Promise.all(cluster.members.map((_, i) => cluster.kill(i)));
    try {
      const refusal = a.transact((tx) => {
        if (!tx.get('thing', 'absent')) throw new Error('ThingNotFound');
      });
      const outcomes = await Promise.allSettled([refusal, a.readBarrier(), a.transact((tx) => tx.put('thing', { id: 'during', colour: 'red' }))]);
      for (const o of outcomes) {
        expect(o.status).toBe('rejected');
        expect((o as PromiseRejectedResult).reason).toBeInstanceOf(StoreUnavailableError);
        expect((o as PromiseRejectedResult).reason.status).toBe(503);
      }
    } finally {
      await Promise.all(cluster.members.map((_, i) => cluster.restart(i)));
    }
    await a.transact((tx) => tx.put('thing', { id: 'after', colour: 'red' }));
    expect(a.view().find('thing', 'colour', 'red').map((d) => d.id).sort()).toEqual(['after', 'before']);
  }, 60_000);
});
