import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../controller/config.ts';
import { MODEL_INDEXES } from '../../controller/domain/indexes.ts';
import { openEtcdStore, type EtcdStore } from '../../controller/store/etcd/etcd-store.ts';
import { startEtcdCluster, type EtcdCluster } from '../../lab/etcd.ts';
import { ADMIN } from '../helpers/api.ts';
import { collect, hello, reporting, syncLab, until, type SyncLab } from '../unit/sync/support.ts';

// Agent presence shared by two controller replicas on a real 3-member etcd cluster: two listening
// apps, each with its own etcd store on one prefix (and so the etcd shared state), and agents
// (real channel clients, or raw sockets) connected to one of them.

let cluster: EtcdCluster;
const labs: SyncLab[] = [];
const stores: EtcdStore[] = [];
let prefixes = 0;

beforeAll(async () => {
  cluster = await startEtcdCluster({ members: 3 });
}, 60_000);
afterAll(async () => cluster?.cleanup());
afterEach(async () => {
  for (const l of labs.splice(0)) await l.close();
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

async function replicas(overrides: Partial<Config> = {}): Promise<[SyncLab, SyncLab]> {
  const prefix = `/presence-test-${process.pid}-${++prefixes}/`;
  const out: SyncLab[] = [];
  for (let i = 0; i < 2; i++) {
    const store = await openEtcdStore({ endpoints: cluster.endpoints, prefix, indexes: MODEL_INDEXES });
    stores.push(store);
    const lab = await syncLab(overrides, undefined, store);
    labs.push(lab);
    out.push(lab);
  }
  return out as [SyncLab, SyncLab];
}

const agents = async (lab: SyncLab): Promise<any[]> => (await lab.call(ADMIN, 'GET', '/v2.0/agents')).body.agents;
const WAIT = 'x-weft-wait-dataplane';

describe('agent presence across replicas on etcd', () => {
  it('lists an agent connected to replica A alive on replica B with the same applied revision, and B waits for it', async () => {
    const [one, two] = await replicas();
    const a = one.agent('host-a', { urls: [one.url] });
    const reporter = reporting(a, 'host-a');
    await until(async () => (await agents(two))[0]?.alive === true, 'alive on replica B', 20_000);

    const net = (await two.call(ADMIN, 'POST', '/v2.0/networks', { network: {} })).body.network.id;
    const port = await two.call(ADMIN, 'POST', '/v2.0/ports', { port: { network_id: net, 'binding:host_id': 'host-a' } }, { [WAIT]: '10' });
    expect(port.status).toBe(201);
    expect(port.headers['x-weft-dataplane']).toBe('applied');
    expect(port.body.port.status).toBe('ACTIVE');
    // It went to the agent on A, which reported it up before B answered.
    expect(a.changes.some((m) => m.changes.some((c) => c.kind === 'port' && c.id === port.body.port.id))).toBe(true);

    await until(async () => {
      const [here, there] = [(await agents(one))[0], (await agents(two))[0]];
      return here.configurations.applied_revision === one.store.revision && there.configurations.applied_revision === here.configurations.applied_revision;
    }, 'the same applied revision on both', 20_000);
    const [here, there] = [(await agents(one))[0], (await agents(two))[0]];
    expect(there).toMatchObject({ id: here.id, alive: true, started_at: here.started_at });
    expect(await agents(two)).toHaveLength(1);

    // An agent on A that stops reporting holds B's waits until they time out.
    reporter.enabled = false;
    const late = await two.call(ADMIN, 'POST', '/v2.0/ports', { port: { network_id: net, 'binding:host_id': 'host-a' } }, { [WAIT]: '0.5' });
    expect(late.headers['x-weft-dataplane']).toBe('timeout');
  });

  it('shows an agent whose session stops, then closes, as not alive on both after the down time', async () => {
    const [one, two] = await replicas({ agentHeartbeatInterval: 0.05, agentDownTime: 0.5 });
    const ws = await one.raw();
    const got = collect(ws);
    ws.send(hello('mute-host'));
    await until(() => got.some((m) => m.type === 'snapshot'), 'snapshot');
    await until(async () => (await agents(two))[0]?.alive === true, 'alive on replica B', 20_000);
    // No heartbeat past the down time.
    await until(async () => (await agents(one))[0].alive === false, 'not alive on A', 20_000);
    await until(async () => (await agents(two))[0].alive === false, 'not alive on B', 20_000);
    ws.send(JSON.stringify({ type: 'heartbeat' }));
    await until(async () => (await agents(two))[0].alive === true, 'alive again on B', 20_000);
    ws.terminate();
    await until(async () => (await agents(one))[0].alive === false, 'closed, on A', 20_000);
    await until(async () => (await agents(two))[0].alive === false, 'closed, on B', 20_000);
  });

  it('lists an agent that moves from a stopped replica to the other once, and never as not alive', async () => {
    // A down time that leaves room for the agent to reconnect on a busy machine.
    const [one, two] = await replicas({ agentHeartbeatInterval: 0.05, agentDownTime: 5 });
    const a = one.agent('host-a', { urls: [one.url, two.url] });
    await until(async () => (await agents(two))[0]?.alive === true, 'alive on replica B', 20_000);
    const records = async () => (await stores[1].client.getAll().prefix(`${stores[1].keys.shared}presence/agents/`).keys());
    const [recordOfA] = await records();
    const seen: Array<{ n: number; alive: boolean }> = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const list = await agents(two);
        seen.push({ n: list.length, alive: list.every((x) => x.alive) });
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await one.stopApp();
    await until(() => a.welcomes.length === 2, 'the agent on replica B', 20_000);
    expect(a.channel.url).toBe(two.url);
    // Until A's lease has run out: its record goes, and B's own session is all there is.
    await until(async () => !(await records()).includes(recordOfA), "A's record to run out", 20_000);
    watching = false;
    await watcher;
    expect(seen.length).toBeGreaterThan(10);
    expect(seen.filter((s) => s.n !== 1 || !s.alive)).toEqual([]);
  });
});
