// Agent presence shared by controller replicas, with two replicas in this process on one SQLite
// store and one MemorySharedState standing for etcd (test/integration/etcd-presence.test.ts does
// the same on a real etcd cluster): an agent connected to one replica is listed alive on the
// other with the revision it is in step at, a wait for the dataplane on the other waits for it,
// and an agent that goes, or moves, is seen so on both.
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../../controller/config.ts';
import { MemorySharedState, type SharedLease } from '../../../controller/store/shared-state.ts';
import { ADMIN } from '../../helpers/api.ts';
import { collect, hello, reporting, syncLab, until, type SyncLab } from './support.ts';

const labs: SyncLab[] = [];
afterEach(async () => {
  // Replicas before the lab that owns the store.
  for (const l of labs.splice(0).reverse()) await l.close();
});

/** A replicated memory state that counts the writes of presence records. */
class CountingState extends MemorySharedState {
  recordWrites = 0;
  override lease(ttlMs: number): SharedLease {
    const lease = super.lease(ttlMs);
    return {
      put: async (key, value) => {
        if (key.startsWith('presence/agents/')) this.recordWrites++;
        await lease.put(key, value);
      },
      release: () => lease.release(),
    };
  }
}

/** Two replicas on one store, sharing one state. */
async function replicas(overrides: Partial<Config> = {}, shared = new MemorySharedState({ replicated: true })): Promise<[SyncLab, SyncLab]> {
  const a = await syncLab(overrides, undefined, undefined, shared);
  labs.push(a);
  const b = await syncLab(overrides, undefined, a.store, shared);
  labs.push(b);
  return [a, b];
}

const agents = async (lab: SyncLab): Promise<any[]> => (await lab.call(ADMIN, 'GET', '/v2.0/agents')).body.agents;
const WAIT = 'x-weft-wait-dataplane';

describe('agent presence across replicas', () => {
  it('lists an agent connected to one replica alive on the other, with the revision it is in step at', async () => {
    const [one, two] = await replicas();
    const a = one.agent('host-a', { urls: [one.url] });
    reporting(a, 'host-a');
    await until(async () => (await agents(two))[0]?.alive === true, 'alive on the other replica');
    const net = (await two.call(ADMIN, 'POST', '/v2.0/networks', { network: {} }, { [WAIT]: '5' })).body.network.id;
    const port = await two.call(ADMIN, 'POST', '/v2.0/ports', { port: { network_id: net, 'binding:host_id': 'host-a' } }, { [WAIT]: '5' });
    expect(port.headers['x-weft-dataplane']).toBe('applied');
    const revision = one.store.revision;
    await until(async () => (await agents(one))[0].configurations.applied_revision === revision, 'in step on its own replica');
    await until(async () => (await agents(two))[0].configurations.applied_revision === revision, 'the same revision on the other');
    const [here, there] = [(await agents(one))[0], (await agents(two))[0]];
    expect(there).toMatchObject({ id: here.id, host: 'host-a', alive: true, started_at: here.started_at });
    expect(await agents(two)).toHaveLength(1);
    // Metrics on the other replica count it too.
    const metrics = (await two.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain('weft_sync_agents{state="alive"} 1');
  });

  it('answers a wait on the other replica once the agent applied the revision and reported the port up', async () => {
    const [one, two] = await replicas();
    const a = one.agent('host-a', { urls: [one.url] });
    const unplugged = new Set<string>();
    const reporter = reporting(a, 'host-a', (id) => !unplugged.has(id));
    await until(async () => (await agents(two))[0]?.alive === true, 'alive on the other replica');
    const net = (await two.call(ADMIN, 'POST', '/v2.0/networks', { network: {} })).body.network.id;

    const up = await two.call(ADMIN, 'POST', '/v2.0/ports', { port: { network_id: net, 'binding:host_id': 'host-a' } }, { [WAIT]: '5' });
    expect(up.headers['x-weft-dataplane']).toBe('applied');
    expect(up.body.port.status).toBe('ACTIVE');

    // A port the agent never reports up, then an agent that stops reporting: both time out on the other replica.
    const cold = (await two.call(ADMIN, 'POST', '/v2.0/ports', { port: { network_id: net } })).body.port.id;
    unplugged.add(cold);
    const bind = await two.call(ADMIN, 'PUT', `/v2.0/ports/${cold}`, { port: { 'binding:host_id': 'host-a' } }, { [WAIT]: '0.3' });
    expect(bind.headers['x-weft-dataplane']).toBe('timeout');
    reporter.enabled = false;
    const late = await two.call(ADMIN, 'POST', '/v2.0/ports', { port: { network_id: net, 'binding:host_id': 'host-a' } }, { [WAIT]: '0.3' });
    expect(late.headers['x-weft-dataplane']).toBe('timeout');
  });

  it('shows an agent that stops heartbeating, or whose connection closes, as not alive on both', async () => {
    const [one, two] = await replicas({ agentHeartbeatInterval: 0.05, agentDownTime: 0.3 });
    const ws = await one.raw();
    const got = collect(ws);
    ws.send(hello('mute-host'));
    await until(() => got.some((m) => m.type === 'snapshot'), 'snapshot');
    await until(async () => (await agents(two))[0]?.alive === true, 'alive on the other replica');
    // Silent past the down time.
    await until(async () => (await agents(one))[0].alive === false, 'not alive on its replica');
    await until(async () => (await agents(two))[0].alive === false, 'not alive on the other');
    ws.send(JSON.stringify({ type: 'heartbeat' }));
    await until(async () => (await agents(two))[0].alive === true, 'alive again on the other');
    ws.close();
    await until(async () => (await agents(one))[0].alive === false, 'closed, on its replica');
    await until(async () => (await agents(two))[0].alive === false, 'closed, on the other');
  });

  it("writes a quiet agent's record about once per down time, not once per heartbeat", async () => {
    const shared = new CountingState({ replicated: true });
    const [one, two] = await replicas({ agentHeartbeatInterval: 0.02, agentDownTime: 0.5 }, shared);
    const ws = await one.raw();
    const got = collect(ws);
    ws.send(hello('quiet-host'));
    await until(() => got.some((m) => m.type === 'snapshot'), 'snapshot');
    await until(async () => (await agents(two))[0]?.alive === true, 'alive on the other replica');
    const before = shared.recordWrites;
    for (let i = 0; i < 50; i++) {
      ws.send(JSON.stringify({ type: 'heartbeat' }));
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await agents(two))[0].alive).toBe(true);
    // 50 heartbeats in a second or more: a refresh per half second, with room for a slow machine.
    expect(shared.recordWrites - before).toBeLessThan(15);
    expect(shared.recordWrites - before).toBeGreaterThan(0);
  });

  it('disconnects an agent deleted through the other replica; it registers afresh', async () => {
    const [one, two] = await replicas();
    const a = one.agent('host-a', { urls: [one.url] });
    await until(async () => (await agents(two))[0]?.alive === true, 'alive on the other replica');
    const id = (await agents(two))[0].id;
    expect((await two.call(ADMIN, 'DELETE', `/v2.0/agents/${id}`)).status).toBe(204);
    await until(() => a.welcomes.length === 2, 'registered again');
    await until(async () => (await agents(two))[0]?.alive === true, 'the new agent alive on the other replica');
    const list = await agents(two);
    expect(list).toHaveLength(1);
    expect(list[0].id).not.toBe(id);
  });

  it('lists an agent that moves to the other replica once, and never as not alive', async () => {
    // The down time leaves room for the agent to reconnect on a busy machine.
    const [one, two] = await replicas({ agentHeartbeatInterval: 0.05, agentDownTime: 5 });
    const a = one.agent('host-a', { urls: [one.url, two.url] });
    await until(async () => (await agents(two))[0]?.alive === true, 'alive on the other replica');
    const seen: Array<{ n: number; alive: boolean }> = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const list = await agents(two);
        seen.push({ n: list.length, alive: list.every((x) => x.alive) });
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await one.stopApp();
    await until(() => a.welcomes.length === 2, 'the agent on the other replica');
    expect(a.channel.url).toBe(two.url);
    // Past the old replica's lease: its record is gone, the new session is all there is.
    await new Promise((r) => setTimeout(r, 5500));
    watching = false;
    await watcher;
    expect(seen.length).toBeGreaterThan(10);
    expect(seen.filter((s) => s.n !== 1 || !s.alive)).toEqual([]);
    expect((await agents(two))[0]).toMatchObject({ alive: true, host: 'host-a' });
  });
});
