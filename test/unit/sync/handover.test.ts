// Moving HA routers at once when the controller KNOWS the old gateway is silent, on a listening
// in-memory controller with real agent channels: an agent that says `leaving` (clean stop) has its
// active HA routers handed over while it is still connected; the dead-man watcher's confirmation
// (POST /v2.0/weft/ha-legs-down, with the host's agent credential) moves them once the agent's
// channel is closed, is ignored while it is open, and refuses anything but that host's credential.
// The failover delay is set far beyond the tests' waits: whatever moves, moved on these signals.
import { afterEach, describe, expect, it } from 'vitest';
import { issueCredential } from '../../../controller/auth/agent-credentials.ts';
import { CONFIRMATION_HOLD_MS } from '../../../controller/sync/gateway-failover.ts';
import { LEGS_DOWN_PATH } from '../../../schemas/api/agent-identity.ts';
import { ADMIN } from '../../helpers/api.ts';
import { syncLab, until, type Recorded, type SyncLab } from './support.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let lab: SyncLab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

async function ok(l: SyncLab, method: 'POST' | 'PUT', url: string, body?: unknown) {
  const res = await l.call(ADMIN, method, url, body);
  expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
  return res.body;
}

/** An HA router with a gateway (on a VXLAN external network: any agent with a tunnel IP fits) and one interface. */
async function haRouter(l: SyncLab): Promise<string> {
  const ext = (await ok(l, 'POST', '/v2.0/networks', { network: { name: 'ext', 'router:external': true } })).network.id;
  await ok(l, 'POST', '/v2.0/subnets', { subnet: { network_id: ext, cidr: '203.0.113.0/24', ip_version: 4 } });
  const net = (await ok(l, 'POST', '/v2.0/networks', { network: { name: 'n' } })).network.id;
  const sub = (await ok(l, 'POST', '/v2.0/subnets', { subnet: { network_id: net, cidr: '10.1.0.0/24', ip_version: 4 } })).subnet.id;
  const r = (await ok(l, 'POST', '/v2.0/routers', { router: { name: 'r', ha: true, external_gateway_info: { network_id: ext } } })).router.id;
  await ok(l, 'PUT', `/v2.0/routers/${r}/add_router_interface`, { subnet_id: sub });
  return r;
}

const hostsOf = (l: SyncLab, id: string) => [...new Set(l.store.view().find('port', 'device_id', id).map((p) => p['binding:host_id']))];

/** Gateways g1 (active) and g2 (standby), both connected; failover only by the signals under test. */
async function gatewayLab(): Promise<{ l: SyncLab; g1: Recorded; g2: Recorded; router: string }> {
  const l = (lab = await syncLab({ l3FenceMs: 60_000 }));
  const g1 = l.agent('g1');
  await until(() => g1.snapshots.length, 'g1 connected');
  const g2 = l.agent('g2');
  await until(() => g2.snapshots.length, 'g2 connected');
  const router = await haRouter(l);
  expect(hostsOf(l, router)).toEqual(['g1']);
  return { l, g1, g2, router };
}

const credentialOf = async (l: SyncLab, host: string) => (await l.store.transact((tx) => issueCredential(tx, host, Date.now()))).result.secret;

async function legsDown(l: SyncLab, token: string | undefined, body: unknown) {
  const res = await l.app.inject({ method: 'POST', url: LEGS_DOWN_PATH, headers: token ? { 'x-auth-token': token } : {}, payload: body as object });
  return { status: res.statusCode, body: res.json() };
}

describe('a clean stop hands the HA routers over at once', () => {
  it('an agent that says leaving has its active HA routers moved to the standby while it is still connected', async () => {
    const { l, g1, g2, router } = await gatewayLab();
    expect(g1.welcomes[0]!.handover).toBe(true);
    const revision = l.store.revision;
    expect(g1.channel.sendLeaving()).toBe(true);
    await until(() => hostsOf(l, router)[0] === 'g2', 'the router moved to g2');
    expect(l.store.view().get('router', router)!.gateway_hosts).toEqual(['g2', 'g1']);
    expect(g1.channel.connected).toBe(true);
    // g1's own view says so: its wait (agent/l3/handover.ts) ends on it.
    await until(() => g1.changes.some((m) => m.revision > revision && m.changes.some((c) => c.kind === 'port')), 'g1 told of the move');
    const { body } = await l.call(ADMIN, 'GET', `/v2.0/routers/${router}/l3-agents`);
    expect(body.agents.map((a: any) => [a.host, a.ha_state])).toEqual([['g2', 'active'], ['g1', 'standby']]);
    // A leaving agent is no longer alive (nor published alive to other replicas), though still connected.
    const listed = (await l.call(ADMIN, 'GET', '/v2.0/agents')).body.agents.find((a: any) => a.host === 'g1');
    expect(listed.alive).toBe(false);
    // The survivor hears that g1 is lost (it leaves g1 out of its isolation majority); g1 is not told of itself.
    await until(() => g2.lostHosts.includes('g1'), 'g2 told g1 is lost');
    expect(g1.lostHosts).toEqual([]);
  });

  it('a leaving agent is no target: with it the only standby, a failover leaves the router where it is', async () => {
    const { l, g1, g2, router } = await gatewayLab();
    const secret = await credentialOf(l, 'g1');
    expect(g2.channel.sendLeaving()).toBe(true); // the standby leaves first: nothing of its own to hand over
    await g1.channel.close();
    await until(async () => (await l.call(ADMIN, 'GET', '/v2.0/agents')).body.agents.find((a: any) => a.host === 'g1').alive === false, 'g1 not alive');
    const r = await legsDown(l, secret, { ha_legs_down: { host: 'g1' } });
    expect(r.body.ha_legs_down).toEqual({ host: 'g1', action: 'failed_over', routers: {} });
    expect(hostsOf(l, router)).toEqual(['g1']);
  });
});

describe('the dead-man watcher confirms a dead agent\'s HA legs are down', () => {
  it('refuses anything but the named host\'s credential, and changes nothing', async () => {
    const { l, router } = await gatewayLab();
    const g2Secret = await credentialOf(l, 'g2');
    const before = l.store.revision;
    const wrongHost = await legsDown(l, g2Secret, { ha_legs_down: { host: 'g1' } });
    expect(wrongHost.status).toBe(403);
    expect(wrongHost.body.NeutronError.type).toBe('AgentCredentialHostMismatch');
    expect(wrongHost.body.NeutronError.message).toBe('The agent credential of host g2 cannot speak for host g1.');
    for (const token of [undefined, 'weft-host-not-a-real-one', 'an-admin-token-is-no-agent-credential']) {
      const r = await legsDown(l, token, { ha_legs_down: { host: 'g1' } });
      expect(r.status, String(token)).toBe(401);
      expect(r.body.NeutronError.type).toBe('AgentCredentialInvalid');
    }
    const g1Secret = await credentialOf(l, 'g1');
    const bad = await legsDown(l, g1Secret, { ha_legs_down: { host: 'g1', extra: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.NeutronError.type).toBe('HTTPBadRequest');
    expect(l.store.revision).toBe(before + 1); // the credential g1's issue made, nothing else
    expect(hostsOf(l, router)).toEqual(['g1']);
  });

  it('holds a confirmation while the agent is connected: nothing moves; a close within 1 s moves the routers at once', async () => {
    const { l, g1, router } = await gatewayLab();
    const r = await legsDown(l, await credentialOf(l, 'g1'), { ha_legs_down: { host: 'g1' } });
    expect(r.status).toBe(202);
    expect(r.body.ha_legs_down).toEqual({ host: 'g1', action: 'held', reason: 'its agent is connected to this controller: its HA routers move if it is lost within 1 s' });
    await sleep(100);
    expect(hostsOf(l, router)).toEqual(['g1']);
    await g1.channel.close();
    await until(() => hostsOf(l, router)[0] === 'g2', 'the router moved on the held confirmation');
  });

  it('a held confirmation stands only for a loss within 1 s of it', async () => {
    const { l, g1, router } = await gatewayLab();
    expect((await legsDown(l, await credentialOf(l, 'g1'), { ha_legs_down: { host: 'g1' } })).body.ha_legs_down.action).toBe('held');
    await sleep(CONFIRMATION_HOLD_MS + 100);
    await g1.channel.close();
    await sleep(300);
    expect(hostsOf(l, router)).toEqual(['g1']); // the failover delay (a minute here) applies
  });

  it('moves the routers at once once the agent\'s channel is closed', async () => {
    const { l, g1, router } = await gatewayLab();
    const secret = await credentialOf(l, 'g1');
    await g1.channel.close();
    await until(async () => (await l.call(ADMIN, 'GET', '/v2.0/agents')).body.agents.find((a: any) => a.host === 'g1').alive === false, 'g1 not alive');
    expect(hostsOf(l, router)).toEqual(['g1']); // the 60 s delay is far off
    const r = await legsDown(l, secret, { ha_legs_down: { host: 'g1' } });
    expect(r.status).toBe(202);
    expect(r.body.ha_legs_down).toEqual({ host: 'g1', action: 'failed_over', routers: { [router]: 'g2' } });
    expect(hostsOf(l, router)).toEqual(['g2']);
    // A second confirmation finds nothing left to move.
    expect((await legsDown(l, secret, { ha_legs_down: { host: 'g1' } })).body.ha_legs_down.routers).toEqual({});
  });
});
