import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_QUOTAS } from '../../../controller/domain/quotas.ts';
import { ADMIN, ALICE, BOB, testApi, type TestApi } from '../../helpers/api.ts';

let api: TestApi;
beforeEach(async () => { api = await testApi(); });
afterEach(async () => api.close());

const RESOURCES = ['network', 'subnet', 'port', 'router', 'floatingip', 'security_group', 'security_group_rule', 'subnetpool'];

describe('quotas', () => {
  it('shows the defaults for a project without overrides, to its members and admins', async () => {
    const mine = await api.call(ALICE, 'GET', '/v2.0/quotas/alice-project');
    expect(mine.status).toBe(200);
    expect(Object.keys(mine.body.quota).sort()).toEqual([...RESOURCES].sort());
    expect(mine.body.quota).toEqual(DEFAULT_QUOTAS);
    expect(mine.body.quota).toMatchObject({ network: 100, port: 500, router: 10 });
    expect((await api.call(ADMIN, 'GET', '/v2.0/quotas/alice-project')).body.quota).toEqual(DEFAULT_QUOTAS);
    const dflt = await api.call(ALICE, 'GET', '/v2.0/quotas/alice-project/default');
    expect(dflt.status).toBe(200);
    expect(dflt.body.quota).toEqual(DEFAULT_QUOTAS);
  });

  it("forbids members from reading another project's quotas", async () => {
    for (const suffix of ['', '/default', '/details']) {
      const res = await api.call(BOB, 'GET', `/v2.0/quotas/alice-project${suffix}`);
      expect(res.status).toBe(403);
      expect(res.body.NeutronError.type).toBe('PolicyNotAuthorized');
    }
  });

  it('lets admins set limits, lists overridden projects, and resets them', async () => {
    const put = await api.call(ADMIN, 'PUT', '/v2.0/quotas/alice-project', { quota: { network: 5, port: '20' } });
    expect(put.status).toBe(200);
    expect(put.body.quota).toEqual({ ...DEFAULT_QUOTAS, network: 5, port: 20 });
    await api.call(ADMIN, 'PUT', '/v2.0/quotas/alice-project', { quota: { router: -1 } });
    expect((await api.call(ALICE, 'GET', '/v2.0/quotas/alice-project')).body.quota).toEqual({ ...DEFAULT_QUOTAS, network: 5, port: 20, router: -1 });
    await api.call(ADMIN, 'PUT', '/v2.0/quotas/bob-project', { quota: { subnet: 3 } });

    const list = await api.call(ADMIN, 'GET', '/v2.0/quotas');
    expect(list.status).toBe(200);
    expect(list.body.quotas).toHaveLength(2);
    expect(list.body.quotas.find((q: any) => q.project_id === 'bob-project')).toEqual({ ...DEFAULT_QUOTAS, subnet: 3, project_id: 'bob-project', tenant_id: 'bob-project' });
    // A member sees only their own entry.
    expect((await api.call(ALICE, 'GET', '/v2.0/quotas')).body.quotas.map((q: any) => q.project_id)).toEqual(['alice-project']);

    expect((await api.call(ADMIN, 'DELETE', '/v2.0/quotas/alice-project')).status).toBe(204);
    expect((await api.call(ALICE, 'GET', '/v2.0/quotas/alice-project')).body.quota).toEqual(DEFAULT_QUOTAS);
    expect((await api.call(ADMIN, 'GET', '/v2.0/quotas')).body.quotas.map((q: any) => q.project_id)).toEqual(['bob-project']);
    const again = await api.call(ADMIN, 'DELETE', '/v2.0/quotas/alice-project');
    expect(again.status).toBe(404);
    expect(again.body.NeutronError.type).toBe('TenantQuotaNotFound');
  });

  it('forbids members from changing quotas, even their own', async () => {
    const before = api.store.revision;
    const put = await api.call(ALICE, 'PUT', '/v2.0/quotas/alice-project', { quota: { network: 1000 } });
    expect(put.status).toBe(403);
    expect(put.body.NeutronError.type).toBe('PolicyNotAuthorized');
    await api.call(ADMIN, 'PUT', '/v2.0/quotas/alice-project', { quota: { network: 7 } });
    const del = await api.call(ALICE, 'DELETE', '/v2.0/quotas/alice-project');
    expect(del.status).toBe(403);
    expect(api.store.revision).toBe(before + 1);
    expect((await api.call(ALICE, 'GET', '/v2.0/quotas/alice-project')).body.quota.network).toBe(7);
  });

  it('rejects bad values and unknown resources with 400 and changes nothing', async () => {
    const before = api.store.revision;
    const cases: Array<[unknown, string]> = [
      [{ quota: { network: -2 } }, 'too small'],
      [{ quota: { network: 1.5 } }, 'is not an integer'],
      [{ quota: { network: 'lots' } }, 'is not an integer'],
      [{ quota: { network: true } }, 'is not an integer'],
      [{ quota: { network: 2 ** 31 } }, 'too large'],
      [{ quota: { widgets: 3 } }, "Unrecognized attribute(s) 'widgets'"],
      [{ quota: { network: 3, widgets: 3 } }, "Unrecognized attribute(s) 'widgets'"],
      [{ quotas: { network: 3 } }, "Unable to find 'quota'"],
      [{ quota: [] }, 'must be an object'],
    ];
    for (const [body, message] of cases) {
      const res = await api.call(ADMIN, 'PUT', '/v2.0/quotas/alice-project', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.NeutronError.message).toContain(message);
    }
    expect(api.store.revision).toBe(before);
    expect((await api.call(ADMIN, 'GET', '/v2.0/quotas')).body.quotas).toEqual([]);
  });

  it('refuses a limit below current usage when asked to check it (check_limit), and only then', async () => {
    await api.call(ALICE, 'POST', '/v2.0/networks', { networks: [{ name: 'a' }, { name: 'b' }] });
    const low = await api.call(ADMIN, 'PUT', '/v2.0/quotas/alice-project', { quota: { network: 1, check_limit: true } });
    expect(low.status).toBe(400);
    expect(low.body.NeutronError.message).toContain('Quota limit 1 for network must be greater than or equal to already used 2');
    expect((await api.call(ADMIN, 'GET', '/v2.0/quotas/alice-project')).body.quota.network).toBe(100);
    expect((await api.call(ADMIN, 'PUT', '/v2.0/quotas/alice-project', { quota: { network: 2, check_limit: true } })).status).toBe(200);
    // Without the check (Neutron's default up to 2024.1, and Tempest's test_quotas): set as asked.
    const unchecked = await api.call(ADMIN, 'PUT', '/v2.0/quotas/alice-project', { quota: { network: 0, security_group: 0 } });
    expect([unchecked.status, unchecked.body.quota.network, unchecked.body.quota.security_group]).toEqual([200, 0, 0]);
    const forced = await api.call(ADMIN, 'PUT', '/v2.0/quotas/alice-project', { quota: { network: 1, check_limit: true, force: true } });
    expect([forced.status, forced.body.quota.network]).toEqual([200, 1]);
  });

  it('reports limit, usage and reservations in details', async () => {
    await api.call(ALICE, 'POST', '/v2.0/networks', { networks: [{ name: 'a' }, { name: 'b' }] });
    await api.call(BOB, 'POST', '/v2.0/networks', { network: { name: 'c' } });
    await api.call(ADMIN, 'PUT', '/v2.0/quotas/alice-project', { quota: { network: 9 } });
    const res = await api.call(ALICE, 'GET', '/v2.0/quotas/alice-project/details');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.quota).sort()).toEqual([...RESOURCES].sort());
    expect(res.body.quota.network).toEqual({ limit: 9, used: 2, reserved: 0 });
    expect(res.body.quota.subnet).toEqual({ limit: DEFAULT_QUOTAS.subnet, used: 0, reserved: 0 });
  });

  it('enforces the network quota on create: 409 OverQuota and nothing stored', async () => {
    await api.call(ADMIN, 'PUT', '/v2.0/quotas/alice-project', { quota: { network: 1 } });
    expect((await api.call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'first' } })).status).toBe(201);
    const before = api.store.revision;
    const over = await api.call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'second' } });
    expect(over.status).toBe(409);
    expect(over.body.NeutronError.type).toBe('OverQuota');
    expect(over.body.NeutronError.message).toContain("['network']");
    const bulk = await api.call(ALICE, 'POST', '/v2.0/networks', { networks: [{ name: 'x' }, { name: 'y' }] });
    expect(bulk.status).toBe(409);
    expect(api.store.revision).toBe(before);
    expect((await api.call(ALICE, 'GET', '/v2.0/networks')).body.networks.map((n: any) => n.name)).toEqual(['first']);
    // Other projects are unaffected; unlimited (-1) lifts the cap.
    expect((await api.call(BOB, 'POST', '/v2.0/networks', { network: {} })).status).toBe(201);
    await api.call(ADMIN, 'PUT', '/v2.0/quotas/alice-project', { quota: { network: -1 } });
    expect((await api.call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'second' } })).status).toBe(201);
  });

  it("answers Neutron's project/tenant actions and refuses POST", async () => {
    expect((await api.call(ALICE, 'GET', '/v2.0/quotas/tenant')).body).toEqual({ tenant: { tenant_id: 'alice-project' } });
    expect((await api.call(BOB, 'GET', '/v2.0/quotas/project')).body).toEqual({ project: { project_id: 'bob-project' } });
    const post = await api.call(ADMIN, 'POST', '/v2.0/quotas', { quota: { network: 1 } });
    expect(post.status).toBe(501);
    expect(post.body.NeutronError.type).toBe('HTTPNotImplemented');
  });
});
