// HA routers fail over by the controller's liveness (controller/sync/gateway-failover.ts): when the
// active gateway host's agent goes, after l3FenceMs + margin its HA routers move to the first live
// standby, the lost host last; an agent back within that time keeps them; the standby's view then
// holds the router as the active one. With several replicas, any replica acts on what the one
// holding the agent's session publishes.
import { afterEach, describe, expect, it } from 'vitest';
import { issueCredential } from '../../../controller/auth/agent-credentials.ts';
import { mustFailOver } from '../../../controller/sync/gateway-failover.ts';
import { LEGS_DOWN_PATH } from '../../../schemas/api/agent-identity.ts';
import { MemorySharedState } from '../../../controller/store/shared-state.ts';
import { ADMIN, testApi } from '../../helpers/api.ts';
import { syncLab, until, type SyncLab } from './support.ts';
import { closedAfterEach, connect, hubOn, idsOf } from './host-view-support.ts';

const t = closedAfterEach();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ok(method: 'POST' | 'PUT', url: string, body?: unknown) {
  const res = await t.api!.call(ADMIN, method, url, body);
  expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
  return res.body;
}

/** An HA router with a gateway (on a VXLAN external network: any agent with a tunnel IP fits) and one interface. */
async function haRouter(): Promise<string> {
  const ext = (await ok('POST', '/v2.0/networks', { network: { name: 'ext', 'router:external': true } })).network.id;
  await ok('POST', '/v2.0/subnets', { subnet: { network_id: ext, cidr: '203.0.113.0/24', ip_version: 4 } });
  const net = (await ok('POST', '/v2.0/networks', { network: { name: 'n' } })).network.id;
  const sub = (await ok('POST', '/v2.0/subnets', { subnet: { network_id: net, cidr: '10.1.0.0/24', ip_version: 4 } })).subnet.id;
  const r = (await ok('POST', '/v2.0/routers', { router: { name: 'r', ha: true, external_gateway_info: { network_id: ext } } })).router.id;
  await ok('PUT', `/v2.0/routers/${r}/add_router_interface`, { subnet_id: sub });
  return r;
}

const hostsOf = (id: string) => [...new Set(t.api!.store.view().find('port', 'device_id', id).map((p) => p['binding:host_id']))];
const groupOf = (id: string) => t.api!.store.view().get('router', id)!.gateway_hosts;

describe('gateway failover', () => {
  it('decides on the merged liveness only', () => {
    expect(mustFailOver(false, false)).toBe(true);
    expect(mustFailOver(true, false)).toBe(false); // back (here or on another replica)
    expect(mustFailOver(false, true)).toBe(false); // controller stopping
  });

  it('moves the HA routers of a lost gateway host to the first live standby after the delay; the standby gets them in its view', async () => {
    t.api = await testApi();
    t.hub = hubOn(t.api.store, { l3FailoverDelayMs: 100 });
    const g1 = await connect(t.hub, 'g1');
    const g2 = await connect(t.hub, 'g2');
    const id = await haRouter();
    expect(hostsOf(id)).toEqual(['g1']);
    expect(groupOf(id)).toEqual(['g1', 'g2']);
    // The standby holds the router, its ports and their networks already.
    expect(idsOf(g2.held, 'router')).toEqual([id]);
    g2.expectInStep(t.api.store, 'standby');
    g1.session.close(1006, 'gone');
    await sleep(40);
    expect(hostsOf(id)).toEqual(['g1']); // not before the fence time has passed
    await sleep(150);
    expect(hostsOf(id)).toEqual(['g2']);
    expect(groupOf(id)).toEqual(['g2', 'g1']);
    g2.expectInStep(t.api.store, 'active');
    const shown = await t.api.call(ADMIN, 'GET', `/v2.0/routers/${id}/l3-agents`);
    expect(shown.body.agents.map((a: any) => [a.host, a.ha_state])).toEqual([['g2', 'active'], ['g1', 'standby']]);
    // g1 comes back: a standby, nothing moves back.
    const back = await connect(t.hub, 'g1');
    await sleep(150);
    expect(hostsOf(id)).toEqual(['g2']);
    back.expectInStep(t.api.store, 'returned as standby');
    expect(idsOf(back.held, 'router')).toEqual([id]);
  });

  it('an agent that reconnects within the delay keeps its routers; no live standby: the router stays', async () => {
    t.api = await testApi();
    t.hub = hubOn(t.api.store, { l3FailoverDelayMs: 100 });
    const g1 = await connect(t.hub, 'g1');
    const g2 = await connect(t.hub, 'g2');
    const id = await haRouter();
    g1.session.close(1006, 'blip');
    await connect(t.hub, 'g1');
    await sleep(200);
    expect(hostsOf(id)).toEqual(['g1']);
    g2.session.close(1006, 'gone');
    await sleep(50);
    // Now g1 goes too, while g2 (its only standby) is down: nothing to switch to.
    const again = [...(t.hub as any).sessions].find((s: any) => s.runtime?.host === 'g1');
    again.close(1006, 'gone');
    await sleep(200);
    expect(hostsOf(id)).toEqual(['g1']);
  });

  it('also fails over when the active host stops heartbeating while its channel stays open', async () => {
    t.api = await testApi();
    // Agents heartbeat every 0.1 s and are down after 0.3 s without one.
    t.hub = hubOn(t.api.store, { l3FailoverDelayMs: 100, heartbeatInterval: 0.1, downTime: 0.3 });
    const h = t.hub;
    const g1 = await connect(h, 'g1');
    const g2 = await connect(h, 'g2');
    // g2 heartbeats; g1 says nothing more (hung agent, socket open).
    const beat = setInterval(() => h.heartbeat(g2.session), 50);
    try {
      const id = await haRouter();
      expect(hostsOf(id)).toEqual(['g1']);
      await sleep(200);
      expect(hostsOf(id)).toEqual(['g1']); // within the down time: nothing yet
      const deadline = Date.now() + 3000;
      while (Date.now() < deadline && hostsOf(id)[0] !== 'g2') await sleep(50);
      expect(hostsOf(id)).toEqual(['g2']);
      expect(groupOf(id)).toEqual(['g2', 'g1']);
      expect(g1.closed).toBeUndefined(); // its channel is still open: it is a standby now
    } finally {
      clearInterval(beat);
    }
  });
});

describe('gateway failover across controller replicas', () => {
  const labs: SyncLab[] = [];
  afterEach(async () => {
    for (const l of labs.splice(0).reverse()) await l.close();
  });

  /**
   * Replicas one and two on one store, g1 connected to one and g2 to two, and an HA router active on
   * g1 with g2 its standby; `twoMarginMs` is replica two's failover margin (one waits a minute).
   */
  async function acrossReplicas(twoMarginMs?: number) {
    const shared = new MemorySharedState({ replicated: true });
    const one = await syncLab({ l3FailoverMarginMs: 60_000 }, undefined, undefined, shared);
    labs.push(one);
    const two = await syncLab(twoMarginMs === undefined ? {} : { l3FailoverMarginMs: twoMarginMs }, undefined, one.store, shared);
    labs.push(two);
    const g1 = one.agent('g1', { urls: [one.url] });
    two.agent('g2', { urls: [two.url] });
    const list = async () => (await two.call(ADMIN, 'GET', '/v2.0/agents')).body.agents as Array<{ host: string; alive: boolean }>;
    await until(async () => (await list()).filter((a) => a.alive).length === 2, 'both agents alive on replica two');
    const call = async (method: 'POST' | 'PUT', url: string, body: unknown) => {
      const r = await two.call(ADMIN, method, url, body);
      expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
      return r.body;
    };
    const ext = (await call('POST', '/v2.0/networks', { network: { 'router:external': true } })).network.id;
    await call('POST', '/v2.0/subnets', { subnet: { network_id: ext, cidr: '203.0.113.0/24', ip_version: 4 } });
    const r = (await call('POST', '/v2.0/routers', { router: { ha: true, external_gateway_info: { network_id: ext } } })).router.id;
    const hosts = () => [...new Set(two.store.view().find('port', 'device_id', r).map((p) => p['binding:host_id']))];
    expect(hosts()).toEqual(['g1']);
    expect(two.store.view().get('router', r)!.gateway_hosts).toEqual(['g1', 'g2']);
    return { one, two, g1, r, hosts };
  }

  it('a replica fails over a gateway whose agent was connected to another replica (which does not act here)', async () => {
    // Replica one would wait a minute: only replica two can be the one that moves the router.
    const { two, g1, r, hosts } = await acrossReplicas();
    await g1.channel.close();
    await until(() => hosts()[0] === 'g2', 'the router moved to g2 by replica two', 5000);
    expect(two.store.view().get('router', r)!.gateway_hosts).toEqual(['g2', 'g1']);
  });

  it('a dead-man confirmation that reaches a replica still showing the agent alive (connected to another) is held, and moves the router as soon as the agent is lost', async () => {
    // Both replicas would wait a minute: only the held confirmation can move the router in time.
    const { one, two, g1, hosts } = await acrossReplicas(60_000);
    const secret = (await one.store.transact((tx) => issueCredential(tx, 'g1', Date.now()))).result.secret;
    const res = await two.app.inject({ method: 'POST', url: LEGS_DOWN_PATH, headers: { 'x-auth-token': secret }, payload: { ha_legs_down: { host: 'g1' } } });
    expect(res.statusCode).toBe(202);
    expect(res.json().ha_legs_down.action).toBe('held');
    expect(hosts()).toEqual(['g1']);
    await g1.channel.close();
    await until(() => hosts()[0] === 'g2', 'the router moved to g2 on the held confirmation', 3000);
  });
});
