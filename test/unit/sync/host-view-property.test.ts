// Each agent gets exactly its host's view: after every commit of a random history (networks,
// subnets, ports bound to one of three hosts or none, moved between hosts, regrouped, groups,
// rules with and without remote groups, agents, routers whose interface/gateway ports are bound
// to hosts, floating IPs associated, moved between routers and disassociated, firewall groups on
// router interface ports with their policies and rules, deletes; several changes per commit), what every
// connected agent holds (its snapshot with every later change folded in) equals the host's
// interest computed from scratch on the current model (referenceView, written from the
// definition), and a commit sends a message to exactly the agents whose view it changes. An agent
// that connects part-way through starts from a snapshot of the same view.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../../controller/store/open.ts';
import { HOSTS, apply, batchesArb, opArb, type Op } from './host-view-ops.ts';
import { connect, hubOn, referenceView, sorted, type FoldingAgent } from './host-view-support.ts';

async function run(setup: Op[], batches: Op[][], joinAt: number): Promise<void> {
  const store = openStore(':memory:');
  const hub = hubOn(store);
  try {
    await store.transact((tx) => setup.forEach((op) => apply(tx, op)));
    const agents: FoldingAgent[] = [await connect(hub, 'h0'), await connect(hub, 'h1')];
    for (const a of agents) a.expectInStep(store, 'after the snapshot');
    for (const [n, batch] of batches.entries()) {
      if (n === joinAt) agents.push(await connect(hub, 'h2'));
      const before = agents.map((a) => JSON.stringify(sorted(referenceView(store.view(), a.host))));
      const messages = agents.map((a) => a.changes.size);
      await store.transact((tx) => batch.forEach((op) => apply(tx, op)));
      for (const [i, a] of agents.entries()) {
        const what = `after batch ${n} ${JSON.stringify(batch)}`;
        a.expectInStep(store, what);
        // The commit reached exactly the agents whose view it changed.
        const changed = JSON.stringify(sorted(referenceView(store.view(), a.host))) !== before[i];
        expect(a.changes.size - messages[i], `${a.host} ${what}: sent`).toBe(changed ? 1 : 0);
      }
    }
    // A fresh snapshot of every host is the same view.
    for (const host of HOSTS) (await connect(hub, host)).expectInStep(store, 'fresh snapshot');
  } finally {
    hub.close();
    await store.close();
  }
}


describe("each agent holds exactly its host's view", () => {
  it('random commits from an empty model', async () => {
    await fc.assert(fc.asyncProperty(batchesArb(40), fc.nat({ max: 40 }), (batches, joinAt) => run([], batches, joinAt)), { numRuns: 150 });
  });

  it('random commits from a populated model (snapshots of a non-empty view)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 10, maxLength: 60 }), batchesArb(25), fc.nat({ max: 25 }),
        (setup, batches, joinAt) => run(setup, batches, joinAt)),
      { numRuns: 100 },
    );
  });

  it('one big commit after another (interest moves a lot at once)', async () => {
    const big = fc.array(fc.array(opArb, { minLength: 5, maxLength: 25 }), { minLength: 1, maxLength: 8 });
    await fc.assert(fc.asyncProperty(big, (batches) => run([], batches, 0)), { numRuns: 100 });
  });

  it('a commit that leaves the view unchanged sends nothing', async () => {
    // Sanity of the harness: FoldingAgent refuses empty updates, and a rename is not in the view.
    const store = openStore(':memory:');
    const hub = hubOn(store);
    try {
      await store.transact((tx) => {
        apply(tx, { k: 'network', i: 0, del: false, mtu: 1450 });
        apply(tx, { k: 'port', i: 0, del: false, net: 0, host: 0, groups: [], admin: true, name: 'a' });
      });
      const a = await connect(hub, 'h0');
      const before = a.revision;
      await store.transact((tx) => apply(tx, { k: 'rename', i: 0, name: 'x' }));
      a.expectInStep(store);
      expect(a.revision).toBe(before);
      expect(a.changes.size).toBe(0);
    } finally {
      hub.close();
      await store.close();
    }
  });
});
