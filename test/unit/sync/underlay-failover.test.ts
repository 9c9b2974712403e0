// HA routers fail over when their active gateway host is cut off from the underlay
// (controller/sync/underlay-failover.ts): its peers' BFD reports make it underlay-dead, and its
// routers move to the first standby that is alive and not underlay-dead, the margin after, or at
// once when the host itself says it is silent. One reporter is not enough; standbys cut off too
// are skipped, by this failover and by the liveness one.
import { afterEach, describe, expect, it } from 'vitest';
import type { SyncHub } from '../../../controller/sync/hub.ts';
import { MemorySharedState } from '../../../controller/store/shared-state.ts';
import { ADMIN, testApi, type TestApi } from '../../helpers/api.ts';
import { connect, hubOn, type FoldingAgent } from './host-view-support.ts';

let api: TestApi | undefined;
let hub: SyncHub | undefined;
let other: SyncHub | undefined;
afterEach(async () => {
  other?.close();
  other = undefined;
  hub?.close();
  await api?.close();
  api = hub = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ok(method: 'POST' | 'PUT', url: string, body?: unknown) {
  const res = await api!.call(ADMIN, method, url, body);
  expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
  return res.body;
}

async function haRouter(): Promise<string> {
  const ext = (await ok('POST', '/v2.0/networks', { network: { name: 'ext', 'router:external': true } })).network.id;
  await ok('POST', '/v2.0/subnets', { subnet: { network_id: ext, cidr: '203.0.113.0/24', ip_version: 4 } });
  const r = (await ok('POST', '/v2.0/routers', { router: { name: 'r', ha: true, external_gateway_info: { network_id: ext } } })).router.id;
  return r;
}

const hostsOf = (id: string) => [...new Set(api!.store.view().find('port', 'device_id', id).map((p) => p['binding:host_id']))];
const groupOf = (id: string) => api!.store.view().get('router', id)!.gateway_hosts;
const say = (a: FoldingAgent, peers: Record<string, 'up' | 'down' | null>, extra: object = {}) =>
  a.session.receive(JSON.stringify({ type: 'underlay', peers, ...extra }));

/** Four hosts; the HA router is active on g1 with standbys g2 and g3 (h4 ranks last). */
async function lab(marginMs: number): Promise<{ id: string; a: Record<string, FoldingAgent> }> {
  api = await testApi();
  hub = hubOn(api.store, { l3FailoverDelayMs: 400, l3FailoverMarginMs: marginMs });
  const a: Record<string, FoldingAgent> = {};
  for (const h of ['g1', 'g2', 'g3', 'h4']) a[h] = await connect(hub, h);
  const id = await haRouter();
  expect(hostsOf(id)).toEqual(['g1']);
  expect(groupOf(id)).toEqual(['g1', 'g2', 'g3']);
  for (const h of ['g2', 'g3', 'h4']) say(a[h]!, { g1: 'up' });
  return { id, a };
}

describe('underlay failover', () => {
  it('moves the routers of a host a majority of its probers lost, the margin after, to the first standby; the lost host goes last', async () => {
    const { id, a } = await lab(100);
    say(a.g2!, { g1: 'down' });
    await sleep(150);
    expect(hostsOf(id)).toEqual(['g1']); // one of three probers
    say(a.g3!, { g1: 'down' });
    await sleep(40);
    expect(hostsOf(id)).toEqual(['g1']); // within the margin
    await sleep(150);
    expect(hostsOf(id)).toEqual(['g2']);
    expect(groupOf(id)).toEqual(['g2', 'g3', 'g1']);
    a.g2!.expectInStep(api!.store, 'active');
    // The underlay comes back: nothing moves back.
    say(a.g2!, { g1: 'up' });
    say(a.g3!, { g1: 'up' });
    await sleep(150);
    expect(hostsOf(id)).toEqual(['g2']);
  });

  it('moves at once when the cut-off host says its routers are silent', async () => {
    const { id, a } = await lab(60_000);
    say(a.g1!, {}, { isolated: true }); // before its peers' reports: remembered
    say(a.g2!, { g1: 'down' });
    say(a.g3!, { g1: 'down' });
    await sleep(50);
    expect(hostsOf(id)).toEqual(['g2']);
  });

  it('a silence report cuts the margin short', async () => {
    const { id, a } = await lab(60_000);
    say(a.g2!, { g1: 'down' });
    say(a.g3!, { g1: 'down' });
    await sleep(50);
    expect(hostsOf(id)).toEqual(['g1']);
    say(a.g1!, {}, { isolated: true });
    await sleep(50);
    expect(hostsOf(id)).toEqual(['g2']);
  });

  it('never promotes a standby that is cut off too; the liveness failover skips it as well', async () => {
    const { id, a } = await lab(50);
    // g2 is cut off: its probers g1, g3, h4; two of them say so. It is only a standby: nothing moves.
    say(a.g1!, { g2: 'down' });
    say(a.g3!, { g2: 'down' });
    await sleep(100);
    expect(hostsOf(id)).toEqual(['g1']);
    say(a.g3!, { g1: 'down' });
    say(a.h4!, { g1: 'down' });
    await sleep(150);
    expect(hostsOf(id)).toEqual(['g3']);
    expect(groupOf(id)).toEqual(['g3', 'g2', 'g1']);
    // g3's agent goes (liveness failover, l3FailoverDelayMs 400); its votes go with it. g2 is
    // still cut off (g1 and h4 say so), g1 no longer (only h4 does): the router goes to g1.
    say(a.h4!, { g2: 'down' });
    a.g3!.session.close(1006, 'gone');
    await sleep(600);
    expect(hostsOf(id)).toEqual(['g1']);
    expect(groupOf(id)).toEqual(['g1', 'g2', 'g3']);
  });

  it('the votes of a reporter whose session closed, or that it took back in a full report, no longer count', async () => {
    const { id, a } = await lab(100);
    say(a.g2!, { g1: 'down' });
    a.g2!.session.close(1006, 'gone');
    say(a.g3!, { g1: 'down' }, { full: true });
    await sleep(200);
    expect(hostsOf(id)).toEqual(['g1']);
    say(a.h4!, { g1: 'down' });
    say(a.h4!, { g1: 'up' }, { full: true });
    await sleep(200);
    expect(hostsOf(id)).toEqual(['g1']);
  });

  it('across replicas: reporters on two replicas make one verdict, and each replica acts on it', async () => {
    api = await testApi();
    const shared = new MemorySharedState({ replicated: true });
    // The first replica would wait a minute: only the second, which holds neither g1 nor g2, can move the router in time.
    hub = hubOn(api.store, { l3FailoverDelayMs: 400, l3FailoverMarginMs: 60_000, shared });
    other = hubOn(api.store, { l3FailoverDelayMs: 400, l3FailoverMarginMs: 50, shared });
    await hub.start();
    await other.start();
    const a: Record<string, FoldingAgent> = {};
    for (const h of ['g1', 'g2']) a[h] = await connect(hub, h);
    for (const h of ['g3', 'h4']) a[h] = await connect(other, h);
    const id = await haRouter();
    expect(hostsOf(id)).toEqual(['g1']);
    expect(groupOf(id)).toEqual(['g1', 'g2', 'g3']);
    say(a.g2!, { g1: 'down' }); // on the first replica
    await sleep(150);
    expect(hostsOf(id)).toEqual(['g1']); // one vote
    say(a.h4!, { g1: 'down' }); // on the second
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline && hostsOf(id)[0] !== 'g2') await sleep(20);
    expect(hostsOf(id)).toEqual(['g2']);
    expect(groupOf(id)).toEqual(['g2', 'g3', 'g1']);
  });
});
