// neutron-fwaas's per-project default firewall group through the API: made lazily by a list (or
// before the project's first other group), with its two policies and four rules; reserved names;
// what members and admins may change or delete. Behaviour follows neutron-fwaas's
// firewall_db_v2.py (_ensure_default_firewall_group, update_/delete_firewall_group).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN, ALICE, BOB, testApi, type Caller, type TestApi } from '../../helpers/api.ts';
import { answers, GROUPS, POLICIES, RULES } from './fwaas-support.ts';

let api: TestApi;
beforeEach(async () => { api = await testApi(); });
afterEach(async () => api.close());

const { ok, err } = answers(() => api, 200);

const list = async (url: string, caller: Caller = ALICE) => Object.values(await ok(api.call(caller, 'GET', url)))[0] as any[];
const show = async (url: string, caller: Caller = ALICE) => Object.values(await ok(api.call(caller, 'GET', url)))[0] as any;
/** The project's groups named 'default', read from the store (no list, which would make one). */
const stored = (project: string) => api.store.view().find('firewall_group', 'project_id', project).filter((g) => g.name === 'default');
/** Alice's default group, made by listing. */
const aliceDefault = async () => (await list(`${GROUPS}?name=default`)).find((g) => g.project_id === 'alice-project');
const update = (id: string, body: Record<string, unknown>, caller: Caller = ALICE) =>
  api.call(caller, 'PUT', `${GROUPS}/${id}`, { firewall_group: body });

/** Alice's router with an interface on her subnet: the interface port. */
async function routerPort(): Promise<string> {
  const net = (await ok(api.call(ALICE, 'POST', '/v2.0/networks', { network: {} }), 201)).network;
  const subnet = (await ok(api.call(ALICE, 'POST', '/v2.0/subnets', { subnet: { network_id: net.id, cidr: '10.0.0.0/24', ip_version: 4 } }), 201)).subnet;
  const router = (await ok(api.call(ALICE, 'POST', '/v2.0/routers', { router: {} }), 201)).router;
  return (await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: subnet.id }))).port_id;
}

describe('the default firewall group is made lazily', () => {
  it('by the first list of groups, with its policies and rules as neutron-fwaas makes them, once (FWaaSv2ExtensionTestJSON.test_default_fwg_created_on_list_firewall_groups)', async () => {
    expect(stored('alice-project')).toEqual([]);
    const groups = await list(GROUPS);
    expect(groups).toHaveLength(1);
    const g = groups[0];
    expect(g).toMatchObject({
      name: 'default', description: 'Default firewall group', project_id: 'alice-project', tenant_id: 'alice-project',
      ports: [], status: 'INACTIVE', admin_state_up: true, shared: false, revision_number: 1,
    });
    const ingress = await show(`${POLICIES}/${g.ingress_firewall_policy_id}`);
    const egress = await show(`${POLICIES}/${g.egress_firewall_policy_id}`);
    expect(ingress).toMatchObject({ name: 'default ingress', description: 'Ingress firewall policy', audited: false, shared: false, project_id: 'alice-project' });
    expect(egress).toMatchObject({ name: 'default egress', description: 'Egress firewall policy', audited: false, shared: false, project_id: 'alice-project' });
    const any = { protocol: null, source_ip_address: null, destination_ip_address: null, source_port: null, destination_port: null, enabled: true, shared: false, project_id: 'alice-project' };
    const rules = async (p: any) => Promise.all((p.firewall_rules as string[]).map((id) => show(`${RULES}/${id}`)));
    const [in4, in6] = await rules(ingress);
    const [eg4, eg6] = await rules(egress);
    expect(in4).toMatchObject({ ...any, name: 'default ingress ipv4', description: 'default ingress rule for IPv4', ip_version: 4, action: 'deny', firewall_policy_id: [ingress.id] });
    expect(in6).toMatchObject({ ...any, name: 'default ingress ipv6', description: 'default ingress rule for IPv6', ip_version: 6, action: 'deny' });
    expect(eg4).toMatchObject({ ...any, name: 'default egress ipv4', description: 'default egress rule for IPv4', ip_version: 4, action: 'allow', firewall_policy_id: [egress.id] });
    expect(eg6).toMatchObject({ ...any, name: 'default egress ipv6', description: 'default egress rule for IPv6', ip_version: 6, action: 'allow' });
    expect(ingress.firewall_rules).toHaveLength(2);
    expect(egress.firewall_rules).toHaveLength(2);
    // The same shapes as what the API makes.
    const made = (await ok(api.call(ALICE, 'POST', RULES, { firewall_rule: {} }), 201)).firewall_rule;
    expect(Object.keys(in4).sort()).toEqual(Object.keys(made).sort());
    const group = (await ok(api.call(ALICE, 'POST', GROUPS, { firewall_group: {} }), 201)).firewall_group;
    expect(Object.keys(g).sort()).toEqual(Object.keys(group).sort());

    // Listing again makes nothing.
    const revision = api.store.revision;
    expect((await list(GROUPS)).map((x) => x.name).sort()).toEqual(['', 'default']);
    expect(await list(POLICIES)).toHaveLength(2);
    expect(await list(RULES)).toHaveLength(5);
    expect(api.store.revision).toBe(revision);
    expect(stored('alice-project')).toHaveLength(1);
  });

  it('by a list of policies or rules too, as neutron-fwaas does', async () => {
    expect((await list(POLICIES)).map((p) => p.name).sort()).toEqual(['default egress', 'default ingress']);
    expect(stored('alice-project')).toHaveLength(1);
    expect(await list(RULES, BOB)).toHaveLength(4);
    expect(stored('bob-project')).toHaveLength(1);
  });

  it('for each project on its own list; an admin makes another project\'s by filtering on it, a member cannot', async () => {
    const alices = (await list(GROUPS)).map((g) => g.id);
    const bobs = (await list(GROUPS, BOB)).map((g) => g.id);
    expect(alices).toHaveLength(1);
    expect(bobs).toHaveLength(1);
    expect(bobs[0]).not.toBe(alices[0]);
    expect(stored('bob-project').map((g) => g.id)).toEqual(bobs);

    // A member filtering on another project sees nothing and makes nothing.
    const revision = api.store.revision;
    expect(await list(`${GROUPS}?project_id=carol-project`)).toEqual([]);
    expect(api.store.revision).toBe(revision);
    expect(stored('carol-project')).toEqual([]);

    const carols = await list(`${GROUPS}?project_id=carol-project`, ADMIN);
    expect(carols.map((g) => [g.name, g.project_id])).toEqual([['default', 'carol-project']]);
    expect(stored('admin-project')).toEqual([]); // the filter's project, not the caller's
    expect(await list(`${POLICIES}?project_id=carol-project`, ADMIN)).toHaveLength(2);
  });

  it('not by a list the API refuses', async () => {
    await err(() => api.call(ALICE, 'GET', `${GROUPS}?colour=red`), 400, 'HTTPBadRequest');
    await err(() => api.call(ALICE, 'GET', `${RULES}?sort_key=colour`), 400, 'HTTPBadRequest');
    await err(() => api.call(ALICE, 'GET', `${POLICIES}?limit=-1`), 400, 'HTTPBadRequest');
    expect(stored('alice-project')).toEqual([]);
  });

  it('before the project\'s first other group, in the same transaction', async () => {
    // A refused create leaves no default group behind.
    await err(() => api.call(BOB, 'POST', GROUPS, { firewall_group: { ports: [crypto.randomUUID()] } }), 404, 'PortNotFound');
    expect(stored('bob-project')).toEqual([]);
    const g = (await ok(api.call(BOB, 'POST', GROUPS, { firewall_group: { name: 'edge' } }), 201)).firewall_group;
    expect(stored('bob-project')).toHaveLength(1);
    expect(api.store.view().find('firewall_policy', 'project_id', 'bob-project')).toHaveLength(2);
    expect(api.store.view().find('firewall_rule', 'project_id', 'bob-project')).toHaveLength(4);
    // An admin creating a group for Carol makes Carol's default group, not its own.
    await ok(api.call(ADMIN, 'POST', GROUPS, { firewall_group: { project_id: 'carol-project' } }), 201);
    expect(stored('carol-project')).toHaveLength(1);
    expect(stored('admin-project')).toEqual([]);
    expect((await list(GROUPS, BOB)).map((x) => x.name).sort()).toEqual(['default', g.name]);
  });
});

describe('reserved names', () => {
  it("nobody creates or renames a group to 'default' (test_error_on_create_firewall_group_name_default)", async () => {
    const body = { firewall_group: { name: 'default' } };
    const e = await err(() => api.call(ALICE, 'POST', GROUPS, body), 409, 'FirewallDefaultParameterExists');
    expect(e.message).toBe("Operation cannot be performed since 'default' is a reserved name for Firewall Group.");
    await err(() => api.call(ADMIN, 'POST', GROUPS, body), 409, 'FirewallDefaultParameterExists');
    await err(() => api.call(ALICE, 'POST', GROUPS, { firewall_groups: [{ name: 'a' }, { name: 'default' }] }), 409, 'FirewallDefaultParameterExists');
    const g = (await ok(api.call(ALICE, 'POST', GROUPS, { firewall_group: { name: 'Default' } }), 201)).firewall_group;
    expect(g.name).toBe('Default'); // Neutron compares exactly
    await err(() => update(g.id, { name: 'default' }), 409, 'FirewallDefaultParameterExists');
    await err(() => update(g.id, { name: 'default' }, ADMIN), 409, 'FirewallDefaultParameterExists');
    expect((await list(`${GROUPS}?name=default`)).length).toBe(1);
  });

  it("nobody creates or renames a policy to 'default ingress' or 'default egress'", async () => {
    for (const name of ['default ingress', 'default egress']) {
      const e = await err(() => api.call(ALICE, 'POST', POLICIES, { firewall_policy: { name } }), 409, 'FirewallDefaultParameterExists');
      expect(e.message).toBe(`Operation cannot be performed since '${name}' is a reserved name for Firewall Policy.`);
      await err(() => api.call(ADMIN, 'POST', POLICIES, { firewall_policy: { name } }), 409, 'FirewallDefaultParameterExists');
    }
    const p = (await ok(api.call(ALICE, 'POST', POLICIES, { firewall_policy: { name: 'default' } }), 201)).firewall_policy;
    await err(() => api.call(ALICE, 'PUT', `${POLICIES}/${p.id}`, { firewall_policy: { name: 'default egress' } }), 409, 'FirewallDefaultParameterExists');
    expect((await show(`${POLICIES}/${p.id}`)).name).toBe('default');
  });
});

describe('changing the default group', () => {
  it('a member may change only its ports, and then it works like any group', async () => {
    const g = await aliceDefault();
    for (const body of [{ name: 'mine' }, { description: 'x' }, { admin_state_up: true }, { ingress_firewall_policy_id: null }, { egress_firewall_policy_id: g.egress_firewall_policy_id }]) {
      const e = await err(() => update(g.id, body), 409, 'FirewallDefaultObjectUpdateRestricted');
      expect(e.message).toBe(`Operation cannot be performed on default object '${g.id}' of type Firewall Group.`);
    }
    // Ports with a restricted attribute are refused whole.
    await err(() => update(g.id, { ports: [], description: 'x' }), 409, 'FirewallDefaultObjectUpdateRestricted');
    const port = await routerPort();
    const withPort = (await ok(update(g.id, { ports: [port] }))).firewall_group;
    expect(withPort).toMatchObject({ ports: [port], status: 'ACTIVE', name: 'default', revision_number: 2 });
    await err(() => api.call(ALICE, 'POST', GROUPS, { firewall_group: { ports: [port] } }), 409, 'FirewallGroupPortInUse');
    expect((await ok(update(g.id, { ports: [] }))).firewall_group).toMatchObject({ ports: [], status: 'INACTIVE' });
  });

  it('an admin may change anything but its name', async () => {
    const g = await aliceDefault();
    await err(() => update(g.id, { name: 'renamed' }, ADMIN), 409, 'FirewallDefaultObjectUpdateRestricted');
    await err(() => update(g.id, { name: 'default' }, ADMIN), 409, 'FirewallDefaultParameterExists');
    const changed = (await ok(update(g.id, { description: 'edge', admin_state_up: false, ingress_firewall_policy_id: null }, ADMIN))).firewall_group;
    expect(changed).toMatchObject({ name: 'default', description: 'edge', admin_state_up: false, ingress_firewall_policy_id: null });
  });

  it('its policies cannot be updated, by anyone; insert_rule and remove_rule still work, as in neutron-fwaas', async () => {
    const g = await aliceDefault();
    for (const caller of [ALICE, ADMIN]) {
      const e = await err(() => api.call(caller, 'PUT', `${POLICIES}/${g.ingress_firewall_policy_id}`, { firewall_policy: { description: 'x' } }), 409, 'FirewallDefaultObjectUpdateRestricted');
      expect(e.message).toBe(`Operation cannot be performed on default object '${g.ingress_firewall_policy_id}' of type Firewall Group.`);
    }
    await err(() => api.call(ALICE, 'PUT', `${POLICIES}/${g.egress_firewall_policy_id}`, { firewall_policy: { audited: true } }), 409, 'FirewallDefaultObjectUpdateRestricted');
    const ssh = (await ok(api.call(ALICE, 'POST', RULES, { firewall_rule: { protocol: 'tcp', destination_port: 22, action: 'allow' } }), 201)).firewall_rule;
    const inserted = await ok(api.call(ALICE, 'PUT', `${POLICIES}/${g.ingress_firewall_policy_id}/insert_rule`, { firewall_rule_id: ssh.id }));
    expect(inserted.firewall_rules).toHaveLength(3);
    expect(inserted.firewall_rules[0]).toBe(ssh.id);
    // Its rules are ordinary rules.
    const [in4] = (await show(`${POLICIES}/${g.ingress_firewall_policy_id}`)).firewall_rules.slice(1);
    expect((await ok(api.call(ALICE, 'PUT', `${RULES}/${in4}`, { firewall_rule: { action: 'reject' } }))).firewall_rule.action).toBe('reject');
  });
});

describe('deleting the default group', () => {
  it('a member may not', async () => {
    const g = await aliceDefault();
    const e = await err(() => api.call(ALICE, 'DELETE', `${GROUPS}/${g.id}`), 409, 'FirewallGroupCannotRemoveDefault');
    expect(e.message).toBe('Deleting default firewall group not allowed.');
  });

  it('a group holding ports is in use first, for an admin too', async () => {
    const g = await aliceDefault();
    await ok(update(g.id, { ports: [await routerPort()] }));
    await err(() => api.call(ALICE, 'DELETE', `${GROUPS}/${g.id}`), 409, 'FirewallGroupInUse');
    await err(() => api.call(ADMIN, 'DELETE', `${GROUPS}/${g.id}`), 409, 'FirewallGroupInUse');
  });

  it('an admin deletes it with its policies; the rules stay; the next list makes a new one', async () => {
    const g = await aliceDefault();
    const policies = [g.ingress_firewall_policy_id, g.egress_firewall_policy_id];
    const rules = policies.flatMap((id) => api.store.view().get('firewall_policy', id)!.firewall_rules as string[]);
    expect((await api.call(ADMIN, 'DELETE', `${GROUPS}/${g.id}`)).status).toBe(204);
    await err(() => api.call(ALICE, 'GET', `${GROUPS}/${g.id}`), 404, 'FirewallGroupNotFound');
    for (const id of policies) await err(() => api.call(ALICE, 'GET', `${POLICIES}/${id}`), 404, 'FirewallPolicyNotFound');
    for (const id of rules) expect((await show(`${RULES}/${id}`)).firewall_policy_id).toBeNull();
    expect(stored('alice-project')).toEqual([]);

    const again = await aliceDefault();
    expect(again.id).not.toBe(g.id);
    expect(await list(RULES)).toHaveLength(8); // four old rules, four new ones
  });

  it('an admin cannot when another group uses one of its policies: nothing is deleted', async () => {
    const g = await aliceDefault();
    await ok(api.call(ALICE, 'POST', GROUPS, { firewall_group: { egress_firewall_policy_id: g.egress_firewall_policy_id } }), 201);
    await err(() => api.call(ADMIN, 'DELETE', `${GROUPS}/${g.id}`), 409, 'FirewallPolicyInUse');
    expect((await show(`${GROUPS}/${g.id}`)).ingress_firewall_policy_id).toBe(g.ingress_firewall_policy_id);
  });

  it('an admin can when it has no policies left', async () => {
    const g = await aliceDefault();
    await ok(update(g.id, { ingress_firewall_policy_id: null, egress_firewall_policy_id: null }, ADMIN));
    expect((await api.call(ADMIN, 'DELETE', `${GROUPS}/${g.id}`)).status).toBe(204);
    expect((await list(POLICIES)).map((p) => p.name).sort()).toEqual(['default egress', 'default egress', 'default ingress', 'default ingress']);
  });
});
