// FWaaS v2 through the API (controller/api/fwaas): rules, policies with insert_rule/remove_rule,
// groups on router interface ports, the conflicts and validation errors Neutron answers, and the
// collection protocol (filters, fields, paging). Behaviour follows neutron-fwaas's
// firewall_db_v2.py / fwaas_plugin_v2.py and neutron-lib's firewall_v2 API definition.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN, ALICE, BOB, testApi, type Caller, type TestApi } from '../../helpers/api.ts';
import { answers, GROUPS, POLICIES, RULES } from './fwaas-support.ts';

let api: TestApi;
beforeEach(async () => { api = await testApi(); });
afterEach(async () => api.close());

const { ok, err } = answers(() => api, 201);

const rule = async (body: Record<string, unknown> = {}, caller: Caller = ALICE) =>
  (await ok(api.call(caller, 'POST', RULES, { firewall_rule: body }))).firewall_rule;
const policy = async (body: Record<string, unknown> = {}, caller: Caller = ALICE) =>
  (await ok(api.call(caller, 'POST', POLICIES, { firewall_policy: body }))).firewall_policy;
const group = async (body: Record<string, unknown> = {}, caller: Caller = ALICE) =>
  (await ok(api.call(caller, 'POST', GROUPS, { firewall_group: body }))).firewall_group;
const show = async (url: string, caller: Caller = ALICE) => Object.values(await ok(api.call(caller, 'GET', url), 200))[0] as any;
const insert = (policyId: string, body: Record<string, unknown>, caller: Caller = ALICE) =>
  api.call(caller, 'PUT', `${POLICIES}/${policyId}/insert_rule`, body);
const removeRule = (policyId: string, body: Record<string, unknown>, caller: Caller = ALICE) =>
  api.call(caller, 'PUT', `${POLICIES}/${policyId}/remove_rule`, body);

/** Alice's router with an interface on her subnet, and a VM port on that subnet. */
async function topology() {
  const net = (await ok(api.call(ALICE, 'POST', '/v2.0/networks', { network: {} }))).network;
  const subnet = (await ok(api.call(ALICE, 'POST', '/v2.0/subnets', { subnet: { network_id: net.id, cidr: '10.0.0.0/24', ip_version: 4 } }))).subnet;
  const router = (await ok(api.call(ALICE, 'POST', '/v2.0/routers', { router: {} }))).router;
  const iface = await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: subnet.id }), 200);
  const vm = (await ok(api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: net.id, device_owner: 'compute:nova' } }))).port;
  const plain = (await ok(api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: net.id } }))).port;
  return { net, subnet, router, routerPort: iface.port_id as string, vm, plain };
}

describe('firewall rules', () => {
  it('creates with Neutron defaults, shows, updates and deletes', async () => {
    const r = await rule({ name: 'web', protocol: 'tcp', destination_port: 80, action: 'ALLOW' });
    expect(r).toMatchObject({
      name: 'web', description: '', project_id: 'alice-project', tenant_id: 'alice-project', protocol: 'tcp', ip_version: 4,
      source_ip_address: null, destination_ip_address: null, source_port: null, destination_port: '80', action: 'allow',
      enabled: true, shared: false, firewall_policy_id: null, revision_number: 1,
    });
    expect(r).not.toHaveProperty('tags');
    expect((await rule()).action).toBe('deny'); // Neutron's default action
    expect(await show(`${RULES}/${r.id}`)).toEqual(r);

    const updated = (await ok(api.call(ALICE, 'PUT', `${RULES}/${r.id}`, { firewall_rule: { destination_port: '1000:2000', source_ip_address: '10.0.0.0/24', enabled: false } }), 200)).firewall_rule;
    expect(updated).toMatchObject({ destination_port: '1000:2000', source_ip_address: '10.0.0.0/24', enabled: false, revision_number: 2 });
    // A range of one port reads as that port, as Neutron shows it.
    expect((await ok(api.call(ALICE, 'PUT', `${RULES}/${r.id}`, { firewall_rule: { source_port: '22:22' } }), 200)).firewall_rule.source_port).toBe('22');

    expect((await api.call(ALICE, 'DELETE', `${RULES}/${r.id}`)).status).toBe(204);
    await err(() => api.call(ALICE, 'GET', `${RULES}/${r.id}`), 404, 'FirewallRuleNotFound');
  });

  it('takes ip_version 6 with IPv6 addresses, as a string too', async () => {
    const r = await rule({ ip_version: '6', protocol: 'ipv6-icmp', source_ip_address: '2001:db8::/64', destination_ip_address: '2001:db8:1::5' });
    expect(r).toMatchObject({ ip_version: 6, protocol: 'ipv6-icmp', source_ip_address: '2001:db8::/64', destination_ip_address: '2001:db8:1::5' });
  });

  it('refuses bad values with Neutron\'s errors, changing nothing', async () => {
    const bad = (body: Record<string, unknown>) => () => api.call(ALICE, 'POST', RULES, { firewall_rule: body });
    // Like Neutron's API, 'any' is a CLI spelling (the client sends null), not a protocol value.
    await err(bad({ protocol: 'any' }), 400, 'HTTPBadRequest');
    await err(bad({ protocol: 'TCP' }), 400, 'HTTPBadRequest');
    await err(bad({ protocol: 6 }), 400, 'HTTPBadRequest');
    await err(bad({ action: 'drop' }), 400, 'HTTPBadRequest');
    await err(bad({ ip_version: 5 }), 400, 'HTTPBadRequest');
    await err(bad({ source_ip_address: '10.0.0.300' }), 400, 'HTTPBadRequest');
    await err(bad({ destination_ip_address: '10.0.0.0/33' }), 400, 'HTTPBadRequest');
    await err(bad({ firewall_policy_id: null }), 400, 'HTTPBadRequest'); // read-only
    const range = await err(bad({ protocol: 'tcp', destination_port: '2000:1000' }), 400, 'HTTPBadRequest');
    expect(range.message).toBe('Invalid input for destination_port. Reason: First port in a port range must be lower than the second port.');
    expect((await err(bad({ protocol: 'tcp', source_port: '70000' }), 400, 'HTTPBadRequest')).message).toContain('Invalid port: 70000');
    await err(bad({ protocol: 'tcp', source_port: '1:2:3' }), 400, 'HTTPBadRequest');
    await err(bad({ protocol: 'tcp', source_port: 'ssh' }), 400, 'HTTPBadRequest');
    await err(bad({ protocol: 'tcp', destination_port: '80\n-A FORWARD -j ACCEPT' }), 400, 'HTTPBadRequest');
    const icmp = await err(bad({ protocol: 'icmp', destination_port: '80' }), 400, 'FirewallRuleInvalidICMPParameter');
    expect(icmp.message).toBe('Source, destination port are not allowed when protocol is set to ICMP.');
    await err(bad({ destination_port: '80' }), 400, 'FirewallRuleWithPortWithoutProtocolInvalid');
    await err(bad({ source_ip_address: '2001:db8::1' }), 400, 'FirewallIpAddressConflict');
    await err(bad({ ip_version: 6, destination_ip_address: '10.0.0.0/8' }), 400, 'FirewallIpAddressConflict');
    // Only the default group's rules, made by this first list.
    const left = (await api.call(ALICE, 'GET', RULES)).body.firewall_rules.map((r: any) => r.name).sort();
    expect(left).toEqual(['default egress ipv4', 'default egress ipv6', 'default ingress ipv4', 'default ingress ipv6']);
  });

  it('checks an update against the rule as it will be', async () => {
    const r = await rule({ protocol: 'tcp', destination_port: '22' });
    await err(() => api.call(ALICE, 'PUT', `${RULES}/${r.id}`, { firewall_rule: { protocol: 'icmp' } }), 400, 'FirewallRuleInvalidICMPParameter');
    await err(() => api.call(ALICE, 'PUT', `${RULES}/${r.id}`, { firewall_rule: { protocol: null } }), 400, 'FirewallRuleWithPortWithoutProtocolInvalid');
    await err(() => api.call(ALICE, 'PUT', `${RULES}/${r.id}`, { firewall_rule: { project_id: 'bob-project' } }), 400, 'HTTPBadRequest');
    const changed = (await ok(api.call(ALICE, 'PUT', `${RULES}/${r.id}`, { firewall_rule: { protocol: 'icmp', destination_port: null } }), 200)).firewall_rule;
    expect(changed).toMatchObject({ protocol: 'icmp', destination_port: null });
  });

  it('lists with filters, fields, sorting and paging, and creates in bulk', async () => {
    const bulk = await ok(api.call(ALICE, 'POST', RULES, { firewall_rules: [{ name: 'a', protocol: 'udp' }, { name: 'b', protocol: 'tcp' }, { name: 'c' }] }));
    expect(bulk.firewall_rules.map((r: any) => r.name)).toEqual(['a', 'b', 'c']);
    const names = async (q: string) => (await ok(api.call(ALICE, 'GET', `${RULES}?${q}`), 200)).firewall_rules.map((r: any) => r.name);
    expect(await names('protocol=tcp')).toEqual(['b']);
    // The list made the project's default group, whose rules list too.
    expect(await names('sort_key=name&sort_dir=desc')).toEqual([
      'default ingress ipv6', 'default ingress ipv4', 'default egress ipv6', 'default egress ipv4', 'c', 'b', 'a',
    ]);
    const fields = (await ok(api.call(ALICE, 'GET', `${RULES}?fields=name&fields=protocol&name=a`), 200)).firewall_rules;
    expect(fields).toEqual([{ name: 'a', protocol: 'udp' }]);
    const page = await ok(api.call(ALICE, 'GET', `${RULES}?limit=2&sort_key=name`), 200);
    expect(page.firewall_rules.map((r: any) => r.name)).toEqual(['a', 'b']);
    expect(page.firewall_rules_links.map((l: any) => l.rel)).toEqual(['next', 'previous']); // Neutron links a first page backwards too
    await err(() => api.call(ALICE, 'GET', `${RULES}?colour=red`), 400, 'HTTPBadRequest');
  });

  it('keeps projects apart: members see their own rules and shared ones; only admins share', async () => {
    const mine = await rule({ name: 'mine' });
    await err(() => api.call(BOB, 'GET', `${RULES}/${mine.id}`), 404, 'FirewallRuleNotFound');
    await err(() => api.call(BOB, 'DELETE', `${RULES}/${mine.id}`), 404, 'FirewallRuleNotFound');
    await err(() => api.call(ALICE, 'POST', RULES, { firewall_rule: { shared: true } }), 403, 'PolicyNotAuthorized');
    expect((await rule({ shared: false })).shared).toBe(false); // the default may be sent by anyone
    const shared = await rule({ name: 'common', shared: true }, ADMIN);
    expect((await show(`${RULES}/${shared.id}`, BOB)).name).toBe('common');
    await err(() => api.call(BOB, 'PUT', `${RULES}/${shared.id}`, { firewall_rule: { name: 'x' } }), 403, 'PolicyNotAuthorized');
    const notBobs = (await ok(api.call(BOB, 'GET', RULES), 200)).firewall_rules.filter((r: any) => r.project_id !== 'bob-project');
    expect(notBobs.map((r: any) => r.id)).toEqual([shared.id]);
  });
});

describe('firewall policies', () => {
  it('keeps the rule order, and a rule shows the policies that use it', async () => {
    const [a, b, c] = [await rule({ name: 'a' }), await rule({ name: 'b' }), await rule({ name: 'c' })];
    const p = await policy({ name: 'p', firewall_rules: [c.id, a.id, b.id] });
    expect(p).toMatchObject({ name: 'p', firewall_rules: [c.id, a.id, b.id], audited: false, shared: false, project_id: 'alice-project' });
    expect((await show(`${RULES}/${a.id}`)).firewall_policy_id).toEqual([p.id]);
    // A rule may be in several policies (neutron-fwaas v2), once per policy.
    const q = await policy({ firewall_rules: [a.id] });
    expect((await show(`${RULES}/${a.id}`)).firewall_policy_id.sort()).toEqual([p.id, q.id].sort());
    expect((await ok(api.call(ALICE, 'GET', `${RULES}?firewall_policy_id=${q.id}`), 200)).firewall_rules.map((r: any) => r.id)).toEqual([a.id]);
    expect((await ok(api.call(ALICE, 'GET', `${POLICIES}?firewall_rules=${b.id}`), 200)).firewall_policies.map((x: any) => x.id)).toEqual([p.id]);
    // Replacing the list replaces the order.
    const replaced = (await ok(api.call(ALICE, 'PUT', `${POLICIES}/${p.id}`, { firewall_policy: { firewall_rules: [b.id, c.id] } }), 200)).firewall_policy;
    expect(replaced.firewall_rules).toEqual([b.id, c.id]);
    expect((await show(`${RULES}/${a.id}`)).firewall_policy_id).toEqual([q.id]);
    expect((await ok(api.call(ALICE, 'PUT', `${POLICIES}/${p.id}`, { firewall_policy: { firewall_rules: null } }), 200)).firewall_policy.firewall_rules).toEqual([]);
  });

  it('insert_rule puts a rule at the top, before or after another; remove_rule takes it out', async () => {
    const [a, b, c, d] = [await rule(), await rule(), await rule(), await rule()];
    const p = await policy();
    const ins = async (body: Record<string, unknown>) => (await ok(insert(p.id, body), 200)).firewall_rules;
    expect(await ins({ firewall_rule_id: a.id })).toEqual([a.id]);
    expect(await ins({ firewall_rule_id: b.id, insert_before: '', insert_after: '' })).toEqual([b.id, a.id]); // no reference: top
    expect(await ins({ firewall_rule_id: c.id, insert_after: b.id })).toEqual([b.id, c.id, a.id]);
    // insert_before wins over insert_after.
    const answer = await ok(insert(p.id, { firewall_rule_id: d.id, insert_before: b.id, insert_after: a.id }), 200);
    expect(answer.firewall_rules).toEqual([d.id, b.id, c.id, a.id]);
    // The answer is the bare policy, as Neutron's member actions answer.
    expect(answer).toMatchObject({ id: p.id, audited: false, project_id: 'alice-project' });
    expect(answer).not.toHaveProperty('firewall_policy');

    const rem = await ok(removeRule(p.id, { firewall_rule_id: b.id }), 200);
    expect(rem.firewall_rules).toEqual([d.id, c.id, a.id]);
    expect((await show(`${POLICIES}/${p.id}`)).firewall_rules).toEqual([d.id, c.id, a.id]);
    expect((await show(`${RULES}/${b.id}`)).firewall_policy_id).toBeNull();
  });

  it('answers insert_rule and remove_rule mistakes as Neutron does', async () => {
    const [a, b] = [await rule(), await rule()];
    const p = await policy({ firewall_rules: [a.id] });
    await err(() => insert(p.id, {}), 400, 'FirewallRuleInfoMissing');
    await err(() => removeRule(p.id, {}), 400, 'FirewallRuleInfoMissing');
    await err(() => insert(p.id, { firewall_rule_id: 'not-a-uuid' }), 404, 'FirewallRuleNotFound');
    await err(() => insert(p.id, { firewall_rule_id: crypto.randomUUID() }), 404, 'FirewallRuleNotFound');
    const dup = await err(() => insert(p.id, { firewall_rule_id: a.id }), 409, 'FirewallRuleAlreadyAssociated');
    expect(dup.message).toBe(`Operation cannot be performed since firewall rule ${a.id} is already associated with firewall policy ${p.id}.`);
    await err(() => insert(p.id, { firewall_rule_id: b.id, insert_after: crypto.randomUUID() }), 400, 'FirewallRuleNotAssociatedWithPolicy');
    await err(() => removeRule(p.id, { firewall_rule_id: b.id }), 400, 'FirewallRuleNotAssociatedWithPolicy');
    await err(() => insert(crypto.randomUUID(), { firewall_rule_id: b.id }), 404, 'FirewallPolicyNotFound');
    await err(() => insert(p.id, { firewall_rule_id: b.id }, BOB), 404, 'FirewallPolicyNotFound');
    await err(() => api.call(ALICE, 'PUT', `${POLICIES}/${p.id}/insert_rule`, [b.id]), 400, 'HTTPBadRequest');
  });

  it('marks a policy un-audited when it or one of its rules changes', async () => {
    const a = await rule();
    const p = await policy({ firewall_rules: [a.id], audited: true });
    expect(p.audited).toBe(true);
    expect((await ok(api.call(ALICE, 'PUT', `${POLICIES}/${p.id}`, { firewall_policy: { audited: true } }), 200)).firewall_policy.audited).toBe(true);
    await ok(api.call(ALICE, 'PUT', `${RULES}/${a.id}`, { firewall_rule: { name: 'renamed' } }), 200);
    expect((await show(`${POLICIES}/${p.id}`)).audited).toBe(false);
    await ok(api.call(ALICE, 'PUT', `${POLICIES}/${p.id}`, { firewall_policy: { audited: true } }), 200);
    expect((await ok(api.call(ALICE, 'PUT', `${POLICIES}/${p.id}`, { firewall_policy: { name: 'n' } }), 200)).firewall_policy.audited).toBe(false);
  });

  it('refuses rules of other projects and unshared rules in shared policies', async () => {
    const bobs = await rule({}, BOB);
    await err(() => api.call(ALICE, 'POST', POLICIES, { firewall_policy: { firewall_rules: [bobs.id] } }), 404, 'FirewallRuleNotFound');
    await err(() => api.call(ALICE, 'POST', POLICIES, { firewall_policy: { firewall_rules: [crypto.randomUUID()] } }), 404, 'FirewallRuleNotFound');
    const dupBody = { firewall_policy: { firewall_rules: [bobs.id, bobs.id] } };
    await err(() => api.call(BOB, 'POST', POLICIES, dupBody), 400, 'HTTPBadRequest');
    // An admin may see Bob's rule, but not put it in Alice's policy: it is not shared.
    await err(() => api.call(ADMIN, 'POST', POLICIES, { firewall_policy: { project_id: 'alice-project', firewall_rules: [bobs.id] } }), 409, 'FirewallRuleConflict');
    const p = await policy({ firewall_rules: [] });
    await err(() => insert(p.id, { firewall_rule_id: bobs.id }, ADMIN), 409, 'FirewallRuleConflict');
    // A shared policy holds shared rules only.
    await err(() => api.call(ADMIN, 'POST', POLICIES, { firewall_policy: { shared: true, project_id: 'bob-project', firewall_rules: [bobs.id] } }), 404, 'FirewallRuleSharingConflict');
    const bp = await policy({ firewall_rules: [bobs.id] }, BOB);
    await err(() => api.call(ADMIN, 'PUT', `${POLICIES}/${bp.id}`, { firewall_policy: { shared: true } }), 409, 'FirewallPolicySharingConflict');
    const common = await rule({ shared: true }, ADMIN);
    expect((await ok(insert(p.id, { firewall_rule_id: common.id }), 200)).firewall_rules).toEqual([common.id]);
  });

  it('a rule in use and a policy in use cannot be deleted', async () => {
    const a = await rule();
    const p = await policy({ firewall_rules: [a.id] });
    const inUse = await err(() => api.call(ALICE, 'DELETE', `${RULES}/${a.id}`), 409, 'FirewallRuleInUse');
    expect(inUse.message).toBe(`Firewall rule ${a.id} is being used.`);
    const g = await group({ egress_firewall_policy_id: p.id });
    expect((await err(() => api.call(ALICE, 'DELETE', `${POLICIES}/${p.id}`), 409, 'FirewallPolicyInUse')).message).toBe(`Firewall policy ${p.id} is being used.`);
    expect((await api.call(ALICE, 'DELETE', `${GROUPS}/${g.id}`)).status).toBe(204);
    expect((await api.call(ALICE, 'DELETE', `${POLICIES}/${p.id}`)).status).toBe(204);
    expect((await api.call(ALICE, 'DELETE', `${RULES}/${a.id}`)).status).toBe(204);
    await err(() => api.call(ALICE, 'DELETE', `${POLICIES}/${p.id}`), 404, 'FirewallPolicyNotFound');
  });
});

describe('firewall groups', () => {
  it('applies policies to router interface ports; status follows ports, policies and admin state', async () => {
    const t = await topology();
    const p = await policy({ firewall_rules: [(await rule({ protocol: 'icmp', action: 'allow' })).id] });
    const g = await group({ name: 'edge', ingress_firewall_policy_id: p.id, ports: [t.routerPort] });
    expect(g).toMatchObject({
      name: 'edge', ports: [t.routerPort], ingress_firewall_policy_id: p.id, egress_firewall_policy_id: null,
      admin_state_up: true, shared: false, status: 'ACTIVE', project_id: 'alice-project',
    });
    expect((await ok(api.call(ALICE, 'GET', `${GROUPS}?ports=${t.routerPort}`), 200)).firewall_groups.map((x: any) => x.id)).toEqual([g.id]);
    expect((await ok(api.call(ALICE, 'GET', `${GROUPS}?status=ACTIVE&fields=id`), 200)).firewall_groups).toEqual([{ id: g.id }]);
    const down = (await ok(api.call(ALICE, 'PUT', `${GROUPS}/${g.id}`, { firewall_group: { admin_state_up: false } }), 200)).firewall_group;
    expect(down.status).toBe('DOWN');
    const noPolicy = (await ok(api.call(ALICE, 'PUT', `${GROUPS}/${g.id}`, { firewall_group: { ingress_firewall_policy_id: null } }), 200)).firewall_group;
    expect(noPolicy.status).toBe('INACTIVE');
    const egress = (await ok(api.call(ALICE, 'PUT', `${GROUPS}/${g.id}`, { firewall_group: { egress_firewall_policy_id: p.id, admin_state_up: true } }), 200)).firewall_group;
    expect(egress).toMatchObject({ status: 'ACTIVE', egress_firewall_policy_id: p.id });
    // A router in ERROR (its agent could not apply it) shows in the group's status.
    const router = api.store.view().get('router', t.router.id)!;
    await api.store.transact((tx) => tx.put('router', { ...router, status: 'ERROR' }));
    expect((await show(`${GROUPS}/${g.id}`)).status).toBe('ERROR');
  });

  it('takes only router interface ports the caller can see, each in one group', async () => {
    const t = await topology();
    const bad = (ports: string[], caller: Caller = ALICE) => () => api.call(caller, 'POST', GROUPS, { firewall_group: { ports } });
    const vm = await err(bad([t.vm.id]), 409, 'FirewallGroupPortNotSupported');
    expect(vm.message).toBe(`Port ${t.vm.id} is not supported by firewall driver 'weft-l3-iptables'.`);
    expect((await err(bad([t.plain.id]), 409, 'FirewallGroupPortInvalid')).message).toBe(`Port ${t.plain.id} of firewall group is invalid.`);
    await err(bad([crypto.randomUUID()]), 404, 'PortNotFound');
    await err(bad([t.routerPort], BOB), 404, 'PortNotFound');
    await err(bad([t.routerPort, t.routerPort]), 400, 'HTTPBadRequest');
    await err(bad(['nope']), 400, 'HTTPBadRequest');
    const g = await group({ ports: [t.routerPort] });
    expect(g.status).toBe('INACTIVE'); // no policy
    const taken = await err(bad([t.routerPort]), 409, 'FirewallGroupPortInUse');
    expect(taken.message).toBe(`Port(s) ['${t.routerPort}'] provided already associated with other firewall group(s).`);
    const other = await group();
    await err(() => api.call(ALICE, 'PUT', `${GROUPS}/${other.id}`, { firewall_group: { ports: [t.routerPort] } }), 409, 'FirewallGroupPortInUse');
    // Setting a group's own ports again is fine; moving the port frees it for the other group.
    await ok(api.call(ALICE, 'PUT', `${GROUPS}/${g.id}`, { firewall_group: { ports: [t.routerPort] } }), 200);
    await ok(api.call(ALICE, 'PUT', `${GROUPS}/${g.id}`, { firewall_group: { ports: [] } }), 200);
    expect((await ok(api.call(ALICE, 'PUT', `${GROUPS}/${other.id}`, { firewall_group: { ports: [t.routerPort] } }), 200)).firewall_group.ports).toEqual([t.routerPort]);
  });

  it('a group with ports is in use; a removed router interface leaves its group', async () => {
    const t = await topology();
    const g = await group({ ports: [t.routerPort] });
    expect((await err(() => api.call(ALICE, 'DELETE', `${GROUPS}/${g.id}`), 409, 'FirewallGroupInUse')).message).toBe(`Firewall group ${g.id} is still active.`);
    await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${t.router.id}/remove_router_interface`, { subnet_id: t.subnet.id }), 200);
    const after = await show(`${GROUPS}/${g.id}`);
    expect(after.ports).toEqual([]);
    expect(after.revision_number).toBe(2);
    expect((await api.call(ALICE, 'DELETE', `${GROUPS}/${g.id}`)).status).toBe(204);
    // The port's claim went with it: a new interface port can join a new group.
    const iface = await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${t.router.id}/add_router_interface`, { subnet_id: t.subnet.id }), 200);
    expect((await group({ ports: [iface.port_id] })).ports).toEqual([iface.port_id]);
  });

  it('uses the project\'s own policies or shared ones', async () => {
    const bobs = await policy({}, BOB);
    await err(() => api.call(ALICE, 'POST', GROUPS, { firewall_group: { ingress_firewall_policy_id: bobs.id } }), 404, 'FirewallPolicyNotFound');
    await err(() => api.call(ALICE, 'POST', GROUPS, { firewall_group: { egress_firewall_policy_id: crypto.randomUUID() } }), 404, 'FirewallPolicyNotFound');
    await err(() => api.call(ADMIN, 'POST', GROUPS, { firewall_group: { project_id: 'alice-project', ingress_firewall_policy_id: bobs.id } }), 404, 'FirewallPolicyConflict');
    const shared = await policy({ shared: true }, ADMIN);
    const g = await group({ ingress_firewall_policy_id: shared.id });
    expect(g.ingress_firewall_policy_id).toBe(shared.id);
    // A shared policy used by another project's group cannot stop being shared.
    await err(() => api.call(ADMIN, 'PUT', `${POLICIES}/${shared.id}`, { firewall_policy: { shared: false } }), 409, 'FirewallPolicyInUse');
    await err(() => api.call(ALICE, 'POST', GROUPS, { firewall_group: { shared: true } }), 403, 'PolicyNotAuthorized');
  });

  it('404s unknown ids and honours If-Match', async () => {
    const missing = crypto.randomUUID();
    await err(() => api.call(ALICE, 'GET', `${GROUPS}/${missing}`), 404, 'FirewallGroupNotFound');
    await err(() => api.call(ALICE, 'PUT', `${GROUPS}/${missing}`, { firewall_group: { name: 'x' } }), 404, 'FirewallGroupNotFound');
    expect((await err(() => api.call(ALICE, 'DELETE', `${POLICIES}/${missing}`), 404, 'FirewallPolicyNotFound')).message)
      .toBe(`Firewall policy ${missing} could not be found.`);
    const g = await group();
    await err(() => api.call(ALICE, 'PUT', `${GROUPS}/${g.id}`, { firewall_group: { name: 'x' } }, { 'if-match': 'revision_number=7' }), 412, 'RevisionNumberConstraintFailed');
    const p = await policy();
    await err(() => insert(p.id, { firewall_rule_id: crypto.randomUUID() }), 404, 'FirewallRuleNotFound');
  });
});
