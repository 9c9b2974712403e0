import type { ViewKind } from '../../schemas/agent/view.ts';
import type { Doc, ReadView } from '../store/types.ts';
import { gatewayHostsOf } from '../domain/l3-ha.ts';
import { portsOf } from './interest-firewall.ts';
import { routerOfRouterPort } from './interest-gateway-group.ts';
import { fipRouterOf, groupsOf, hostOf, networkOf, ruleGroupOf, type RouteSpace, type ViewCommit } from './interest.ts';
import type { RefCounts } from './ref-counts.ts';

// Which streaming sessions a commit can concern, found without looking at the others: an index
// from the keys a host's interest is counted by (interest.ts: the networks of its local ports, the
// groups they are members of, the remote groups of those groups' rules, the routers of its router
// ports, and the firewall chain of its router interface ports) to the sessions counting them, plus
// the host name itself (for its local ports, and the routers whose gateway group holds it:
// interest-gateway-group.ts; a router port reaches its router's group through the router).
//
// A change can alter a host's view or counts only if the document, as it was or as it is, names
// one of those keys (the rules per kind are in concerned() below; every agent is in every view, so
// an agent's change concerns everyone). Changes whose view fields did not change (a port's status,
// its name) alter nothing and are not looked at. The lookup is exact for the state before the
// commit, which is what HostInterest.apply starts from: a session not returned would have folded
// the commit in with no entry and no count change, so it is skipped. Each session's keys follow
// its counts: all of them when its interest is (re)built, the keys that flipped after each commit
// it folds in. A commit thus costs its size times the sessions it concerns, whatever the number of
// hosts it does not.

type Keyed<S> = Map<string, Set<S>>;

const SPACES: readonly RouteSpace[] = ['network', 'watched', 'remote', 'router', 'fwPort', 'fwGroup', 'fwPolicy', 'fwRule'];

interface Member {
  readonly host: string;
  /** The keys filed for this session, per space (what detach() removes). */
  readonly keys: Record<RouteSpace, Set<string>>;
}

export class CommitRouter<S> {
  private readonly hosts: Keyed<S> = new Map();
  private readonly index = Object.fromEntries(SPACES.map((s) => [s, new Map()])) as Record<RouteSpace, Keyed<S>>;
  private readonly members = new Map<S, Member>();

  /** Sessions filed (streaming). */
  get size(): number {
    return this.members.size;
  }

  /** File a session under its host and every key its interest counts (after a snapshot or resume). */
  attach(session: S, host: string, counters: ReadonlyArray<readonly [RouteSpace, RefCounts]>): void {
    this.detach(session);
    const member: Member = { host, keys: Object.fromEntries(SPACES.map((s) => [s, new Set()])) as Member['keys'] };
    this.members.set(session, member);
    add(this.hosts, host, session);
    for (const [space, counts] of counters) for (const key of counts.keys()) this.file(member, session, space, key);
  }

  /** After the session folded a commit in: file the keys that started being counted, drop those that stopped. */
  update(session: S, counters: ReadonlyArray<readonly [RouteSpace, RefCounts]>): void {
    const member = this.members.get(session);
    if (!member) return;
    for (const [space, counts] of counters) {
      for (const key of counts.flipped()) {
        if (counts.has(key)) this.file(member, session, space, key);
        else if (member.keys[space].delete(key)) remove(this.index[space], key, session);
      }
    }
  }

  /** Stop routing to the session (closed, fallen behind, or about to be rebuilt). */
  detach(session: S): void {
    const member = this.members.get(session);
    if (!member) return;
    this.members.delete(session);
    remove(this.hosts, member.host, session);
    for (const space of SPACES) for (const key of member.keys[space]) remove(this.index[space], key, session);
  }

  /** The sessions the commit may concern; `view` is the model after it (for routers' gateway groups). */
  route(commit: ViewCommit, view?: ReadView): Set<S> {
    const out = new Set<S>();
    for (const [kind, changes] of Object.entries(commit.changes) as Array<[ViewKind, ViewCommit['changes'][ViewKind]]>) {
      for (const c of changes.values()) {
        if (!c.viewChanged) continue;
        if (kind === 'agent') {
          for (const s of this.members.keys()) out.add(s);
          return out;
        }
        if (c.prev) this.concerned(kind, c.prev, out, view);
        if (c.doc) this.concerned(kind, c.doc, out, view);
      }
    }
    return out;
  }

  private concerned(kind: Exclude<ViewKind, 'agent'>, doc: Doc, out: Set<S>, view: ReadView | undefined): void {
    const by = (space: RouteSpace | 'host', key: string | undefined) => {
      if (key === undefined) return;
      const sessions = (space === 'host' ? this.hosts : this.index[space]).get(key);
      if (sessions) for (const s of sessions) out.add(s);
    };
    switch (kind) {
      case 'port':
        by('host', hostOf(doc));
        by('network', networkOf(doc));
        for (const g of groupsOf(doc)) by('remote', g);
        // The gateway group of its router, which carries its router ports: the router as it is
        // (a router changed by the same commit routes to its group before and after by itself).
        for (const h of gatewayHostsOf(routerOf(view, routerOfRouterPort(doc)))) by('host', h);
        return;
      case 'network':
        return by('network', doc.id);
      case 'subnet':
        return by('network', networkOf(doc));
      case 'security_group':
        by('watched', doc.id);
        return by('remote', doc.id);
      case 'security_group_rule':
        return by('watched', ruleGroupOf(doc));
      case 'router':
        by('router', doc.id);
        // The hosts of its gateway group: a host that joins it starts counting the router here.
        for (const h of gatewayHostsOf(doc)) by('host', h);
        return;
      case 'floatingip':
        return by('router', fipRouterOf(doc));
      case 'firewall_group':
        by('fwGroup', doc.id);
        for (const p of portsOf(doc)) by('fwPort', p);
        return;
      case 'firewall_policy':
        return by('fwPolicy', doc.id);
      case 'firewall_rule':
        return by('fwRule', doc.id);
    }
  }

  private file(member: Member, session: S, space: RouteSpace, key: string): void {
    if (member.keys[space].has(key)) return;
    member.keys[space].add(key);
    add(this.index[space], key, session);
  }
}

const routerOf = (view: ReadView | undefined, id: string | undefined) => (view && id !== undefined ? view.get('router', id) : undefined);

function add<S>(map: Keyed<S>, key: string, session: S): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(session);
}

function remove<S>(map: Keyed<S>, key: string, session: S): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(session);
  if (!set.size) map.delete(key);
}
