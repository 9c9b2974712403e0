import type { ChangeEntry } from '../../schemas/agent/channel.ts';
import { VIEW_KINDS, isViewKind, pickView, type ViewKind } from '../../schemas/agent/view.ts';
import type { Change, Doc, ReadView } from '../store/types.ts';
import { FirewallInterest } from './interest-firewall.ts';
import { carriedPorts, carries, sameGroup } from './interest-gateway-group.ts';
import { RefCounts } from './ref-counts.ts';

// Which part of the model one host's agent gets (DESIGN.md, data flow step 2), kept up to date
// commit by commit.
//
// Host H is interested in:
// - its local ports: every port with binding:host_id == H;
// - every network with a local port, and every port and subnet of those networks;
// - every security group of a local port ("watched" groups) and every rule of those groups;
// - for each such rule with a remote_group_id G: group G and every port that is a member of G
//   (their addresses are what a remote-group rule matches, whatever their network), but not
//   G's own rules unless G is also watched;
// - every agent (few, and they are the tunnel endpoints);
// - every router with a port (interface or gateway) bound to H: H is its gateway host (the
//   router's ports are local ports, so their networks come in as above), and every floating IP
//   whose router_id is such a router;
// - the firewall groups that hold one of its router interface ports, their policies and those
//   policies' rules (interest-firewall.ts);
// - for an HA router whose gateway group holds H as a standby, all of the above as if its router
//   ports were bound to H (interest-gateway-group.ts): "local" below means carried by H.
//
// The interest is derived from the model, so one commit can widen or narrow it. HostInterest
// keeps it as reference counts (local ports per network, local port memberships per group, rules
// of watched groups per remote group) plus the ids the agent holds, and folds each commit in
// incrementally: it updates the counts from the changed documents, notes which keys started or
// stopped being counted, enumerates only those keys' documents through the store's indexes, and
// compares each candidate's membership now with what the agent holds. A commit costs
// O(changed documents + documents entering or leaving the view), never a scan of the model.

/** One changed document of a view kind, prepared once per commit and shared by every session. */
export interface ViewChange {
  readonly kind: ViewKind;
  readonly id: string;
  readonly prev: Doc | null;
  readonly doc: Doc | null;
  /** pickView(doc), or null for a delete. */
  readonly view: Record<string, unknown> | null;
  /** Whether the agent's view of the document differs from before (always for create/delete). */
  readonly viewChanged: boolean;
}

/** A commit's changes of view kinds, by kind and id (a commit changes a document at most once). */
export interface ViewCommit {
  readonly revision: number;
  readonly size: number;
  readonly changes: { readonly [K in ViewKind]: ReadonlyMap<string, ViewChange> };
}

const byKind = <T>(make: () => T): Record<ViewKind, T> =>
  Object.fromEntries(VIEW_KINDS.map((k) => [k, make()])) as Record<ViewKind, T>;

export function viewCommit(changes: readonly Change[], revision: number): ViewCommit {
  const out = byKind(() => new Map<string, ViewChange>());
  let size = 0;
  for (const c of changes) {
    if (!isViewKind(c.kind)) continue;
    const view = c.doc ? pickView(c.kind, c.doc) : null;
    const viewChanged = !view || !c.prev || JSON.stringify(view) !== JSON.stringify(pickView(c.kind, c.prev));
    out[c.kind].set(c.id, { kind: c.kind, id: c.id, prev: c.prev, doc: c.doc, view, viewChanged });
    size++;
  }
  return { revision, size, changes: out };
}

/** Device owners of the ports that place a router on a host (see domain/l3-scheduler.ts). */
export const ROUTER_PORT_OWNERS: ReadonlySet<string> = new Set([
  'network:router_interface', 'network:router_interface_distributed', 'network:router_gateway',
]);

// Field access that tolerates documents written straight to the store (tests, old rows).
export const hostOf = (port: Doc): string => (port['binding:host_id'] as string | undefined) || '';
export const networkOf = (d: Doc): string => d.network_id as string;
export const groupsOf = (port: Doc): readonly string[] => (Array.isArray(port.security_groups) ? (port.security_groups as string[]) : []);
export const ruleGroupOf = (rule: Doc): string => rule.security_group_id as string;
const remoteOf = (rule: Doc): string | undefined => (rule.remote_group_id as string | null | undefined) ?? undefined;
/** The router a port belongs to, if it is a router port. */
const routerOfPort = (port: Doc): string | undefined =>
  ROUTER_PORT_OWNERS.has(port.device_owner as string) && port.device_id ? (port.device_id as string) : undefined;
export const fipRouterOf = (fip: Doc): string | undefined => (fip.router_id as string | null | undefined) || undefined;

/**
 * The keys a host's interest is counted by, named for commit routing (routing.ts): a document
 * enters or leaves the view, or the counts change, only through a change that names one of them.
 */
export type RouteSpace = 'network' | 'watched' | 'remote' | 'router' | 'fwPort' | 'fwGroup' | 'fwPolicy' | 'fwRule';

export type ViewDocsByKind = Record<ViewKind, Record<string, unknown>[]>;

export class HostInterest {
  /** Network id -> local ports on it. */
  readonly networks = new RefCounts();
  /** Group id -> local ports that are members ("watched" groups). */
  readonly groups = new RefCounts();
  /** Group id -> rules of watched groups that name it as remote_group_id. */
  readonly remotes = new RefCounts();
  /** Router id -> its ports bound to this host. */
  readonly routers = new RefCounts();
  /** Firewall groups, policies and rules of the local router interface ports. */
  readonly firewall = new FirewallInterest();
  /** What the agent holds, by kind. */
  private readonly held = byKind(() => new Set<string>());

  constructor(readonly host: string) {}

  /** Every reference count, by the routing space of its keys. */
  counters(): ReadonlyArray<readonly [RouteSpace, RefCounts]> {
    const f = this.firewall;
    return [
      ['network', this.networks], ['watched', this.groups], ['remote', this.remotes], ['router', this.routers],
      ['fwPort', f.ports], ['fwGroup', f.groups], ['fwPolicy', f.policies], ['fwRule', f.rules],
    ];
  }

  /** How many documents of each kind the agent holds. */
  heldCounts(): Record<ViewKind, number> {
    return Object.fromEntries(VIEW_KINDS.map((k) => [k, this.held[k].size])) as Record<ViewKind, number>;
  }

  /** Start over from the model: the host's view of it, every kind present (maybe empty). */
  snapshot(view: ReadView): ViewDocsByKind {
    for (const c of [this.networks, this.groups, this.remotes, this.routers]) c.clear();
    this.firewall.clear();
    for (const kind of VIEW_KINDS) this.held[kind].clear();
    const locals = carriedPorts(view, this.host);
    for (const p of locals) this.countLocal(p, 1);
    for (const g of this.groups.keys()) {
      for (const r of view.find('security_group_rule', 'security_group_id', g)) {
        const remote = remoteOf(r);
        if (remote !== undefined) this.remotes.add(remote, 1);
      }
    }
    const ids = byKind(() => new Set<string>());
    for (const p of locals) ids.port.add(p.id);
    this.networksInto(ids, this.networks.keys(), view);
    this.groupsInto(ids, this.groups.keys(), view);
    this.remotesInto(ids, this.remotes.keys(), view);
    this.routersInto(ids, this.routers.keys(), view);
    this.firewall.snapshot(view, ids);
    for (const a of view.list('agent')) ids.agent.add(a.id);
    for (const c of [this.networks, this.groups, this.remotes, this.routers]) c.begin();
    this.firewall.begin();
    const docs = byKind((): Record<string, unknown>[] => []);
    for (const kind of VIEW_KINDS) {
      for (const id of ids[kind]) {
        const doc = view.get(kind, id);
        if (!doc || !this.wants(kind, doc)) continue;
        this.held[kind].add(id);
        docs[kind].push(pickView(kind, doc));
      }
    }
    return docs;
  }

  /**
   * Folds one commit in; `view` is the model after it. Returns what the agent must do: create
   * what enters its view, update what changed inside it, delete what leaves it.
   */
  apply(commit: ViewCommit, view: ReadView): ChangeEntry[] {
    if (commit.size === 0) return [];
    const { networks, groups, remotes, routers } = this;
    for (const c of [networks, groups, remotes, routers]) c.begin();
    this.firewall.begin();
    const changed = commit.changes;
    // 1. Local (carried) ports: the networks, groups and routers they bring. A port counts as it
    // was with its router as it was, and as it is with its router as it is; the unchanged router
    // ports of a router whose gateway group changed count again too.
    const host = this.host;
    const routerNow = (id: string) => view.get('router', id);
    const routerBefore = (id: string) => {
      const c = changed.router.get(id);
      return c ? c.prev : view.get('router', id);
    };
    for (const c of changed.port.values()) {
      if (c.prev && carries(host, c.prev, routerBefore)) this.countLocal(c.prev, -1);
      if (c.doc && carries(host, c.doc, routerNow)) this.countLocal(c.doc, 1);
    }
    for (const c of changed.router.values()) {
      if (sameGroup(c.prev, c.doc)) continue;
      for (const p of view.find('port', 'device_id', c.id)) {
        if (changed.port.has(p.id)) continue;
        const was = carries(host, p, routerBefore);
        const is = carries(host, p, routerNow);
        if (was !== is) this.countLocal(p, is ? 1 : -1);
      }
    }
    // 2. Rules of watched groups: the remote groups they bring. A changed rule counts as it was
    // (with the group watched as it was) and as it is; an unchanged rule of a group that started
    // or stopped being watched starts or stops counting.
    for (const c of changed.security_group_rule.values()) {
      const was = c.prev ? remoteOf(c.prev) : undefined;
      if (was !== undefined && groups.was(ruleGroupOf(c.prev!))) remotes.add(was, -1);
      const is = c.doc ? remoteOf(c.doc) : undefined;
      if (is !== undefined && groups.has(ruleGroupOf(c.doc!))) remotes.add(is, 1);
    }
    const flippedGroups = groups.flipped();
    for (const g of flippedGroups) {
      const delta = groups.has(g) ? 1 : -1;
      for (const r of view.find('security_group_rule', 'security_group_id', g)) {
        if (changed.security_group_rule.has(r.id)) continue;
        const remote = remoteOf(r);
        if (remote !== undefined) remotes.add(remote, delta);
      }
    }
    // 3. Candidates: the changed documents, and the documents of every key that flipped.
    const candidates = byKind(() => new Set<string>());
    for (const kind of VIEW_KINDS) for (const id of changed[kind].keys()) candidates[kind].add(id);
    this.networksInto(candidates, networks.flipped(), view);
    this.groupsInto(candidates, flippedGroups, view);
    this.remotesInto(candidates, remotes.flipped(), view);
    this.routersInto(candidates, routers.flipped(), view);
    this.firewall.apply(changed, view, candidates);
    // 4. Membership now against what the agent holds.
    const entries: ChangeEntry[] = [];
    for (const kind of VIEW_KINDS) {
      const held = this.held[kind];
      for (const id of candidates[kind]) {
        const doc = view.get(kind, id);
        const c = changed[kind].get(id);
        if (doc && this.wants(kind, doc)) {
          if (!held.has(id)) {
            held.add(id);
            entries.push({ kind, id, op: 'create', doc: c?.view ?? pickView(kind, doc) });
          } else if (c?.viewChanged) {
            entries.push({ kind, id, op: 'update', doc: c.view });
          }
        } else if (held.delete(id)) {
          entries.push({ kind, id, op: 'delete', doc: null });
        }
      }
    }
    return entries;
  }

  /** Whether the host is interested in this document, given the current counts. */
  wants(kind: ViewKind, doc: Doc): boolean {
    switch (kind) {
      case 'network':
        return this.networks.has(doc.id);
      case 'subnet':
        return this.networks.has(networkOf(doc));
      case 'port':
        return hostOf(doc) === this.host || this.networks.has(networkOf(doc)) || groupsOf(doc).some((g) => this.remotes.has(g));
      case 'security_group':
        return this.groups.has(doc.id) || this.remotes.has(doc.id);
      case 'security_group_rule':
        return this.groups.has(ruleGroupOf(doc));
      case 'agent':
        return true;
      case 'router':
        return this.routers.has(doc.id);
      case 'floatingip': {
        const router = fipRouterOf(doc);
        return router !== undefined && this.routers.has(router);
      }
      case 'firewall_group':
      case 'firewall_policy':
      case 'firewall_rule':
        return this.firewall.wants(kind, doc);
    }
  }

  private countLocal(port: Doc, delta: number): void {
    this.networks.add(networkOf(port), delta);
    for (const g of new Set(groupsOf(port))) this.groups.add(g, delta);
    const router = routerOfPort(port);
    if (router !== undefined) this.routers.add(router, delta);
    this.firewall.countLocal(port, delta);
  }

  private networksInto(ids: Record<ViewKind, Set<string>>, networks: Iterable<string>, view: ReadView): void {
    for (const n of networks) {
      ids.network.add(n);
      for (const s of view.find('subnet', 'network_id', n)) ids.subnet.add(s.id);
      for (const p of view.find('port', 'network_id', n)) ids.port.add(p.id);
    }
  }

  private groupsInto(ids: Record<ViewKind, Set<string>>, groups: Iterable<string>, view: ReadView): void {
    for (const g of groups) {
      ids.security_group.add(g);
      for (const r of view.find('security_group_rule', 'security_group_id', g)) ids.security_group_rule.add(r.id);
    }
  }

  private routersInto(ids: Record<ViewKind, Set<string>>, routers: Iterable<string>, view: ReadView): void {
    for (const r of routers) {
      ids.router.add(r);
      for (const f of view.find('floatingip', 'router_id', r)) ids.floatingip.add(f.id);
    }
  }

  private remotesInto(ids: Record<ViewKind, Set<string>>, remotes: Iterable<string>, view: ReadView): void {
    for (const g of remotes) {
      ids.security_group.add(g);
      for (const p of view.find('port', 'security_group', g)) ids.port.add(p.id);
    }
  }
}
