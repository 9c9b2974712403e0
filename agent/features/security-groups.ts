// Security groups: stateful filtering with conntrack, one zone per local port (its ofport), rules
// as OpenFlow conjunctions. Tables egress_ct, egress_acl, ingress_ct, ingress_acl; the flows and
// their priorities are described in security-groups/flows.ts.
//
// Each rule R (conj id from security-groups/conj-ids.ts) is a conjunction in its direction's acl
// table:
//   clause 1            reg5|reg7 = ofport of each local filtered member of R's group, R's family
//   clause 2            R's traffic: protocol, destination port (ranges as masked matches) or ICMP
//                       type/code, and its remote: the CIDR, or each address of each member of the
//                       remote group (fixed IPs and allowed address pairs, R's family)
//   conj_id=R           ct(commit, ct_mark=0) and on
// A remote-group rule whose traffic needs several matches (a port range) gets three clauses instead:
// 2 = traffic, 3 = remote member addresses, so its flows grow as traffic + members, not their product.
//
// Units (a unit's flows depend only on the documents named in it, plus bindings and conj ids; ids
// are UUIDs, so ':' separates the parts):
//   base                  model-independent flows
//   port:<port>           ingress_ct bypass of a local port we do not filter
//   c1:<rule>:<port>      clause 1 of a rule for one local member port
//   rule:<rule>           the conj_id flow and the traffic clause (with its CIDR)
//   m:<rule>:<port>       the remote clause of a remote-group rule for one member of the remote group
// Flows that units share (the same port in many rules, the same traffic in many rules) are merged
// by the engine into one flow with all their conjunction actions.
import type { PortView, SecurityGroupRuleView } from '../../schemas/agent/view.ts';
import type { HostModel, ModelEvent } from '../model/host-model.ts';
import { flowKey, type Flow } from '../pipeline/flow.ts';
import { isTrusted, localOfport } from './common.ts';
import type { CompileState, Feature } from './engine.ts';
import { ConjIds } from './security-groups/conj-ids.ts';
import { UnitPairs } from './security-groups/live-units.ts';
import {
  DIRECTIONS, baseFlows, clauseFlow, conjIdFlow, portClauseFlow, unfilteredPortFlow, type ConjRef,
} from './security-groups/flows.ts';
import {
  addressMatch, ethTypeOf, memberAddresses, remoteField, remotePrefixMatch, trafficMatches,
} from './security-groups/rule-matches.ts';

const BASE = 'base';

/**
 * What the feature remembers per host model: the conj id index (conj-ids.ts) and which clause-1 and
 * remote-clause units have flows (live-units.ts). A full compile starts both afresh.
 */
interface ModelMemory {
  readonly conj: ConjIds;
  readonly clauses: UnitPairs;
  readonly members: UnitPairs;
}
const memories = new WeakMap<HostModel, ModelMemory>();

function memory(model: HostModel, fresh = false): ModelMemory {
  let m = memories.get(model);
  if (!m || fresh) {
    m = {
      conj: new ConjIds([...model.all('security_group_rule')].map((r) => r.id)),
      clauses: new UnitPairs(),
      members: new UnitPairs(),
    };
    memories.set(model, m);
  }
  return m;
}

/** The rule's conjunction: its id and how many clauses it has. */
function conjOf(s: CompileState, rule: SecurityGroupRuleView): ConjRef {
  const id = memory(s.model).conj.idOf(rule.id);
  const threeClauses = rule.remote_group_id !== null && trafficMatches(rule).length > 1;
  return { id, nClauses: threeClauses ? 3 : 2 };
}

/** The ofport of a port that is plugged here and filtered (port security on, not network-owned). */
function filteredOfport(s: CompileState, port: PortView | undefined): number | undefined {
  if (!port || isTrusted(port)) return undefined;
  return localOfport(s, port);
}

/** Drops flows whose key came earlier in the list (a unit may not produce a flow key twice). */
function unique(flows: Flow[]): Flow[] {
  const seen = new Set<string>();
  return flows.filter((f) => {
    const k = flowKey(f);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function compilePort(s: CompileState, portId: string): Flow[] {
  const port = s.model.get('port', portId);
  const ofport = localOfport(s, port);
  return ofport === undefined || !isTrusted(port!) ? [] : [unfilteredPortFlow(portId, ofport)];
}

function compilePortClause(s: CompileState, ruleId: string, portId: string): Flow[] {
  const flows = portClause(s, ruleId, portId);
  memory(s.model).clauses.set(ruleId, portId, flows.length > 0);
  return flows;
}

function portClause(s: CompileState, ruleId: string, portId: string): Flow[] {
  const rule = s.model.get('security_group_rule', ruleId);
  const port = s.model.get('port', portId);
  if (!rule || !port || !port.security_groups.includes(rule.security_group_id)) return [];
  const ofport = filteredOfport(s, port);
  if (ofport === undefined) return [];
  return [portClauseFlow(DIRECTIONS[rule.direction], portId, ofport, ethTypeOf(rule), conjOf(s, rule))];
}

function compileRule(s: CompileState, ruleId: string): Flow[] {
  const rule = s.model.get('security_group_rule', ruleId);
  if (!rule) return [];
  const d = DIRECTIONS[rule.direction];
  const conj = conjOf(s, rule);
  const out = [conjIdFlow(d, ruleId, conj.id, ethTypeOf(rule))];
  const traffic = trafficMatches(rule);
  if (rule.remote_group_id !== null) {
    // Two clauses: the member units carry traffic + address. Three: the traffic clause is here.
    if (conj.nClauses === 3) for (const m of traffic) out.push(clauseFlow(d, ruleId, m, conj, 2));
    return out;
  }
  const remote = remotePrefixMatch(rule);
  if (remote === undefined) return out;
  // The masked port values of a range are disjoint, so these flows never share a key.
  for (const m of traffic) out.push(clauseFlow(d, ruleId, { ...m, ...remote }, conj, 2));
  return out;
}

function compileMember(s: CompileState, ruleId: string, portId: string): Flow[] {
  const flows = memberClause(s, ruleId, portId);
  memory(s.model).members.set(ruleId, portId, flows.length > 0);
  return flows;
}

function memberClause(s: CompileState, ruleId: string, portId: string): Flow[] {
  const rule = s.model.get('security_group_rule', ruleId);
  const port = s.model.get('port', portId);
  if (!rule || rule.remote_group_id === null || !port || !port.security_groups.includes(rule.remote_group_id)) return [];
  const d = DIRECTIONS[rule.direction];
  const ethType = ethTypeOf(rule);
  const field = remoteField(rule.direction, ethType);
  const conj = conjOf(s, rule);
  const addresses = memberAddresses(port, ethType);
  const out: Flow[] = [];
  if (conj.nClauses === 3) {
    for (const a of addresses) out.push(clauseFlow(d, ruleId, { ethType, ...addressMatch(field, a) }, conj, 3));
  } else {
    for (const m of trafficMatches(rule)) {
      for (const a of addresses) out.push(clauseFlow(d, ruleId, { ...m, ...addressMatch(field, a) }, conj, 2));
    }
  }
  // Two spellings of one address ('10.0.0.5' and '10.0.0.5/32', a pair equal to a fixed IP) are one flow.
  return addresses.length > 1 ? unique(out) : out;
}

// --- which units exist, and which an event touches -------------------------------------------

const portUnit = (portId: string) => `port:${portId}`;
const clauseUnit = (ruleId: string, portId: string) => `c1:${ruleId}:${portId}`;
const ruleUnit = (ruleId: string) => `rule:${ruleId}`;
const memberUnit = (ruleId: string, portId: string) => `m:${ruleId}:${portId}`;

/** Ports of the group that are bound to this host and plugged (whichever set is smaller to scan). */
function* localMembers(s: CompileState, groupId: string): Generator<string> {
  const members = s.model.membersOfGroup(groupId);
  if (members.size <= s.bindings.size) {
    for (const id of members) if (localOfport(s, s.model.get('port', id)) !== undefined) yield id;
  } else {
    for (const id of s.bindings.keys()) {
      const port = s.model.get('port', id);
      if (port && port.security_groups.includes(groupId) && localOfport(s, port) !== undefined) yield id;
    }
  }
}

/** Every unit of a rule (for a rule event, or when its conj id moves), and those that have flows. */
function* unitsOfRule(s: CompileState, rule: SecurityGroupRuleView): Generator<string> {
  const mem = memory(s.model);
  yield ruleUnit(rule.id);
  for (const portId of localMembers(s, rule.security_group_id)) yield clauseUnit(rule.id, portId);
  for (const portId of [...mem.clauses.portsOf(rule.id)]) yield clauseUnit(rule.id, portId);
  if (rule.remote_group_id !== null) {
    for (const portId of s.model.membersOfGroup(rule.remote_group_id)) yield memberUnit(rule.id, portId);
  }
  for (const portId of [...mem.members.portsOf(rule.id)]) yield memberUnit(rule.id, portId);
}

/** Units of a local port: its clause 1 in every rule of its groups, and its ingress bypass. */
function* localPortUnits(s: CompileState, portId: string, groups: Iterable<string>): Generator<string> {
  yield portUnit(portId);
  for (const g of groups) for (const r of s.model.rulesOfGroup(g)) yield clauseUnit(r, portId);
  for (const r of [...memory(s.model).clauses.rulesOf(portId)]) yield clauseUnit(r, portId);
}

/** Units in which a port is a remote group member. */
function* memberUnits(s: CompileState, portId: string, groups: Iterable<string>): Generator<string> {
  for (const g of groups) for (const r of s.model.rulesReferencing(g)) yield memberUnit(r, portId);
  for (const r of [...memory(s.model).members.rulesOf(portId)]) yield memberUnit(r, portId);
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function* portAffected(s: CompileState, prev: PortView | undefined, next: PortView | undefined): Generator<string> {
  const id = (prev ?? next)!.id;
  const groups = new Set([...(prev?.security_groups ?? []), ...(next?.security_groups ?? [])]);
  const sameGroups = prev !== undefined && next !== undefined && same(prev.security_groups, next.security_groups);
  // Clause 1 and the ingress bypass depend on groups, binding host, and whether the port is filtered.
  const localChanged = !sameGroups || prev!['binding:host_id'] !== next!['binding:host_id'] ||
    isTrusted(prev!) !== isTrusted(next!);
  if (localChanged) yield* localPortUnits(s, id, groups);
  // Remote clauses depend on groups and addresses.
  const addressesChanged = !sameGroups || !same(prev!.fixed_ips, next!.fixed_ips) ||
    !same(prev!.allowed_address_pairs, next!.allowed_address_pairs);
  if (addressesChanged) yield* memberUnits(s, id, groups);
}

function* ruleAffected(s: CompileState, prev: SecurityGroupRuleView | undefined, next: SecurityGroupRuleView | undefined): Generator<string> {
  const ix = memory(s.model).conj;
  const id = (prev ?? next)!.id;
  if (next) ix.add(id);
  else ix.delete(id);
  if (prev) yield* unitsOfRule(s, prev);
  if (next) yield* unitsOfRule(s, next);
  // A collision of primary conj ids: the rules whose id moved need all their flows again.
  for (const other of ix.neighbours(id)) {
    const r = s.model.get('security_group_rule', other);
    if (r) yield* unitsOfRule(s, r);
  }
}

export const securityGroupsFeature: Feature = {
  name: 'security_groups',

  *units(s: CompileState): Iterable<string> {
    memory(s.model, true);
    yield BASE;
    for (const portId of s.bindings.keys()) {
      const port = s.model.get('port', portId);
      if (localOfport(s, port) !== undefined) yield* localPortUnits(s, portId, port!.security_groups);
    }
    for (const rule of s.model.all('security_group_rule')) {
      yield ruleUnit(rule.id);
      if (rule.remote_group_id !== null) {
        for (const portId of s.model.membersOfGroup(rule.remote_group_id)) yield memberUnit(rule.id, portId);
      }
    }
  },

  compile(s: CompileState, unit: string): readonly Flow[] {
    const [kind, a, b] = unit.split(':');
    switch (kind) {
      case 'base': return baseFlows();
      case 'port': return compilePort(s, a);
      case 'c1': return compilePortClause(s, a, b);
      case 'rule': return compileRule(s, a);
      case 'm': return compileMember(s, a, b);
      default: return [];
    }
  },

  *affected(s: CompileState, e: ModelEvent): Iterable<string> {
    if (e.type === 'binding') {
      const port = s.model.get('port', e.portId);
      if (port) yield* localPortUnits(s, port.id, port.security_groups);
      return;
    }
    if (e.kind === 'port') yield* portAffected(s, e.prev as PortView | undefined, e.next as PortView | undefined);
    else if (e.kind === 'security_group_rule') {
      yield* ruleAffected(s, e.prev as SecurityGroupRuleView | undefined, e.next as SecurityGroupRuleView | undefined);
    }
  },
};
