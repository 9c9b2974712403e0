import { startEtcdCluster } from '../../lab/etcd.ts';
import { openEtcdStore } from '../../controller/store/etcd/etcd-store.ts';
import { Etcd3 } from 'etcd3';
const cluster = await startEtcdCluster({ members: 3, parentDir: process.env.DIR });
const GAP = Number(process.env.GAP ?? 100);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
try {
  const store = await openEtcdStore({ endpoints: cluster.endpoints, indexes: {} as any });
  const pct = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) * p / 100)];
  for (let round = 0; round < 2; round++) {
    const t: number[] = [];
    for (let i = 0; i < 60; i++) {
      await sleep(GAP);
      const t0 = performance.now();
      await store.transact((tx: any) => tx.put('thing', { id: 'x' + (i % 10), n: i }));
      t.push(performance.now() - t0);
    }
    console.log('store.transact p50', pct(t, 50).toFixed(2), 'p90', pct(t, 90).toFixed(2));
  }
  for (const [i, ep] of cluster.endpoints.entries()) {
    const c = new Etcd3({ hosts: [ep] });
    const st = await c.maintenance.status();
    const t: number[] = [];
    for (let j = 0; j < 60; j++) { await sleep(GAP); const t0 = performance.now(); await c.put('k' + j % 10).value('v'); t.push(performance.now() - t0); }
    console.log('member', i, st.header.member_id === st.leader ? 'LEADER' : 'follower', 'put p50', pct(t, 50).toFixed(2), 'p90', pct(t, 90).toFixed(2));
    c.close();
  }
  await store.close();
} finally { await cluster.cleanup(); }
