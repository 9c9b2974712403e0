import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALICE, testApi, type TestApi } from '../../helpers/api.ts';
import { booleanish, cidr, ip, nastyString, port, uuid, type Fields } from '../../helpers/arbitraries.ts';
import { makeFixtures } from './fuzz-resources.ts';
import { fuzzEndpoint, resourceEndpoints, type Fixtures, type ResourceFuzz } from './fuzz-support.ts';

// Property-based requests for FWaaS v2 (rules, policies with insert_rule/remove_rule, groups on
// router ports): never a 5xx, errors are NeutronErrors, a rejected request changes nothing.

let api: TestApi;
let fx: Fixtures;

/** The common fixtures, plus a router interface port, a rule, a policy using it, a group on the port, and Alice's default group. */
async function fwaasFixtures(): Promise<Fixtures> {
  const base = await makeFixtures(api);
  const ports = (await api.call(ALICE, 'GET', '/v2.0/ports?device_owner=network:router_interface')).body.ports as Array<{ id: string }>;
  const rule = (await api.call(ALICE, 'POST', '/v2.0/fwaas/firewall_rules', { firewall_rule: { protocol: 'tcp', destination_port: '22' } })).body.firewall_rule;
  const spare = (await api.call(ALICE, 'POST', '/v2.0/fwaas/firewall_rules', { firewall_rule: {} })).body.firewall_rule;
  const policy = (await api.call(ALICE, 'POST', '/v2.0/fwaas/firewall_policies', { firewall_policy: { firewall_rules: [rule.id] } })).body.firewall_policy;
  const group = (await api.call(ALICE, 'POST', '/v2.0/fwaas/firewall_groups', { firewall_group: { ingress_firewall_policy_id: policy.id, ports: ports.map((p) => p.id) } })).body.firewall_group;
  // Creating the group made Alice's default group: the fuzzer also aims at it and its policies and rules.
  const dflt = (await api.call(ALICE, 'GET', '/v2.0/fwaas/firewall_groups?name=default')).body.firewall_groups[0];
  const dfltPolicies = [dflt.ingress_firewall_policy_id, dflt.egress_firewall_policy_id] as string[];
  const dfltRules = dfltPolicies.flatMap((id) => api.store.view().get('firewall_policy', id)?.firewall_rules as string[]);
  return {
    ids: {
      ...base.ids, router_port: ports.map((p) => p.id), firewall_rule: [rule.id, spare.id, ...dfltRules],
      firewall_policy: [policy.id, ...dfltPolicies], firewall_group: [group.id, dflt.id],
    },
  };
}

const pick = (f: Fixtures, ...kinds: string[]) => {
  const ids = kinds.flatMap((k) => f.ids[k] ?? []);
  return ids.length ? fc.oneof(fc.constantFrom(...ids), uuid) : uuid;
};
const project = fc.constantFrom('alice-project', 'bob-project', '', 'bad project');
const text = fc.oneof({ weight: 3, arbitrary: fc.string({ maxLength: 10 }) }, { weight: 1, arbitrary: nastyString });
/** Names, the reserved ones of the default group and its policies among them. */
const fwName = fc.oneof({ weight: 4, arbitrary: text }, { weight: 1, arbitrary: fc.constantFrom('default', 'default ingress', 'default egress', 'Default') });
const portRange = fc.oneof(port, fc.constantFrom('1000:2000', '2000:1000', '1:65535', '0:10', '80:', ':80', '1:2:3', '22\n', ' 22'));
const address = fc.oneof(ip, cidr, fc.constant(null), text);

const ruleFields = (): Fields => ({
  name: text, description: text, shared: booleanish, enabled: booleanish,
  protocol: fc.constantFrom('tcp', 'udp', 'icmp', 'ipv6-icmp', 'sctp', 'any', 'TCP', 6, '', null),
  ip_version: fc.constantFrom(4, 6, '4', '6', 5, null), action: fc.constantFrom('allow', 'DENY', 'reject', 'drop', null),
  source_ip_address: address, destination_ip_address: address, source_port: portRange, destination_port: portRange,
  firewall_policy_id: uuid, project_id: project,
});
const policyFields = (f: Fixtures): Fields => ({
  name: fwName, description: text, shared: booleanish, audited: booleanish, project_id: project,
  firewall_rules: fc.oneof(fc.array(pick(f, 'firewall_rule'), { maxLength: 3 }), fc.constant(null), text),
});
const groupFields = (f: Fixtures): Fields => ({
  name: fwName, description: text, shared: booleanish, admin_state_up: booleanish, project_id: project,
  ports: fc.oneof(fc.array(pick(f, 'router_port', 'port'), { maxLength: 3 }), fc.constant(null)),
  ingress_firewall_policy_id: fc.oneof(pick(f, 'firewall_policy'), fc.constant(null)),
  egress_firewall_policy_id: fc.oneof(pick(f, 'firewall_policy'), fc.constant(null), text),
});
const without = (fields: Fields, ...keys: string[]): Fields => Object.fromEntries(Object.entries(fields).filter(([k]) => !keys.includes(k)));
const ruleInfo = (f: Fixtures): Fields => ({
  firewall_rule_id: fc.oneof(pick(f, 'firewall_rule'), text), insert_before: fc.oneof(pick(f, 'firewall_rule'), fc.constant(''), fc.constant(null)),
  insert_after: fc.oneof(pick(f, 'firewall_rule'), fc.constant('')),
});

const STANDARD = ['id', 'name', 'description', 'project_id', 'tenant_id', 'shared', 'created_at', 'updated_at', 'revision_number'];
const RESOURCES: ResourceFuzz[] = [
  {
    path: 'fwaas/firewall_rules', kind: 'firewall_rule', singular: 'firewall_rule', collection: 'firewall_rules', tags: false,
    attributes: [...STANDARD, 'protocol', 'ip_version', 'source_port', 'destination_port', 'action', 'enabled', 'firewall_policy_id'],
    base: () => fc.record({ protocol: fc.constantFrom('tcp', 'udp'), destination_port: fc.constantFrom('22', '80:90') }),
    createFields: ruleFields, updateFields: () => without(ruleFields(), 'project_id'),
  },
  {
    path: 'fwaas/firewall_policies', kind: 'firewall_policy', singular: 'firewall_policy', collection: 'firewall_policies', tags: false,
    attributes: [...STANDARD, 'firewall_rules', 'audited'],
    createFields: policyFields, updateFields: (f) => without(policyFields(f), 'project_id'),
    actions: [
      { name: 'insert_rule', method: 'PUT', fields: ruleInfo, valid: (f) => fc.record({ firewall_rule_id: pick(f, 'firewall_rule') }) },
      { name: 'remove_rule', method: 'PUT', fields: ruleInfo, valid: (f) => fc.record({ firewall_rule_id: pick(f, 'firewall_rule') }) },
    ],
  },
  {
    path: 'fwaas/firewall_groups', kind: 'firewall_group', singular: 'firewall_group', collection: 'firewall_groups', tags: false,
    attributes: [...STANDARD, 'admin_state_up', 'status', 'ports', 'ingress_firewall_policy_id', 'egress_firewall_policy_id'],
    base: (f) => fc.record({ ports: fc.array(pick(f, 'router_port'), { maxLength: 1 }) }),
    createFields: groupFields, updateFields: (f) => without(groupFields(f), 'project_id'),
  },
];

beforeEach(async () => {
  api = await testApi();
  fx = await fwaasFixtures();
});
afterEach(async () => api.close());

describe('fuzz: FWaaS v2', () => {
  for (const endpoint of RESOURCES.flatMap(resourceEndpoints)) {
    it(endpoint.name, async () => {
      const statuses = await fuzzEndpoint(api, fx, endpoint);
      expect([...statuses.keys()].every((s) => s < 500)).toBe(true);
    });
  }
});
