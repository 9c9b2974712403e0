import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN, ALICE, BOB, testApi, type Caller, type TestApi } from '../../helpers/api.ts';

// /v2.0/subnetpools: the resource itself, its checks (Neutron's types and messages) and the
// add_prefixes / remove_prefixes actions. Subnets taken from pools: subnetpool-allocation.test.ts.

let api: TestApi;
beforeEach(async () => { api = await testApi(); });
afterEach(async () => api.close());

async function pool(caller: Caller, body: Record<string, unknown>, status = 201): Promise<any> {
  const res = await api.call(caller, 'POST', '/v2.0/subnetpools', { subnetpool: { name: 'pool', ...body } });
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  return status === 201 ? res.body.subnetpool : res.body.NeutronError;
}

async function update(caller: Caller, id: string, body: Record<string, unknown>, status = 200): Promise<any> {
  const res = await api.call(caller, 'PUT', `/v2.0/subnetpools/${id}`, { subnetpool: body });
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  return status === 200 ? res.body.subnetpool : res.body.NeutronError;
}

describe('subnet pools: create and show', () => {
  it('creates a pool with Neutron defaults, prefix lengths shown as text', async () => {
    const p = await pool(ALICE, { prefixes: ['10.11.12.0/24'], min_prefixlen: '29', description: 'd1' });
    expect(p).toMatchObject({
      name: 'pool', description: 'd1', prefixes: ['10.11.12.0/24'], ip_version: 4, min_prefixlen: '29', default_prefixlen: '29',
      max_prefixlen: '32', default_quota: null, shared: false, is_default: false, address_scope_id: null,
      project_id: 'alice-project', tenant_id: 'alice-project', revision_number: 1, tags: [],
    });
    expect(p.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const shown = await api.call(ALICE, 'GET', `/v2.0/subnetpools/${p.id}`);
    expect(shown.body.subnetpool).toEqual(p);
    const v6 = await pool(ALICE, { prefixes: ['2001:DB8:3::/48'] });
    expect(v6).toMatchObject({ prefixes: ['2001:db8:3::/48'], ip_version: 6, min_prefixlen: '64', default_prefixlen: '64', max_prefixlen: '128' });
  });

  it('compacts overlapping and adjacent prefixes and normalises host bits', async () => {
    const p = await pool(ALICE, { prefixes: ['10.10.11.0/24', '10.10.10.7/24', '10.10.10.128/25', '192.168.0.0/16'], default_prefixlen: 24, max_prefixlen: '26' });
    expect(p.prefixes).toEqual(['10.10.10.0/23', '192.168.0.0/16']);
    expect(p).toMatchObject({ min_prefixlen: '8', default_prefixlen: '24', max_prefixlen: '26' });
  });

  it('checks prefixes and prefix length bounds with Neutron error types', async () => {
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ prefixes: [] }, 'EmptySubnetPoolPrefixList', 'Empty subnet pool prefix list.'],
      [{ prefixes: ['10.10.10.0/21', 'fe80::/48'] }, 'PrefixVersionMismatch', 'Cannot mix IPv4 and IPv6 prefixes in a subnet pool.'],
      [{ prefixes: ['10.10.10.0/21'], min_prefixlen: 21, default_prefixlen: 20 }, 'IllegalSubnetPoolPrefixBounds', 'Illegal prefix bounds: default_prefixlen=20, min_prefixlen=21.'],
      [{ prefixes: ['10.10.10.0/21'], max_prefixlen: 24, default_prefixlen: '32' }, 'IllegalSubnetPoolPrefixBounds', 'Illegal prefix bounds: default_prefixlen=32, max_prefixlen=24.'],
      [{ prefixes: ['10.10.10.0/21'], min_prefixlen: 28, max_prefixlen: 24 }, 'IllegalSubnetPoolPrefixBounds', 'Illegal prefix bounds: min_prefixlen=28, max_prefixlen=24.'],
      [{ prefixes: ['10.10.10.0/21'], max_prefixlen: 33 }, 'IllegalSubnetPoolPrefixBounds', 'Illegal prefix bounds: max_prefixlen=33, ip_version_max=32.'],
      [{ prefixes: ['10.0.0.0/8', '10.0.0.0/8'] }, 'HTTPBadRequest', "Invalid input for prefixes. Reason: Duplicate items in the list: '10.0.0.0/8'."],
      [{ prefixes: ['10.0.0/8'] }, 'HTTPBadRequest', "Invalid input for prefixes. Reason: '10.0.0/8' is not a valid IP subnet."],
      [{ prefixes: ['10.0.0.0/8'], min_prefixlen: -1 }, 'HTTPBadRequest', "Invalid input for min_prefixlen. Reason: '-1' should be non-negative."],
      [{ prefixes: ['10.0.0.0/8'], default_quota: 'lots' }, 'HTTPBadRequest', "Invalid input for default_quota. Reason: 'lots' is not an integer."],
      [{ prefixes: ['10.0.0.0/8'], name: '  ' }, 'HTTPBadRequest', "Invalid input for name. Reason: '  ' Blank strings are not permitted."],
      [{ prefixes: ['10.0.0.0/8'], ip_version: 4 }, 'HTTPBadRequest', "Unrecognized attribute(s) 'ip_version'"],
      [{ prefixes: ['10.0.0.0/8'], address_scope_id: 'foo-addr-scope' }, 'HTTPBadRequest', "Invalid input for address_scope_id. Reason: 'foo-addr-scope' is not a valid UUID."],
    ];
    const before = api.store.revision;
    for (const [body, type, message] of cases) expect(await pool(ALICE, body, 400), JSON.stringify(body)).toEqual({ type, message, detail: '' });
    const noPrefixes = await api.call(ALICE, 'POST', '/v2.0/subnetpools', { subnetpool: { name: 'x' } });
    expect(noPrefixes.body.NeutronError.message).toBe('Invalid input for prefixes. Reason: is required.');
    const noName = await api.call(ALICE, 'POST', '/v2.0/subnetpools', { subnetpool: { prefixes: ['10.0.0.0/8'] } });
    expect(noName.body.NeutronError.message).toBe('Invalid input for name. Reason: is required.');
    // Without address scopes, no scope id can be found.
    const scope = await pool(ALICE, { prefixes: ['10.0.0.0/8'], address_scope_id: '4ac0e7b1-6a2c-4bb4-9c41-3a1c0f5a3b9e' }, 404);
    expect(scope.type).toBe('AddressScopeNotFound');
    expect(api.store.revision).toBe(before);
    expect((await pool(ALICE, { prefixes: ['10.0.0.0/8'], address_scope_id: null })).address_scope_id).toBeNull();
  });

  it('shared and is_default are for admins; a shared pool is visible to every project', async () => {
    expect(await pool(ALICE, { prefixes: ['10.0.0.0/8'], shared: true }, 403)).toMatchObject({ type: 'PolicyNotAuthorized', message: '(rule:create_subnetpool:shared) is disallowed by policy.' });
    expect((await pool(ALICE, { prefixes: ['10.0.0.0/8'], is_default: true }, 403)).type).toBe('PolicyNotAuthorized');
    const plain = await pool(ALICE, { prefixes: ['10.0.0.0/8'], shared: false, is_default: false });
    const shared = await pool(ADMIN, { prefixes: ['10.11.12.0/24'], shared: true });
    const adminOnly = await pool(ADMIN, { prefixes: ['10.11.13.0/24'] });
    expect((await api.call(BOB, 'GET', `/v2.0/subnetpools/${shared.id}`)).body.subnetpool).toMatchObject({ id: shared.id, shared: true });
    for (const id of [plain.id, adminOnly.id]) {
      const hidden = await api.call(BOB, 'GET', `/v2.0/subnetpools/${id}`);
      expect(hidden.status).toBe(404);
      expect(hidden.body.NeutronError).toMatchObject({ type: 'SubnetPoolNotFound', message: `Subnet pool ${id} could not be found.` });
    }
    expect((await api.call(BOB, 'GET', '/v2.0/subnetpools')).body.subnetpools.map((p: any) => p.id)).toEqual([shared.id]);
    expect((await api.call(ADMIN, 'GET', '/v2.0/subnetpools')).body.subnetpools).toHaveLength(3);
    // Visible is not writable.
    expect((await update(BOB, shared.id, { name: 'mine' }, 403)).type).toBe('PolicyNotAuthorized');
    expect((await api.call(BOB, 'DELETE', `/v2.0/subnetpools/${shared.id}`)).status).toBe(403);
    expect((await api.call(BOB, 'DELETE', `/v2.0/subnetpools/${plain.id}`)).status).toBe(404);
    // An admin may create a pool for another project.
    expect((await pool(ADMIN, { prefixes: ['172.16.0.0/12'], project_id: 'bob-project' })).project_id).toBe('bob-project');
    expect((await pool(ALICE, { prefixes: ['172.16.0.0/12'], project_id: 'bob-project' }, 400)).message).toMatch(/requires admin privileges/);
  });

  it('one default pool per IP version', async () => {
    const v4 = await pool(ADMIN, { prefixes: ['10.10.10.0/24'], min_prefixlen: 24, is_default: true });
    expect(v4.is_default).toBe(true);
    const second = await pool(ADMIN, { prefixes: ['10.10.20.0/24'], min_prefixlen: 24, is_default: true }, 400);
    expect(second).toEqual({ type: 'InvalidInput', detail: '',
      message: 'Invalid input for operation: A default subnetpool for this IP family has already been set. Only one default may exist per IP family' });
    expect((await pool(ADMIN, { prefixes: ['fe80::/48'], is_default: true })).is_default).toBe(true);
    const other = await pool(ADMIN, { prefixes: ['10.10.30.0/24'] });
    expect((await update(ADMIN, other.id, { is_default: true }, 400)).type).toBe('InvalidInput');
    expect((await update(ADMIN, v4.id, { is_default: false })).is_default).toBe(false);
    expect((await update(ADMIN, other.id, { is_default: 'true' })).is_default).toBe(true);
    expect((await update(ADMIN, other.id, { name: 'still default' })).is_default).toBe(true);
    const mine = await pool(ALICE, { prefixes: ['10.20.0.0/16'] });
    expect((await update(ALICE, mine.id, { is_default: false }, 403)).message).toBe('(rule:update_subnetpool:is_default) is disallowed by policy.');
  });

  it('bulk create is atomic', async () => {
    const res = await api.call(ALICE, 'POST', '/v2.0/subnetpools', { subnetpools: [{ name: 'a', prefixes: ['10.1.0.0/16'] }, { name: 'b', prefixes: ['10.2.0.0/16'] }] });
    expect(res.status).toBe(201);
    expect(res.body.subnetpools.map((p: any) => p.name)).toEqual(['a', 'b']);
    const bad = await api.call(ALICE, 'POST', '/v2.0/subnetpools', { subnetpools: [{ name: 'c', prefixes: ['10.3.0.0/16'] }, { name: 'd', prefixes: [] }] });
    expect(bad.status).toBe(400);
    expect((await api.call(ALICE, 'GET', '/v2.0/subnetpools')).body.subnetpools.map((p: any) => p.name).sort()).toEqual(['a', 'b']);
  });
});

describe('subnet pools: list, update, delete, tags', () => {
  it('filters, sorts and pages like the other collections', async () => {
    for (const name of ['c', 'a', 'b']) await pool(ALICE, { name, prefixes: [`10.${name.charCodeAt(0)}.0.0/16`] });
    await pool(ALICE, { name: 'six', prefixes: ['2001:db8::/32'] });
    const q = async (s: string) => (await api.call(ALICE, 'GET', `/v2.0/subnetpools?${s}`));
    expect((await q('ip_version=6')).body.subnetpools.map((p: any) => p.name)).toEqual(['six']);
    expect((await q('shared=False&sort_key=name&sort_dir=desc')).body.subnetpools.map((p: any) => p.name)).toEqual(['six', 'c', 'b', 'a']);
    expect((await q('min_prefixlen=64')).body.subnetpools.map((p: any) => p.name)).toEqual(['six']);
    // Prefix lengths are shown as text but sorted as numbers ('8' before '64').
    expect((await q('sort_key=min_prefixlen&sort_dir=desc&sort_key=name&sort_dir=asc')).body.subnetpools.map((p: any) => p.name)).toEqual(['six', 'a', 'b', 'c']);
    expect((await q('sort_key=min_prefixlen&limit=1&marker=' + (await q('sort_key=min_prefixlen')).body.subnetpools[2].id)).body.subnetpools.map((p: any) => p.min_prefixlen)).toEqual(['64']);
    const page = await q('sort_key=name&limit=2');
    expect(page.body.subnetpools.map((p: any) => p.name)).toEqual(['a', 'b']);
    expect(page.body.subnetpools_links.map((l: any) => l.rel)).toEqual(['next', 'previous']);
    expect((await q('fields=id&fields=prefixes')).body.subnetpools.every((p: any) => Object.keys(p).sort().join() === 'id,prefixes')).toBe(true);
    const invalid = await q('prefixes=10.0.0.0/8');
    expect(invalid.status).toBe(400);
    expect(invalid.body.NeutronError.message).toBe("['prefixes'] is invalid attribute for filtering");
  });

  it('updates names, bounds and quota, re-checking the bounds together', async () => {
    const p = await pool(ALICE, { prefixes: ['10.11.12.0/24'], min_prefixlen: '29' });
    const u = await update(ALICE, p.id, { name: 'renamed', min_prefixlen: '28', max_prefixlen: '30', default_quota: '4', description: 'd2' });
    expect(u).toMatchObject({ name: 'renamed', min_prefixlen: '28', max_prefixlen: '30', default_prefixlen: '29', default_quota: 4, description: 'd2', revision_number: 2 });
    expect(u.updated_at >= p.updated_at).toBe(true);
    expect(u.created_at).toBe(p.created_at);
    expect(await update(ALICE, p.id, { min_prefixlen: 30 }, 400)).toMatchObject({ type: 'IllegalSubnetPoolPrefixBounds', message: 'Illegal prefix bounds: default_prefixlen=29, min_prefixlen=30.' });
    expect((await update(ALICE, p.id, { max_prefixlen: 27 }, 400)).message).toBe('Illegal prefix bounds: min_prefixlen=28, max_prefixlen=27.');
    expect((await update(ALICE, p.id, { default_prefixlen: 31 }, 400)).message).toBe('Illegal prefix bounds: default_prefixlen=31, max_prefixlen=30.');
    expect((await update(ALICE, p.id, { name: '' }, 400)).type).toBe('HTTPBadRequest');
    expect((await update(ADMIN, p.id, { name: 'by admin' })).revision_number).toBe(3);
    const stale = await api.call(ALICE, 'PUT', `/v2.0/subnetpools/${p.id}`, { subnetpool: { name: 'x' } }, { 'if-match': 'revision_number=1' });
    expect(stale.status).toBe(412);
    expect((await api.call(ALICE, 'GET', `/v2.0/subnetpools/${p.id}`)).body.subnetpool).toMatchObject({ name: 'by admin', default_quota: 4 });
  });

  it('refuses read-only attributes on update', async () => {
    const p = await pool(ADMIN, { prefixes: ['10.11.12.0/24'] });
    for (const attr of ['shared', 'tenant_id', 'ip_version']) {
      const err = await update(ADMIN, p.id, { [attr]: attr === 'ip_version' ? 6 : attr === 'shared' ? true : 'admin-project' }, 400);
      expect(err).toMatchObject({ type: 'HTTPBadRequest', message: `Cannot update read-only attribute ${attr}` });
    }
    expect((await update(ADMIN, p.id, { colour: 'red' }, 400)).message).toBe("Unrecognized attribute(s) 'colour'");
  });

  it('prefixes only grow: appended, extended, merged; a shrink or another version is refused', async () => {
    const p = await pool(ALICE, { prefixes: ['10.11.12.0/24'] });
    expect((await update(ALICE, p.id, { prefixes: ['10.11.12.0/24', '10.11.15.0/24'] })).prefixes).toEqual(['10.11.12.0/24', '10.11.15.0/24']);
    expect((await update(ALICE, p.id, { prefixes: ['10.11.0.0/16'] })).prefixes).toEqual(['10.11.0.0/16']);
    const shrink = await update(ALICE, p.id, { prefixes: ['10.11.12.0/26'] }, 400);
    expect(shrink).toEqual({ type: 'IllegalSubnetPoolPrefixUpdate', detail: '', message: 'Illegal update to prefixes: Existing prefixes must be a subset of the new prefixes.' });
    expect((await update(ALICE, p.id, { prefixes: ['fe80::/48'] }, 400)).type).toBe('IllegalSubnetPoolPrefixUpdate');
    expect((await update(ALICE, p.id, { prefixes: ['10.11.0.0/16', 'fe80::/48'] }, 400)).type).toBe('PrefixVersionMismatch');
    expect((await api.call(ALICE, 'GET', `/v2.0/subnetpools/${p.id}`)).body.subnetpool.prefixes).toEqual(['10.11.0.0/16']);
  });

  it('deletes a pool; unknown ids are 404', async () => {
    const p = await pool(ALICE, { prefixes: ['10.11.12.0/24'] });
    expect((await api.call(ALICE, 'DELETE', `/v2.0/subnetpools/${p.id}`)).status).toBe(204);
    expect((await api.call(ALICE, 'GET', `/v2.0/subnetpools/${p.id}`)).status).toBe(404);
    for (const method of ['GET', 'DELETE'] as const) {
      expect((await api.call(ALICE, method, '/v2.0/subnetpools/subnetpool-nope')).body.NeutronError.type).toBe('SubnetPoolNotFound');
    }
    expect((await update(ALICE, 'subnetpool-nope', { name: 'foo-name' }, 404)).type).toBe('SubnetPoolNotFound');
  });

  it('tags like the other resources', async () => {
    const p = await pool(ALICE, { prefixes: ['10.0.0.0/8'], default_prefixlen: 24 });
    expect((await api.call(ALICE, 'PUT', `/v2.0/subnetpools/${p.id}/tags/red`)).status).toBe(201);
    expect((await api.call(ALICE, 'PUT', `/v2.0/subnetpools/${p.id}/tags`, { tags: ['blue', 'green'] })).body.tags).toEqual(['blue', 'green']);
    expect((await api.call(ALICE, 'GET', `/v2.0/subnetpools/${p.id}/tags/blue`)).status).toBe(204);
    expect((await api.call(ALICE, 'GET', '/v2.0/subnetpools?tags=blue')).body.subnetpools.map((x: any) => x.id)).toEqual([p.id]);
    expect((await api.call(ALICE, 'GET', '/v2.0/subnetpools?not-tags=blue')).body.subnetpools).toEqual([]);
    expect((await api.call(ALICE, 'DELETE', `/v2.0/subnetpools/${p.id}/tags`)).status).toBe(204);
    expect((await api.call(ALICE, 'GET', `/v2.0/subnetpools/${p.id}`)).body.subnetpool).toMatchObject({ tags: [], revision_number: 4 });
    expect((await pool(ALICE, { prefixes: ['10.0.0.0/8'], tags: ['a', 'a'] })).tags).toEqual(['a']);
  });

  it('counts the subnetpool quota (unlimited by default)', async () => {
    expect((await api.call(ALICE, 'GET', '/v2.0/quotas/alice-project')).body.quota.subnetpool).toBe(-1);
    await pool(ALICE, { prefixes: ['10.1.0.0/16'] });
    expect((await api.call(ALICE, 'GET', '/v2.0/quotas/alice-project/details')).body.quota.subnetpool).toEqual({ limit: -1, used: 1, reserved: 0 });
    expect((await api.call(ADMIN, 'PUT', '/v2.0/quotas/alice-project', { quota: { subnetpool: 0, check_limit: true } })).status).toBe(400);
    expect((await api.call(ADMIN, 'PUT', '/v2.0/quotas/alice-project', { quota: { subnetpool: 1 } })).body.quota.subnetpool).toBe(1);
    expect(await pool(ALICE, { prefixes: ['10.2.0.0/16'] }, 409)).toMatchObject({ type: 'OverQuota', message: "Quota exceeded for resources: ['subnetpool']." });
    expect((await pool(BOB, { prefixes: ['10.2.0.0/16'] })).project_id).toBe('bob-project');
  });
});

describe('subnet pools: add_prefixes and remove_prefixes', () => {
  const act = (id: string, op: 'add' | 'remove', body: unknown, caller: Caller = ALICE) =>
    api.call(caller, 'PUT', `/v2.0/subnetpools/${id}/${op}_prefixes`, body);

  it('adds and removes prefixes, answering the compacted list', async () => {
    const p = await pool(ALICE, { prefixes: ['192.168.1.0/24', '10.10.10.0/24'], min_prefixlen: 16 });
    const added = await act(p.id, 'add', { prefixes: ['192.168.2.0/24'] });
    expect(added.status).toBe(200);
    expect(added.body).toEqual({ prefixes: ['10.10.10.0/24', '192.168.1.0/24', '192.168.2.0/24'] });
    expect((await act(p.id, 'remove', { prefixes: ['192.168.2.0/24'] })).body).toEqual({ prefixes: ['10.10.10.0/24', '192.168.1.0/24'] });
    expect((await act(p.id, 'add', { prefixes: ['10.10.0.0/16'] })).body).toEqual({ prefixes: ['10.10.0.0/16', '192.168.1.0/24'] });
    expect((await act(p.id, 'remove', { prefixes: ['10.10.128.0/17'] })).body).toEqual({ prefixes: ['10.10.0.0/17', '192.168.1.0/24'] });
    expect((await api.call(ALICE, 'GET', `/v2.0/subnetpools/${p.id}`)).body.subnetpool).toMatchObject({ prefixes: ['10.10.0.0/17', '192.168.1.0/24'], revision_number: 5 });
  });

  it('IPv6: an overlapping prefix is merged', async () => {
    const p = await pool(ALICE, { prefixes: ['2001:db8:1234::/48', '2001:db8:1236::/48'], min_prefixlen: 48 });
    expect((await act(p.id, 'add', { prefixes: ['2001:db8:1234:1111::/64'] })).body).toEqual({ prefixes: ['2001:db8:1234::/48', '2001:db8:1236::/48'] });
    expect((await act(p.id, 'add', { prefixes: ['2001:db8:1235::/48'] })).body).toEqual({ prefixes: ['2001:db8:1234::/47', '2001:db8:1236::/48'] });
    expect((await act(p.id, 'add', { prefixes: ['10.0.0.0/8'] })).body.NeutronError.type).toBe('PrefixVersionMismatch');
  });

  it('removing what the pool lacks changes nothing; removing everything is refused', async () => {
    const p = await pool(ALICE, { prefixes: ['10.10.10.0/24'] });
    const revision = api.store.revision;
    expect((await act(p.id, 'remove', { prefixes: ['10.20.0.0/16', '2001:db8::/32'] })).body).toEqual({ prefixes: ['10.10.10.0/24'] });
    expect(api.store.revision).toBe(revision);
    const all = await act(p.id, 'remove', { prefixes: ['10.0.0.0/8'] });
    expect(all.status).toBe(400);
    expect(all.body.NeutronError.type).toBe('IllegalSubnetPoolPrefixUpdate');
    expect(api.store.revision).toBe(revision);
  });

  it('refuses bad bodies and other projects', async () => {
    const p = await pool(ALICE, { prefixes: ['10.10.10.0/24'] });
    for (const body of [{}, { prefixes: [] }, { prefixes: '10.0.0.0/8' }, ['10.0.0.0/8'], undefined]) {
      const res = await act(p.id, 'add', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.NeutronError.message).toBe('Request body contains invalid data');
    }
    expect((await act(p.id, 'add', { prefixes: ['banana'] })).body.NeutronError.message).toBe("Invalid input for prefixes. Reason: 'banana' is not a valid IP subnet.");
    expect((await act(p.id, 'add', { prefixes: ['10.9.0.0/16'] }, BOB)).status).toBe(404);
    const shared = await pool(ADMIN, { prefixes: ['10.30.0.0/16'], shared: true });
    expect((await act(shared.id, 'remove', { prefixes: ['10.30.0.0/17'] }, BOB)).status).toBe(403);
    expect((await act(shared.id, 'remove', { prefixes: ['10.30.0.0/17'] }, ADMIN)).body).toEqual({ prefixes: ['10.30.128.0/17'] });
  });
});
