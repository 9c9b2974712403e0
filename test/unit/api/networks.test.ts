import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN, ALICE, BOB, testApi, type TestApi } from '../../helpers/api.ts';

let api: TestApi;
beforeEach(async () => { api = await testApi({ segments: { tenantNetworkTypes: ['vxlan'], vniRanges: ['100:102'], vlanRanges: ['physnet1:10:11'], flatNetworks: ['*'] } }); });
afterEach(async () => api.close());

describe('networks', () => {
  it('creates a tenant network with a VXLAN segment and Neutron fields', async () => {
    const res = await api.call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'net1' } });
    expect(res.status).toBe(201);
    const n = res.body.network;
    expect(n).toMatchObject({ name: 'net1', project_id: 'alice-project', tenant_id: 'alice-project', admin_state_up: true,
      shared: false, 'router:external': false, mtu: 1450, port_security_enabled: true, status: 'ACTIVE', subnets: [], revision_number: 1, tags: [] });
    expect(n['provider:network_type']).toBeUndefined(); // admin-only attribute
    const shown = await api.call(ADMIN, 'GET', `/v2.0/networks/${n.id}`);
    expect(shown.body.network).toMatchObject({ 'provider:network_type': 'vxlan', 'provider:segmentation_id': 100, 'provider:physical_network': null });
  });

  it('runs out of segments with 503 NoNetworkAvailable and frees them on delete', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await api.call(ALICE, 'POST', '/v2.0/networks', { network: {} })).body.network.id);
    const full = await api.call(ALICE, 'POST', '/v2.0/networks', { network: {} });
    expect(full.status).toBe(503);
    expect(full.body.NeutronError.type).toBe('NoNetworkAvailable');
    expect((await api.call(ALICE, 'DELETE', `/v2.0/networks/${ids[1]}`)).status).toBe(204);
    const again = await api.call(ADMIN, 'POST', '/v2.0/networks', { network: {} });
    expect(again.body.network['provider:segmentation_id']).toBe(101);
  });

  it('lets admins choose provider segments and rejects members', async () => {
    const vlan = await api.call(ADMIN, 'POST', '/v2.0/networks', { network: { 'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1', 'provider:segmentation_id': 42 } });
    expect(vlan.status).toBe(201);
    expect(vlan.body.network.mtu).toBe(1500);
    const dup = await api.call(ADMIN, 'POST', '/v2.0/networks', { network: { 'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1', 'provider:segmentation_id': 42 } });
    expect(dup.status).toBe(409);
    expect(dup.body.NeutronError.type).toBe('VlanIdInUse');
    const flat = await api.call(ADMIN, 'POST', '/v2.0/networks', { network: { 'provider:network_type': 'flat', 'provider:physical_network': 'ext' } });
    expect(flat.body.network['provider:segmentation_id']).toBeNull();
    const member = await api.call(ALICE, 'POST', '/v2.0/networks', { network: { 'provider:network_type': 'vxlan' } });
    expect(member.status).toBe(403);
    expect(member.body.NeutronError.type).toBe('PolicyNotAuthorized');
  });

  it('hides other projects and shows shared and external networks', async () => {
    const mine = (await api.call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'a' } })).body.network;
    await api.call(ADMIN, 'POST', '/v2.0/networks', { network: { name: 'shared', shared: true } });
    await api.call(ADMIN, 'POST', '/v2.0/networks', { network: { name: 'ext', 'router:external': true } });
    const bobList = await api.call(BOB, 'GET', '/v2.0/networks');
    expect(bobList.body.networks.map((n: any) => n.name).sort()).toEqual(['ext', 'shared']);
    expect((await api.call(BOB, 'GET', `/v2.0/networks/${mine.id}`)).status).toBe(404);
    expect((await api.call(BOB, 'DELETE', `/v2.0/networks/${mine.id}`)).body.NeutronError.type).toBe('NetworkNotFound');
  });

  it('rejects unknown attributes and bad values with 400 and changes nothing', async () => {
    const before = api.store.revision;
    const bad = await api.call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'x', colour: 'red' } });
    expect(bad.status).toBe(400);
    expect(bad.body.NeutronError.message).toContain("Unrecognized attribute(s) 'colour'");
    expect((await api.call(ALICE, 'POST', '/v2.0/networks', { network: { admin_state_up: 'maybe' } })).status).toBe(400);
    expect((await api.call(ALICE, 'POST', '/v2.0/networks', { nettwork: {} })).status).toBe(400);
    expect(api.store.revision).toBe(before);
  });

  it('updates with If-Match revision checks', async () => {
    const n = (await api.call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'a' } })).body.network;
    const stale = await api.call(ALICE, 'PUT', `/v2.0/networks/${n.id}`, { network: { name: 'b' } }, { 'if-match': 'revision_number=7' });
    expect(stale.status).toBe(412);
    const ok = await api.call(ALICE, 'PUT', `/v2.0/networks/${n.id}`, { network: { name: 'b' } }, { 'if-match': 'revision_number=1' });
    expect(ok.status).toBe(200);
    expect(ok.body.network).toMatchObject({ name: 'b', revision_number: 2 });
  });

  it('creates in bulk atomically', async () => {
    const ok = await api.call(ALICE, 'POST', '/v2.0/networks', { networks: [{ name: 'a' }, { name: 'b' }] });
    expect(ok.status).toBe(201);
    expect(ok.body.networks).toHaveLength(2);
    const before = api.store.revision;
    const failing = await api.call(ALICE, 'POST', '/v2.0/networks', { networks: [{ name: 'c' }, { name: 'd' }] }); // only 1 VNI left
    expect(failing.status).toBe(503);
    expect(api.store.revision).toBe(before);
    expect((await api.call(ALICE, 'GET', '/v2.0/networks')).body.networks).toHaveLength(2);
  });

  it('filters, selects fields, sorts and pages with links', async () => {
    await api.call(ADMIN, 'POST', '/v2.0/networks', { networks: [{ name: 'c' }, { name: 'a', shared: true }, { name: 'b' }] });
    const names = async (q: string) => (await api.call(ADMIN, 'GET', `/v2.0/networks?${q}`)).body;
    expect((await names('name=a&name=b&sort_key=name')).networks.map((n: any) => n.name)).toEqual(['a', 'b']);
    expect((await names('shared=true')).networks.map((n: any) => n.name)).toEqual(['a']);
    expect((await names('fields=name&sort_key=name&sort_dir=desc')).networks).toEqual([{ name: 'c' }, { name: 'b' }, { name: 'a' }]);
    const page1 = await names('sort_key=name&limit=2');
    expect(page1.networks.map((n: any) => n.name)).toEqual(['a', 'b']);
    const next = page1.networks_links.find((l: any) => l.rel === 'next').href;
    const page2 = await names(next.split('?')[1]);
    expect(page2.networks.map((n: any) => n.name)).toEqual(['c']);
    const bad = await api.call(ADMIN, 'GET', '/v2.0/networks?colour=red');
    expect(bad.status).toBe(400);
  });

  it('links name the host the client addressed; X-Forwarded-* only with proxyHeaders', async () => {
    await api.call(ADMIN, 'POST', '/v2.0/networks', { networks: [{ name: 'a' }, { name: 'b' }] });
    const forwarded = { host: 'replica-1:9696', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'neutron.example:443' };
    const links = async (a: TestApi) => (await a.call(ADMIN, 'GET', '/v2.0/networks?limit=1', undefined, forwarded)).body.networks_links.map((l: any) => l.href.split('?')[0]).filter((h: string, i: number, all: string[]) => all.indexOf(h) === i);
    const version = async (a: TestApi) => (await a.app.inject({ url: '/', headers: forwarded })).json().versions[0].links[0].href;
    expect(await links(api)).toEqual(['http://replica-1:9696/v2.0/networks']);
    expect(await version(api)).toBe('http://replica-1:9696/v2.0/');
    const behind = await testApi({ proxyHeaders: true });
    try {
      await behind.call(ADMIN, 'POST', '/v2.0/networks', { networks: [{ name: 'a' }, { name: 'b' }] });
      expect(await links(behind)).toEqual(['https://neutron.example:443/v2.0/networks']);
      expect(await version(behind)).toBe('https://neutron.example:443/v2.0/');
    } finally {
      await behind.close();
    }
  });

  it('tags: set, add, filter, remove', async () => {
    const n = (await api.call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'a' } })).body.network;
    const other = (await api.call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'b' } })).body.network;
    expect((await api.call(ALICE, 'PUT', `/v2.0/networks/${n.id}/tags`, { tags: ['red', 'blue'] })).status).toBe(200);
    expect((await api.call(ALICE, 'PUT', `/v2.0/networks/${other.id}/tags/red`)).status).toBe(201);
    const q = async (s: string) => (await api.call(ALICE, 'GET', `/v2.0/networks?${s}`)).body.networks.map((x: any) => x.name).sort();
    expect(await q('tags=red,blue')).toEqual(['a']);
    expect(await q('tags-any=blue,red')).toEqual(['a', 'b']);
    expect(await q('not-tags=blue')).toEqual(['b']);
    expect(await q('not-tags-any=red')).toEqual([]);
    expect((await api.call(ALICE, 'DELETE', `/v2.0/networks/${n.id}/tags/red`)).status).toBe(204);
    expect((await api.call(ALICE, 'GET', `/v2.0/networks/${n.id}`)).body.network).toMatchObject({ tags: ['blue'], revision_number: 3 });
  });
});
