// Resuming instead of a snapshot. An agent streams from one controller replica, loses it while
// the model moves on, and says hello to another replica (a second hub on the same store, which
// never saw it) with what it holds: it gets one changes message, since its revision, after which
// it holds exactly its host's view of the current model, the same as a fresh snapshot gives, and
// its dataplane (model and compiled flows, replayed from everything it received) is the one a
// fresh agent builds from that snapshot. Then it streams on. The table below covers what must
// fall back to a snapshot.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Dataplane, type FlowSink } from '../../../agent/dataplane.ts';
import { ALL_FEATURES } from '../../../agent/features/index.ts';
import { renderFlow } from '../../../agent/pipeline/flow.ts';
import { openStore } from '../../../controller/store/open.ts';
import type { Change, Store } from '../../../controller/store/types.ts';
import type { SyncHub } from '../../../controller/sync/hub.ts';
import { VIEW_KINDS } from '../../../schemas/agent/view.ts';
import { HOSTS, apply, batchesArb, opArb, type Op } from './host-view-ops.ts';
import { connect, hubOn, reconnect, sorted, type FoldingAgent } from './host-view-support.ts';

const noFlows: FlowSink = { async resync() {}, async apply() {} };

/** The dataplane an agent builds from `stream`, with the host's first ports plugged. */
async function dataplaneOf(host: string, stream: FoldingAgent['stream']) {
  const dp = new Dataplane({ host, tunnelIp: '192.0.2.1', bridgeMappings: {}, tunnelOfport: 60000, uplinks: {} }, ALL_FEATURES, noFlows);
  const errors: string[] = [];
  dp.on('error', (e) => errors.push(String(e)));
  for (let i = 0; i < 4; i++) dp.plugged(`port-${i}`, 10 + i);
  for (const m of stream) {
    if (m.type === 'snapshot') dp.snapshot(m.revision, m.docs);
    else dp.changes(m.revision, m.type === 'changes' ? m.changes : []);
  }
  await dp.idle();
  const model = VIEW_KINDS.map((k) => [k, [...dp.model.all(k)].sort((a, b) => (a.id < b.id ? -1 : 1))]);
  return { errors, model, flows: [...dp.engine.flows()].map(renderFlow).sort(), revision: dp.revision };
}

async function commit(store: Store, batch: readonly Op[]) {
  await store.transact((tx) => batch.forEach((op) => apply(tx, op)));
}

async function run(setup: Op[], during: Op[][], away: Op[][], after: Op[][], host: string): Promise<void> {
  const store = openStore(':memory:');
  const first = hubOn(store);
  const replica = hubOn(store);
  try {
    await commit(store, setup);
    const a = await connect(first, host);
    for (const batch of during) await commit(store, batch);
    a.expectInStep(store, 'streaming');
    const lost = a.revision;
    first.close(); // the replica dies
    for (const batch of away) await commit(store, batch);
    await reconnect(replica, a);
    expect(a.resumes, 'resumed').toBe(1);
    expect(a.stream.at(-1), 'the resume').toMatchObject({ type: 'changes', since: lost, revision: store.revision });
    a.expectInStep(store, 'after the resume');
    for (const batch of after) await commit(store, batch);
    a.expectInStep(store, 'streaming after the resume');
    // A fresh agent on the same host. It replaces the resumed one's connection, after the commit of
    // its registration (which may place routers on the host) reached both.
    const fresh = await connect(replica, host);
    expect(sorted(fresh.held)).toEqual(sorted(a.held));
    const resumed = await dataplaneOf(host, a.stream);
    const snapshot = await dataplaneOf(host, fresh.stream);
    expect(resumed.errors).toEqual([]);
    expect(resumed.model).toEqual(snapshot.model);
    expect(resumed.flows).toEqual(snapshot.flows);
  } finally {
    first.close();
    replica.close();
    await store.close();
  }
}

describe('resume on another replica == snapshot', () => {
  it('random histories before, while away and after', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { maxLength: 40 }), batchesArb(10), batchesArb(15), batchesArb(5), fc.constantFrom(...HOSTS),
        (setup, during, away, after, host) => run(setup, during, away, after, host),
      ),
      { numRuns: 120 },
    );
  });

  it('nothing changed while away: an empty changes message at the same revision', async () => {
    const store = openStore(':memory:');
    const hub = hubOn(store);
    try {
      await commit(store, [{ k: 'network', i: 0, del: false, mtu: 1450 }, { k: 'port', i: 0, del: false, net: 0, host: 0, groups: [], admin: true, name: 'a' }]);
      const a = await connect(hub, 'h0');
      await reconnect(hub, a);
      expect(a.stream.at(-1)).toEqual({ type: 'changes', since: a.revision, revision: a.revision, changes: [] });
      a.expectInStep(store);
    } finally {
      hub.close();
      await store.close();
    }
  });
});

/** A store whose change log is replaced (to play compaction, or commits landing while it is read). */
function withLog(store: Store, changesSince: (revision: number) => Promise<Change[] | 'compacted'>): Store {
  return new Proxy(store, { get: (target, key) => (key === 'changesSince' ? changesSince : Reflect.get(target, key, target)) });
}

describe('resume or snapshot', () => {
  const model: Op[] = [
    { k: 'network', i: 0, del: false, mtu: 1450 },
    { k: 'port', i: 0, del: false, net: 0, host: 0, groups: [], admin: true, name: 'a' },
  ];
  const moved: Op[] = [{ k: 'port', i: 1, del: false, net: 0, host: 1, groups: [], admin: true, name: 'b' }];

  /** An agent of h0 that streamed from one hub, and says hello to `hubFor(store)` after `moved` was committed. */
  async function case_(hubFor: (store: Store) => SyncHub, offer?: (a: FoldingAgent) => ReturnType<FoldingAgent['resumeState']>) {
    const store = openStore(':memory:');
    const first = hubOn(store);
    await commit(store, model);
    const a = await connect(first, 'h0');
    first.close();
    await commit(store, moved);
    const hub = hubFor(store);
    try {
      await reconnect(hub, a, offer?.(a));
      a.expectInStep(store, '', a.snapshots);
      return { resumes: a.resumes, snapshots: a.snapshots };
    } finally {
      hub.close();
      await store.close();
    }
  }

  it('resumes when the log reaches back', async () => {
    expect(await case_((s) => hubOn(s))).toEqual({ resumes: 1, snapshots: 1 });
  });

  it('sends a snapshot when the log is compacted', async () => {
    expect(await case_((s) => hubOn(withLog(s, async () => 'compacted')))).toEqual({ resumes: 0, snapshots: 2 });
  });

  it('sends a snapshot when the agent names another agent id (its record deleted, or another store)', async () => {
    expect(await case_((s) => hubOn(s), (a) => ({ ...a.resumeState(), agentId: 'someone-else' }))).toEqual({ resumes: 0, snapshots: 2 });
  });

  it('sends a snapshot when the store stays behind the agent past the wait', async () => {
    const hub = (s: Store) => hubOn(s, { resumeCatchUpMs: 30 });
    expect(await case_(hub, (a) => ({ ...a.resumeState(), revision: a.revision + 50 }))).toEqual({ resumes: 0, snapshots: 2 });
  });

  it('waits for a store behind the agent to catch up, then resumes', async () => {
    const store = openStore(':memory:');
    const first = hubOn(store);
    const lagging = hubOn(store, { resumeCatchUpMs: 5000 });
    try {
      await commit(store, model);
      const a = await connect(first, 'h0');
      // The agent heard of revision R+1 on a replica ahead of this one (a commit outside its view).
      a.revision = store.revision + 1;
      const offer = a.resumeState();
      const resumed = reconnect(lagging, a, offer);
      await commit(store, [{ k: 'network', i: 3, del: false, mtu: 1500 }]); // R+1 lands while it waits
      await resumed;
      expect([a.resumes, a.snapshots]).toEqual([1, 1]);
      expect(a.stream.at(-1)).toMatchObject({ type: 'changes', since: offer.revision, revision: store.revision });
      a.expectInStep(store);
      await commit(store, moved);
      a.expectInStep(store, 'streaming on');
    } finally {
      first.close();
      lagging.close();
      await store.close();
    }
  });

  it('counts commits that land while the log is read', async () => {
    const store = openStore(':memory:');
    const first = hubOn(store);
    try {
      await commit(store, model);
      const a = await connect(first, 'h0');
      first.close();
      // A document the agent holds changes after the log was read: the log does not show it.
      const slowLog = withLog(store, async (since) => {
        const log = await store.changesSince(since);
        await commit(store, [...moved, { k: 'port', i: 0, del: false, net: 0, host: 0, groups: [], admin: false, name: 'a' }]);
        return log;
      });
      const hub = hubOn(slowLog);
      try {
        await reconnect(hub, a);
        expect([a.resumes, a.snapshots]).toEqual([1, 1]);
        a.expectInStep(store);
        expect(a.held.get('port/port-0')).toMatchObject({ admin_state_up: false });
      } finally {
        hub.close();
      }
    } finally {
      await store.close();
    }
  });
});
