import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN, ALICE, BOB, testApi, type TestApi } from '../../helpers/api.ts';

let api: TestApi;
beforeEach(async () => { api = await testApi(); });
afterEach(async () => api.close());

const SG = '/v2.0/security-groups';
const RULES = '/v2.0/security-group-rules';

async function newGroup(name = 'web', caller = ALICE) {
  const res = await api.call(caller, 'POST', SG, { security_group: { name } });
  expect(res.status).toBe(201);
  return res.body.security_group;
}

async function addRule(rule: Record<string, unknown>, caller = ALICE) {
  return api.call(caller, 'POST', RULES, { security_group_rule: rule });
}

const shape = (r: any) => `${r.direction}/${r.ethertype}/${r.remote_group_id ? 'self' : 'any'}`;

describe('security groups', () => {
  it('creates the default group lazily on the first list, with its four rules, and only once', async () => {
    const before = api.store.revision;
    const list = await api.call(ALICE, 'GET', SG);
    expect(list.status).toBe(200);
    expect(list.body.security_groups).toHaveLength(1);
    const def = list.body.security_groups[0];
    expect(def).toMatchObject({ name: 'default', description: 'Default security group', project_id: 'alice-project', stateful: true, revision_number: 1, tags: [] });
    expect(def.is_default).toBeUndefined();
    expect(def.security_group_rules.map(shape).sort()).toEqual(['egress/IPv4/any', 'egress/IPv6/any', 'ingress/IPv4/self', 'ingress/IPv6/self']);
    for (const r of def.security_group_rules) {
      expect(r).toMatchObject({ protocol: null, port_range_min: null, remote_ip_prefix: null, security_group_id: def.id, belongs_to_default_sg: true });
      if (r.direction === 'ingress') expect(r.remote_group_id).toBe(def.id);
    }
    expect(api.store.revision).toBe(before + 1);
    const again = await api.call(ALICE, 'GET', SG);
    expect(again.body.security_groups.map((g: any) => g.id)).toEqual([def.id]);
    expect(api.store.revision).toBe(before + 1); // no write when it already exists
    const rules = await api.call(ALICE, 'GET', `${RULES}?security_group_id=${def.id}`);
    expect(rules.body.security_group_rules).toHaveLength(4);
  });

  it('gives a new group two egress rules and creates the default group too', async () => {
    const g = await newGroup('web');
    expect(g).toMatchObject({ name: 'web', description: '', stateful: true, project_id: 'alice-project', revision_number: 1 });
    expect(g.security_group_rules.map(shape).sort()).toEqual(['egress/IPv4/any', 'egress/IPv6/any']);
    expect(g.security_group_rules[0].belongs_to_default_sg).toBe(false);
    const names = (await api.call(ALICE, 'GET', `${SG}?sort_key=name`)).body.security_groups.map((x: any) => x.name);
    expect(names).toEqual(['default', 'web']);
  });

  it("refuses the name 'default' and protects the default group", async () => {
    const dup = await api.call(ALICE, 'POST', SG, { security_group: { name: 'Default' } });
    expect(dup.status).toBe(409);
    expect(dup.body.NeutronError.type).toBe('SecurityGroupDefaultAlreadyExists');
    const def = (await api.call(ALICE, 'GET', `${SG}?name=default`)).body.security_groups[0];
    const rename = await api.call(ALICE, 'PUT', `${SG}/${def.id}`, { security_group: { name: 'x' } });
    expect(rename.status).toBe(409);
    expect(rename.body.NeutronError.type).toBe('SecurityGroupCannotUpdateDefault');
    const desc = await api.call(ALICE, 'PUT', `${SG}/${def.id}`, { security_group: { description: 'mine' } });
    expect(desc.status).toBe(200);
    expect(desc.body.security_group).toMatchObject({ description: 'mine', revision_number: 2 });
    const del = await api.call(ALICE, 'DELETE', `${SG}/${def.id}`);
    expect(del.status).toBe(409);
    expect(del.body.NeutronError.type).toBe('SecurityGroupCannotRemoveDefault');
    const g = await newGroup('web');
    const toDefault = await api.call(ALICE, 'PUT', `${SG}/${g.id}`, { security_group: { name: 'default' } });
    expect(toDefault.status).toBe(409);
    expect((await api.call(ADMIN, 'DELETE', `${SG}/${def.id}`)).status).toBe(204);
  });

  it('hides other projects\u2019 groups from members (404) and shows all to admins', async () => {
    const a = await newGroup('a', ALICE);
    await newGroup('b', BOB);
    expect((await api.call(BOB, 'GET', `${SG}/${a.id}`)).status).toBe(404);
    const del = await api.call(BOB, 'DELETE', `${SG}/${a.id}`);
    expect(del.status).toBe(404);
    expect(del.body.NeutronError.type).toBe('SecurityGroupNotFound');
    const bobNames = (await api.call(BOB, 'GET', SG)).body.security_groups.map((g: any) => g.name).sort();
    expect(bobNames).toEqual(['b', 'default']);
    const rule = await addRule({ security_group_id: a.id, direction: 'ingress' }, BOB);
    expect(rule.status).toBe(404);
    const bobRules = (await api.call(BOB, 'GET', RULES)).body.security_group_rules;
    expect(bobRules.every((r: any) => r.project_id === 'bob-project')).toBe(true);
    const all = (await api.call(ADMIN, 'GET', `${SG}?fields=project_id&fields=name`)).body.security_groups;
    expect(all.filter((g: any) => g.project_id !== 'admin-project').map((g: any) => g.name).sort()).toEqual(['a', 'b', 'default', 'default']);
  });

  it('deletes a group with its rules and rules elsewhere that point at it', async () => {
    const g = await newGroup('web');
    const other = await newGroup('app');
    const ref = await addRule({ security_group_id: other.id, direction: 'ingress', remote_group_id: g.id });
    expect(ref.status).toBe(201);
    const otherRev = (await api.call(ALICE, 'GET', `${SG}/${other.id}`)).body.security_group.revision_number;
    expect((await api.call(ALICE, 'DELETE', `${SG}/${g.id}`)).status).toBe(204);
    expect((await api.call(ALICE, 'GET', `${RULES}?security_group_id=${g.id}`)).body.security_group_rules).toEqual([]);
    expect((await api.call(ALICE, 'GET', `${RULES}/${ref.body.security_group_rule.id}`)).status).toBe(404);
    const after = (await api.call(ALICE, 'GET', `${SG}/${other.id}`)).body.security_group;
    expect(after.security_group_rules).toHaveLength(2);
    expect(after.revision_number).toBe(otherRev + 1);
  });

  it('refuses to delete a group a port uses (409 SecurityGroupInUse)', async () => {
    const g = await newGroup('web');
    const net = (await api.call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'n' } })).body.network;
    const port = await api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: net.id, security_groups: [g.id] } });
    expect(port.status).toBe(201);
    const del = await api.call(ALICE, 'DELETE', `${SG}/${g.id}`);
    expect(del.status).toBe(409);
    expect(del.body.NeutronError).toMatchObject({ type: 'SecurityGroupInUse', message: `Security Group ${g.id} in use.` });
    const stateless = await api.call(ALICE, 'PUT', `${SG}/${g.id}`, { security_group: { stateful: false } });
    expect(stateless.status).toBe(409);
    expect((await api.call(ALICE, 'GET', `${SG}/${g.id}`)).status).toBe(200);
    expect((await api.call(ALICE, 'DELETE', `/v2.0/ports/${port.body.port.id}`)).status).toBe(204);
    expect((await api.call(ALICE, 'DELETE', `${SG}/${g.id}`)).status).toBe(204);
  });

  it('gives a port the default group, creating it when the project has none yet', async () => {
    const net = (await api.call(BOB, 'POST', '/v2.0/networks', { network: { name: 'n' } })).body.network;
    const port = await api.call(BOB, 'POST', '/v2.0/ports', { port: { network_id: net.id } });
    expect(port.status).toBe(201);
    const groups = (await api.call(BOB, 'GET', SG)).body.security_groups;
    expect(groups.map((g: any) => g.name)).toEqual(['default']);
    expect(port.body.port.security_groups).toEqual([groups[0].id]);
    expect((await api.call(ADMIN, 'DELETE', `${SG}/${groups[0].id}`)).body.NeutronError.type).toBe('SecurityGroupInUse');
  });

  it('writes nothing when the first list is rejected for a bad query', async () => {
    const before = api.store.revision;
    expect((await api.call(ALICE, 'GET', `${SG}?colour=red`)).status).toBe(400);
    expect((await api.call(ALICE, 'GET', `${SG}?sort_key=nope`)).status).toBe(400);
    expect(api.store.revision).toBe(before);
    expect((await api.call(BOB, 'GET', `${SG}?project_id=alice-project`)).body.security_groups).toEqual([]);
    expect(api.store.revision).toBe(before); // a member cannot make another project's default group
    expect((await api.call(ADMIN, 'GET', `${SG}?project_id=alice-project`)).body.security_groups.map((g: any) => g.name)).toEqual(['default']);
  });

  it('enforces the security_group quota', async () => {
    await api.store.transact((tx) => { tx.put('quota', { id: 'alice-project', project_id: 'alice-project', limits: { security_group: 2 } }); });
    await newGroup('one'); // plus default = 2
    const over = await api.call(ALICE, 'POST', SG, { security_group: { name: 'two' } });
    expect(over.status).toBe(409);
    expect(over.body.NeutronError.type).toBe('OverQuota');
  });
});

describe('security group rules', () => {
  it('creates a TCP rule, bumps the group revision and normalises fields', async () => {
    const g = await newGroup();
    const res = await addRule({ security_group_id: g.id, direction: 'ingress', protocol: 'TCP', port_range_min: '22', port_range_max: 22, remote_ip_prefix: '10.1.2.3/24', ethertype: 'ipv4', description: 'ssh' });
    expect(res.status).toBe(201);
    expect(res.body.security_group_rule).toMatchObject({
      security_group_id: g.id, direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 22, port_range_max: 22,
      remote_ip_prefix: '10.1.2.3/24', normalized_cidr: '10.1.2.0/24', remote_group_id: null, remote_address_group_id: null,
      description: 'ssh', project_id: 'alice-project', revision_number: 1,
    });
    expect(res.body.security_group_rule.tags).toBeUndefined();
    const shown = (await api.call(ALICE, 'GET', `${SG}/${g.id}`)).body.security_group;
    expect(shown.revision_number).toBe(2);
    expect(shown.security_group_rules).toHaveLength(3);
    const host = await addRule({ security_group_id: g.id, direction: 'ingress', ethertype: 'IPv6', remote_ip_prefix: '2001:DB8::1' });
    expect(host.body.security_group_rule).toMatchObject({ remote_ip_prefix: '2001:db8::1/128', normalized_cidr: '2001:db8::1/128' });
  });

  it('accepts protocols by number and by name; IPv6 icmp becomes ipv6-icmp', async () => {
    const g = await newGroup();
    const num = await addRule({ security_group_id: g.id, direction: 'ingress', protocol: 17, port_range_min: 53, port_range_max: 53 });
    expect(num.status).toBe(201);
    expect(num.body.security_group_rule.protocol).toBe('17');
    const numText = await addRule({ security_group_id: g.id, direction: 'ingress', protocol: '112' });
    expect(numText.body.security_group_rule.protocol).toBe('112');
    const name = await addRule({ security_group_id: g.id, direction: 'ingress', protocol: 'gre' });
    expect(name.body.security_group_rule.protocol).toBe('gre');
    const icmp6 = await addRule({ security_group_id: g.id, direction: 'ingress', ethertype: 'IPv6', protocol: 'icmp', port_range_min: 128, port_range_max: 0 });
    expect(icmp6.status).toBe(201);
    expect(icmp6.body.security_group_rule).toMatchObject({ protocol: 'ipv6-icmp', port_range_min: 128, port_range_max: 0 });
    const icmp = await addRule({ security_group_id: g.id, direction: 'ingress', protocol: 'icmp', port_range_min: 8 });
    expect(icmp.body.security_group_rule).toMatchObject({ protocol: 'icmp', port_range_min: 8, port_range_max: null });
    const byName = await api.call(ALICE, 'GET', `${RULES}?protocol=gre&security_group_id=${g.id}`);
    expect(byName.body.security_group_rules.map((r: any) => r.id)).toEqual([name.body.security_group_rule.id]);
    const ingress = await api.call(ALICE, 'GET', `${RULES}?direction=ingress&ethertype=IPv6&security_group_id=${g.id}`);
    expect(ingress.body.security_group_rules).toHaveLength(1);
  });

  it('rejects invalid rules with Neutron error types and changes nothing', async () => {
    const g = await newGroup();
    const other = await newGroup('other');
    const before = api.store.revision;
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ protocol: 'icmp', port_range_min: 300 }, 400, 'SecurityGroupInvalidIcmpValue'],
      [{ protocol: 'icmp', port_range_max: 0 }, 400, 'SecurityGroupMissingIcmpType'],
      [{ protocol: 'tcp', port_range_min: 90, port_range_max: 80 }, 400, 'SecurityGroupInvalidPortRange'],
      [{ protocol: 'tcp', port_range_min: 80 }, 400, 'SecurityGroupInvalidPortRange'],
      [{ protocol: 'tcp', port_range_min: 70000, port_range_max: 70000 }, 400, 'SecurityGroupInvalidPortValue'],
      [{ protocol: 'tcp', port_range_min: 0, port_range_max: 10 }, 400, 'SecurityGroupInvalidPortValue'],
      [{ protocol: 'gre', port_range_min: 1, port_range_max: 2 }, 400, 'SecurityGroupInvalidProtocolForPort'],
      [{ port_range_min: 1, port_range_max: 2 }, 400, 'SecurityGroupProtocolRequiredWithPorts'],
      [{ protocol: 'bogus' }, 400, 'SecurityGroupRuleInvalidProtocol'],
      [{ protocol: 256 }, 400, 'SecurityGroupRuleInvalidProtocol'],
      [{ protocol: 'ipv6-icmp' }, 400, 'SecurityGroupEthertypeConflictWithProtocol'],
      [{ remote_ip_prefix: '10.0.0.0/8', remote_group_id: other.id }, 400, 'SecurityGroupRemoteGroupAndRemoteIpPrefix'],
      [{ ethertype: 'IPv6', remote_ip_prefix: '10.0.0.0/8' }, 400, 'SecurityGroupRuleParameterConflict'],
      [{ remote_ip_prefix: '10.0.0.0/33' }, 400, 'InvalidCIDR'],
      [{ direction: 'sideways' }, 400, 'HTTPBadRequest'],
      [{ ethertype: 'IPv5' }, 400, 'HTTPBadRequest'],
      [{ remote_group_id: '6b0f6b7e-1b48-4a5f-9c42-3f0c1d2e3a4b' }, 404, 'SecurityGroupNotFound'],
      [{ security_group_id: '6b0f6b7e-1b48-4a5f-9c42-3f0c1d2e3a4b' }, 404, 'SecurityGroupNotFound'],
    ];
    for (const [extra, status, type] of cases) {
      const res = await addRule({ security_group_id: g.id, direction: 'ingress', ...extra });
      expect([JSON.stringify(extra), res.status, res.body.NeutronError?.type]).toEqual([JSON.stringify(extra), status, type]);
    }
    const conflict = await addRule({ security_group_id: g.id, direction: 'ingress', remote_ip_prefix: '10.0.0.0/8', remote_group_id: other.id });
    expect(conflict.body.NeutronError.message).toBe('Only remote_ip_prefix or remote_group_id may be provided.');
    expect(api.store.revision).toBe(before);
  });

  it('refuses a duplicate rule with 409 SecurityGroupRuleExists, comparing normalised values', async () => {
    const g = await newGroup();
    const first = await addRule({ security_group_id: g.id, direction: 'ingress', protocol: 'tcp', port_range_min: 80, port_range_max: 80, remote_ip_prefix: '10.0.0.0/24' });
    expect(first.status).toBe(201);
    const id = first.body.security_group_rule.id;
    const dup = await addRule({ security_group_id: g.id, direction: 'ingress', protocol: '6', port_range_min: 80, port_range_max: 80, remote_ip_prefix: '10.0.0.7/24' });
    expect(dup.status).toBe(409);
    expect(dup.body.NeutronError).toMatchObject({ type: 'SecurityGroupRuleExists', message: `Security group rule already exists. Rule id is ${id}.` });
    const egress = await addRule({ security_group_id: g.id, direction: 'egress', remote_ip_prefix: '0.0.0.0/0' });
    expect(egress.status).toBe(409); // same as the default egress rule to anywhere
  });

  it('has no update and deletes a rule, bumping only its group', async () => {
    const g = await newGroup();
    const rule = (await addRule({ security_group_id: g.id, direction: 'ingress', protocol: 'udp', port_range_min: 1, port_range_max: 100 })).body.security_group_rule;
    const put = await api.call(ALICE, 'PUT', `${RULES}/${rule.id}`, { security_group_rule: { description: 'x' } });
    expect(put.status).toBe(404);
    expect((await api.call(ALICE, 'GET', `${RULES}/${rule.id}/tags`)).status).toBe(404);
    expect((await api.call(BOB, 'DELETE', `${RULES}/${rule.id}`)).status).toBe(404);
    expect((await api.call(ALICE, 'DELETE', `${RULES}/${rule.id}`)).status).toBe(204);
    expect((await api.call(ALICE, 'GET', `${RULES}/${rule.id}`)).body.NeutronError.type).toBe('SecurityGroupRuleNotFound');
    const shown = (await api.call(ALICE, 'GET', `${SG}/${g.id}`)).body.security_group;
    expect(shown).toMatchObject({ revision_number: 3 });
    expect(shown.security_group_rules).toHaveLength(2);
  });

  it('creates rules in bulk atomically', async () => {
    const g = await newGroup();
    const ok = await api.call(ALICE, 'POST', RULES, { security_group_rules: [
      { security_group_id: g.id, direction: 'ingress', protocol: 'tcp', port_range_min: 80, port_range_max: 80 },
      { security_group_id: g.id, direction: 'ingress', protocol: 'tcp', port_range_min: 443, port_range_max: 443 },
    ] });
    expect(ok.status).toBe(201);
    expect(ok.body.security_group_rules.map((r: any) => r.port_range_min)).toEqual([80, 443]);
    const before = api.store.revision;
    const bad = await api.call(ALICE, 'POST', RULES, { security_group_rules: [
      { security_group_id: g.id, direction: 'ingress', protocol: 'tcp', port_range_min: 8080, port_range_max: 8080 },
      { security_group_id: g.id, direction: 'ingress', protocol: 'tcp', port_range_min: 8080, port_range_max: 8080 },
    ] });
    expect(bad.status).toBe(409);
    expect(api.store.revision).toBe(before);
    expect((await api.call(ALICE, 'GET', `${RULES}?security_group_id=${g.id}`)).body.security_group_rules).toHaveLength(4);
  });

  it('lets admins add rules to any group and enforces the rule quota', async () => {
    const g = await newGroup();
    const byAdmin = await addRule({ security_group_id: g.id, direction: 'ingress', protocol: 'icmp' }, ADMIN);
    expect(byAdmin.status).toBe(201);
    expect(byAdmin.body.security_group_rule.project_id).toBe('alice-project');
    await api.store.transact((tx) => { tx.put('quota', { id: 'alice-project', project_id: 'alice-project', limits: { security_group_rule: 7 } }); });
    // default 4 + web 2 + icmp 1 = 7
    const over = await addRule({ security_group_id: g.id, direction: 'ingress', protocol: 'tcp', port_range_min: 1, port_range_max: 1 });
    expect(over.status).toBe(409);
    expect(over.body.NeutronError.type).toBe('OverQuota');
  });
});
