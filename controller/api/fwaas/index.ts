import { ensureDefaultFirewallGroup, findDefaultFirewallGroup } from '../../domain/fwaas-defaults.ts';
import {
  createFirewallGroup, presentFirewallGroup, removeFirewallGroup, updateFirewallGroup,
} from '../../domain/fwaas-groups.ts';
import {
  createFirewallPolicy, insertFirewallRule, presentFirewallPolicy, removeFirewallPolicy, removeFirewallRuleFromPolicy,
  updateFirewallPolicy,
} from '../../domain/fwaas-policies.ts';
import {
  createFirewallRule, fwaasVisible, presentFirewallRule, removeFirewallRule, updateFirewallRule,
} from '../../domain/fwaas-rules.ts';
import { badRequest } from '../../errors.ts';
import {
  FirewallGroupCreate, FirewallGroupUpdate, FirewallPolicyCreate, FirewallPolicyUpdate, FirewallRuleCreate, FirewallRuleInfo,
  FirewallRuleUpdate,
} from '../../../schemas/api/firewall.ts';
import { parseWith } from '../body.ts';
import type { ApiPlugin } from '../context.ts';
import { ensureDefaultOnList } from '../lazy-default.ts';
import { checkIfMatch, registerResource, writableDoc, type ResourceDef } from '../resource.ts';

// Neutron FWaaS v2 (extension fwaas_v2): /v2.0/fwaas/firewall_rules, firewall_policies (with the
// insert_rule and remove_rule member actions) and firewall_groups. The resources have Neutron's
// standard attributes (timestamps, revision numbers, If-Match) but no tags, like neutron-fwaas.
// Listing any of the three makes the listed project's default firewall group, as neutron-fwaas's
// get_firewall_rules/_policies/_groups do (_ensure_default_firewall_group).

const STANDARD = ['id', 'name', 'description', 'project_id', 'tenant_id', 'shared', 'created_at', 'updated_at', 'revision_number'];

export const fwaasApi: ApiPlugin = (app, deps) => {
  const { store } = deps;
  const withDefaultGroup = (def: ResourceDef): ResourceDef => ({
    ...def,
    beforeList: (s, ctx, query) => ensureDefaultOnList(def, s, ctx, query,
      (view, project) => findDefaultFirewallGroup(view, project) !== undefined, ensureDefaultFirewallGroup),
  });

  const rules: ResourceDef = {
    kind: 'firewall_rule',
    singular: 'firewall_rule',
    collection: 'firewall_rules',
    path: 'fwaas/firewall_rules',
    attributes: [
      ...STANDARD, 'protocol', 'ip_version', 'source_ip_address', 'destination_ip_address', 'source_port', 'destination_port',
      'action', 'enabled', 'firewall_policy_id',
    ],
    createSchema: FirewallRuleCreate,
    updateSchema: FirewallRuleUpdate,
    tags: false,
    visible: fwaasVisible,
    present: presentFirewallRule,
    create: createFirewallRule,
    update: updateFirewallRule,
    remove: removeFirewallRule,
  };

  const policies: ResourceDef = {
    kind: 'firewall_policy',
    singular: 'firewall_policy',
    collection: 'firewall_policies',
    path: 'fwaas/firewall_policies',
    attributes: [...STANDARD, 'firewall_rules', 'audited'],
    createSchema: FirewallPolicyCreate,
    updateSchema: FirewallPolicyUpdate,
    tags: false,
    visible: fwaasVisible,
    present: presentFirewallPolicy,
    create: createFirewallPolicy,
    update: updateFirewallPolicy,
    remove: removeFirewallPolicy,
  };

  const groups: ResourceDef = {
    kind: 'firewall_group',
    singular: 'firewall_group',
    collection: 'firewall_groups',
    path: 'fwaas/firewall_groups',
    attributes: [...STANDARD, 'admin_state_up', 'status', 'ports', 'ingress_firewall_policy_id', 'egress_firewall_policy_id'],
    createSchema: FirewallGroupCreate,
    updateSchema: FirewallGroupUpdate,
    tags: false,
    visible: fwaasVisible,
    present: presentFirewallGroup,
    create: createFirewallGroup,
    update: updateFirewallGroup,
    remove: removeFirewallGroup,
  };

  for (const def of [rules, policies, groups]) registerResource(app, deps, withDefaultGroup(def));

  // Member actions: the body is the bare rule info and the answer the bare policy, as in Neutron.
  const docs = (summary: string) => ({ schema: { tags: ['firewall_policies'], summary, body: FirewallRuleInfo } });
  for (const action of ['insert_rule', 'remove_rule'] as const) {
    const summary = action === 'insert_rule' ? 'Insert a rule into a firewall policy' : 'Remove a rule from a firewall policy';
    app.put(`/v2.0/fwaas/firewall_policies/:id/${action}`, docs(summary), async (req) => {
      const { id } = req.params as { id: string };
      const ctx = req.ctx;
      const body = req.body;
      if (body === null || body === undefined || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Resource body required');
      const info = parseWith(FirewallRuleInfo, body);
      const { result } = await store.transact((tx) => {
        const policy = writableDoc(tx, policies, ctx, id, action);
        checkIfMatch(req, policy);
        return action === 'insert_rule' ? insertFirewallRule(tx, ctx, policy, info) : removeFirewallRuleFromPolicy(tx, ctx, policy, info);
      });
      const view = store.view();
      return presentFirewallPolicy(view, ctx, view.get('firewall_policy', result.id) ?? result);
    });
  }
};
