import type { ViewKind } from '../../schemas/agent/view.ts';
import type { Doc, ReadView } from '../store/types.ts';
import type { ViewCommit } from './interest.ts';
import { RefCounts } from './ref-counts.ts';

// The FWaaS part of a host's interest (see interest.ts): the host's router interface ports
// (ports bound to it with a router interface owner; the L3 scheduler binds every port of a router
// to its gateway host, so these are the `qr-` legs of the routers it carries), every firewall group
// whose `ports` holds one of them, the ingress and egress policies of those groups, and the rules
// those policies list.
//
// Kept as a chain of reference counts, like security groups -> rules -> remote groups:
//   ports    port id   -> 1 while it is a local router interface port (counted by HostInterest)
//   groups   group id  -> how many of its ports are counted in `ports`
//   policies policy id -> references from counted groups (ingress and egress)
//   rules    rule id   -> counted policies that list it
// Each commit updates a level from the changed documents of that kind (as they were, against the
// counts as they were; as they are, against the counts now) and from the keys of the level below
// that flipped (their unchanged documents, found through the store's indexes), so the work is the
// commit's size plus what enters or leaves the view.

/** Owners of a router's internal legs (the gateway port is not filtered by FWaaS). */
const INTERFACE_OWNERS: ReadonlySet<string> = new Set(['network:router_interface', 'network:router_interface_distributed']);

/** A group's ports, each once (the index files a group once per port, however often it is listed). */
export const portsOf = (group: Doc): readonly string[] => (Array.isArray(group.ports) ? [...new Set(group.ports as string[])] : []);
const rulesOf = (policy: Doc): ReadonlySet<string> =>
  new Set(Array.isArray(policy.firewall_rules) ? (policy.firewall_rules as string[]) : []);
function policiesOf(group: Doc): string[] {
  const out: string[] = [];
  for (const key of ['ingress_firewall_policy_id', 'egress_firewall_policy_id']) {
    const id = group[key];
    if (typeof id === 'string' && id) out.push(id);
  }
  return out;
}

const isRouterInterfacePort = (port: Doc): boolean =>
  INTERFACE_OWNERS.has(port.device_owner as string) && !!port.device_id;

type Ids = Record<ViewKind, Set<string>>;
type Changes = ViewCommit['changes'];

export class FirewallInterest {
  /** Port id -> 1 while it is a local router interface port. */
  readonly ports = new RefCounts();
  /** Group id -> how many of its ports are local router interface ports. */
  readonly groups = new RefCounts();
  /** Policy id -> references from counted groups. */
  readonly policies = new RefCounts();
  /** Rule id -> counted policies listing it. */
  readonly rules = new RefCounts();

  private get levels(): RefCounts[] {
    return [this.ports, this.groups, this.policies, this.rules];
  }

  clear(): void {
    for (const c of this.levels) c.clear();
  }

  begin(): void {
    for (const c of this.levels) c.begin();
  }

  /** A local port counted (+1) or uncounted (-1) by HostInterest. */
  countLocal(port: Doc, delta: number): void {
    if (isRouterInterfacePort(port)) this.ports.add(port.id, delta);
  }

  /** After the local ports are counted: count the rest and add every wanted id to `ids`. */
  snapshot(view: ReadView, ids: Ids): void {
    for (const p of this.ports.keys()) {
      for (const g of view.find('firewall_group', 'port', p)) this.groups.add(g.id, 1);
    }
    for (const g of this.groups.keys()) {
      const doc = view.get('firewall_group', g);
      if (doc) for (const p of policiesOf(doc)) this.policies.add(p, 1);
    }
    for (const p of this.policies.keys()) {
      const doc = view.get('firewall_policy', p);
      if (doc) for (const r of rulesOf(doc)) this.rules.add(r, 1);
    }
    this.into(ids, [...this.groups.keys()], [...this.policies.keys()], [...this.rules.keys()]);
  }

  /** Folds a commit in (the local ports already counted); adds the ids whose membership may have changed. */
  apply(changed: Changes, view: ReadView, candidates: Ids): void {
    const { ports, groups, policies, rules } = this;
    // Groups: their ports among the local router interfaces.
    for (const c of changed.firewall_group.values()) {
      const was = c.prev ? portsOf(c.prev).filter((p) => ports.was(p)).length : 0;
      if (was) groups.add(c.id, -was);
      const is = c.doc ? portsOf(c.doc).filter((p) => ports.has(p)).length : 0;
      if (is) groups.add(c.id, is);
    }
    for (const p of ports.flipped()) {
      const delta = ports.has(p) ? 1 : -1;
      for (const g of view.find('firewall_group', 'port', p)) if (!changed.firewall_group.has(g.id)) groups.add(g.id, delta);
    }
    const flippedGroups = groups.flipped();
    // Policies: referenced by counted groups.
    for (const c of changed.firewall_group.values()) {
      if (c.prev && groups.was(c.id)) for (const p of policiesOf(c.prev)) policies.add(p, -1);
      if (c.doc && groups.has(c.id)) for (const p of policiesOf(c.doc)) policies.add(p, 1);
    }
    for (const g of flippedGroups) {
      const doc = changed.firewall_group.has(g) ? undefined : view.get('firewall_group', g);
      if (doc) for (const p of policiesOf(doc)) policies.add(p, groups.has(g) ? 1 : -1);
    }
    const flippedPolicies = policies.flipped();
    // Rules: listed by counted policies.
    for (const c of changed.firewall_policy.values()) {
      if (c.prev && policies.was(c.id)) for (const r of rulesOf(c.prev)) rules.add(r, -1);
      if (c.doc && policies.has(c.id)) for (const r of rulesOf(c.doc)) rules.add(r, 1);
    }
    for (const p of flippedPolicies) {
      const doc = changed.firewall_policy.has(p) ? undefined : view.get('firewall_policy', p);
      if (doc) for (const r of rulesOf(doc)) rules.add(r, policies.has(p) ? 1 : -1);
    }
    this.into(candidates, flippedGroups, flippedPolicies, rules.flipped());
  }

  wants(kind: 'firewall_group' | 'firewall_policy' | 'firewall_rule', doc: Doc): boolean {
    if (kind === 'firewall_group') return this.groups.has(doc.id);
    if (kind === 'firewall_policy') return this.policies.has(doc.id);
    return this.rules.has(doc.id);
  }

  private into(ids: Ids, groups: Iterable<string>, policies: Iterable<string>, rules: Iterable<string>): void {
    for (const g of groups) ids.firewall_group.add(g);
    for (const p of policies) ids.firewall_policy.add(p);
    for (const r of rules) ids.firewall_rule.add(r);
  }
}
