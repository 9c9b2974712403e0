import { afterEach, expect } from 'vitest';
import type { TestApi } from '../../helpers/api.ts';
import type { Session, AgentLink } from '../../../controller/sync/session.ts';
import { SyncHub, type SyncHubOptions } from '../../../controller/sync/hub.ts';
import type { Doc, ReadView, Store } from '../../../controller/store/types.ts';
import { PROTOCOL_VERSION, controllerMessage, type ChangeEntry, type ControllerMessage, type ResumeState } from '../../../schemas/agent/channel.ts';
import { VIEW_KINDS, pickView, type ViewKind } from '../../../schemas/agent/view.ts';

// Per-host views without sockets: a SyncHub on a store, agents as in-memory links that fold what
// they receive (snapshot, then changes) into a map, and the host's view computed from scratch by
// the definition, to compare with.

/** `${kind}/${id}` -> the view document. */
export type Held = Map<string, Record<string, unknown>>;

const key = (kind: string, id: string) => `${kind}/${id}`;

/**
 * The host's interest, straight from the definition (full scans, no indexes, no increments):
 * its local ports; the networks of local ports and every port and subnet of those networks; the
 * groups of local ports and all their rules; for each such rule's remote group G, G itself and
 * every member port of G (not G's rules); every agent; every router with a router port (interface
 * or gateway) bound to the host, and every floating IP whose router_id is one of those routers;
 * the firewall groups holding a local router interface port, their ingress and egress policies,
 * and the rules those policies list. "Local" includes the router ports of an HA router whose
 * gateway group (gateway_hosts) holds the host.
 */
export function referenceView(view: ReadView, host: string): Held {
  const ports = view.list('port');
  const routerOwners = ['network:router_interface', 'network:router_interface_distributed', 'network:router_gateway'];
  // A standby gateway host of an HA router carries its router ports as if they were bound to it.
  const standbyOf = new Set(view.list('router').filter((r) => ((r.gateway_hosts as string[] | undefined) ?? []).includes(host)).map((r) => r.id));
  const local = ports.filter((p) => p['binding:host_id'] === host
    || (routerOwners.includes(p.device_owner as string) && standbyOf.has(p.device_id as string)));
  const networks = new Set(local.map((p) => p.network_id as string));
  const groups = new Set(local.flatMap((p) => (p.security_groups as string[] | undefined) ?? []));
  const rules = view.list('security_group_rule').filter((r) => groups.has(r.security_group_id as string));
  const remotes = new Set(rules.flatMap((r) => (r.remote_group_id ? [r.remote_group_id as string] : [])));
  const routers = new Set(local.flatMap((p) => (routerOwners.includes(p.device_owner as string) && p.device_id ? [p.device_id as string] : [])));
  const interfaceOwners = ['network:router_interface', 'network:router_interface_distributed'];
  const interfaces = new Set(local.filter((p) => interfaceOwners.includes(p.device_owner as string) && p.device_id).map((p) => p.id));
  const fwGroups = new Set(view.list('firewall_group').filter((g) => ((g.ports as string[]) ?? []).some((p) => interfaces.has(p))).map((g) => g.id));
  const fwPolicies = new Set([...fwGroups].flatMap((g) => {
    const doc = view.get('firewall_group', g)!;
    return [doc.ingress_firewall_policy_id, doc.egress_firewall_policy_id].filter((p): p is string => typeof p === 'string' && p !== '');
  }));
  const fwRules = new Set([...fwPolicies].flatMap((p) => (view.get('firewall_policy', p)?.firewall_rules as string[] | undefined) ?? []));
  const wanted: Record<ViewKind, (d: Doc) => boolean> = {
    network: (n) => networks.has(n.id),
    subnet: (s) => networks.has(s.network_id as string),
    port: (p) => local.includes(p) || networks.has(p.network_id as string)
      || ((p.security_groups as string[] | undefined) ?? []).some((g) => remotes.has(g)),
    security_group: (g) => groups.has(g.id) || remotes.has(g.id),
    security_group_rule: (r) => groups.has(r.security_group_id as string),
    agent: () => true,
    router: (r) => routers.has(r.id),
    floatingip: (f) => !!f.router_id && routers.has(f.router_id as string),
    firewall_group: (g) => fwGroups.has(g.id),
    firewall_policy: (p) => fwPolicies.has(p.id),
    firewall_rule: (r) => fwRules.has(r.id),
  };
  const out: Held = new Map();
  for (const kind of VIEW_KINDS) {
    for (const d of view.list(kind)) if (wanted[kind](d)) out.set(key(kind, d.id), pickView(kind, d));
  }
  return out;
}

/** Sorted entries, for readable comparisons. */
export const sorted = (held: Held): Array<[string, Record<string, unknown>]> => [...held].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** Ids of one kind an agent holds, sorted. */
export const idsOf = (held: Held, kind: ViewKind): string[] =>
  [...held.keys()].filter((k) => k.startsWith(`${kind}/`)).map((k) => k.slice(kind.length + 1)).sort();

/** An agent on the other end of an in-memory link: checks the protocol and folds what it gets. */
export class FoldingAgent implements AgentLink {
  readonly held: Held = new Map();
  /** The revision of the last message of the stream (snapshot, changes, revision). */
  revision = -1;
  agentId: string | undefined;
  snapshots = 0;
  /** Changes messages that resumed the stream (the first after a welcome, instead of a snapshot). */
  resumes = 0;
  /** Every changes message's entries, by revision. */
  readonly changes = new Map<number, ChangeEntry[]>();
  /** Revision messages received. */
  readonly revisions: number[] = [];
  /** Every message of the stream (snapshot, changes, revision), in order: to replay into a dataplane. */
  readonly stream: Array<Exclude<ControllerMessage, { type: 'welcome' | 'lostHosts' }>> = [];
  /** Hosts named by lostHosts messages, in order. */
  readonly lostHosts: string[] = [];
  bufferedAmount = 0;
  closed: { code: number; reason: string } | undefined;
  /** Protocol breaches seen (send() runs inside the store's commit listener, which swallows throws). */
  readonly errors: string[] = [];
  session!: Session;
  private welcomed = false;

  constructor(readonly host: string) {}

  send(text: string): void {
    try {
      this.receive(text);
    } catch (err) {
      this.errors.push(String(err));
    }
  }

  private receive(text: string): void {
    const msg = controllerMessage.parse(JSON.parse(text));
    if (msg.type === 'welcome') {
      this.agentId = msg.agentId;
      this.welcomed = true;
      return;
    }
    if (msg.type === 'lostHosts') {
      this.lostHosts.push(...msg.hosts);
      return;
    }
    this.stream.push(msg);
    if (msg.type === 'snapshot') {
      this.held.clear();
      for (const kind of VIEW_KINDS) for (const d of msg.docs[kind] ?? []) this.held.set(key(kind, String(d.id)), d);
      this.revision = msg.revision;
      this.snapshots++;
      this.welcomed = false;
      return;
    }
    // Each message follows the one before; skipped revisions are commits outside the view.
    expect(msg.since, `${this.host}: ${msg.type} since`).toBe(this.revision);
    if (this.welcomed) {
      expect(msg.type, `${this.host}: first message after the welcome`).toBe('changes');
      this.resumes++;
      this.welcomed = false;
    }
    this.revision = msg.revision;
    if (msg.type === 'revision') {
      this.revisions.push(msg.revision);
      return;
    }
    this.changes.set(msg.revision, msg.changes);
    // Every entry does something (no create of a held doc, no update or delete of one not held,
    // no update that changes nothing).
    for (const c of msg.changes) {
      const k = key(c.kind, c.id);
      const had = this.held.get(k);
      if (c.op === 'create') expect(had, `${this.host}: create of held ${k}`).toBeUndefined();
      else expect(had, `${this.host}: ${c.op} of ${k}, not held`).toBeDefined();
      if (c.op === 'update') expect(c.doc, `${this.host}: update of ${k} that changes nothing`).not.toEqual(had);
      if (c.op === 'delete') this.held.delete(k);
      else this.held.set(k, c.doc!);
    }
  }

  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }

  /** What this agent's hello offers to resume from. */
  resumeState(): ResumeState {
    const held: ResumeState['held'] = {};
    for (const k of this.held.keys()) {
      const [kind, id] = k.split('/') as [ViewKind, string];
      (held[kind] ??= []).push(id);
    }
    return { agentId: this.agentId!, revision: this.revision, held };
  }

  /** The agent's view equals the host's interest in the store's current model. */
  expectInStep(store: Store, what = '', snapshots = 1): void {
    expect(this.errors, `${this.host} ${what}: protocol`).toEqual([]);
    expect(this.closed, `${this.host} ${what}: closed`).toBeUndefined();
    // Another snapshot would be the session starting over after an inconsistency.
    expect(this.snapshots, `${this.host} ${what}: snapshots`).toBe(snapshots);
    expect(this.revision, `${this.host} ${what}: revision`).toBe(this.session.sentRevision);
    expect(this.revision, `${this.host} ${what}: revision`).toBeLessThanOrEqual(store.revision);
    expect(sorted(this.held), `${this.host} ${what}`).toEqual(sorted(referenceView(store.view(), this.host)));
  }
}

export const helloText = (host: string, resume?: ResumeState) =>
  JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, host, tunnelIp: '192.0.2.1', bridgeMappings: {}, datapath: 'netdev', ...(resume ? { resume } : {}) });

/** The test API and hub of a test file, both closed after each test (the test assigns them). */
export function closedAfterEach(): { api?: TestApi; hub?: SyncHub } {
  const held: { api?: TestApi; hub?: SyncHub } = {};
  afterEach(async () => {
    held.hub?.close();
    await held.api?.close();
    held.api = held.hub = undefined;
  });
  return held;
}

/** A hub on `store` (closed by the caller) with nothing listening on a network. */
export function hubOn(store: Store, options: Partial<SyncHubOptions> = {}): SyncHub {
  return new SyncHub({ store, heartbeatInterval: 60, downTime: 180, sendBufferLimit: 1 << 30, ...options });
}

/** Connects an agent for `host` and waits for its snapshot. */
export async function connect(hub: SyncHub, host: string): Promise<FoldingAgent> {
  const agent = new FoldingAgent(host);
  agent.session = hub.accept(agent);
  agent.session.receive(helloText(host));
  for (let i = 0; i < 100 && agent.snapshots === 0; i++) await new Promise((r) => setImmediate(r));
  if (agent.snapshots === 0) throw new Error(`no snapshot for ${host}`);
  return agent;
}

/**
 * Connects the same agent again (to `hub`, maybe another replica on the same store), offering what
 * it holds; resolves once the first message of the new stream (resume or snapshot) is in.
 */
export async function reconnect(hub: SyncHub, agent: FoldingAgent, offer = agent.resumeState()): Promise<void> {
  const before = agent.snapshots + agent.resumes;
  agent.session.onClosed();
  agent.closed = undefined; // a new connection
  agent.session = hub.accept(agent);
  agent.session.receive(helloText(agent.host, offer));
  for (let i = 0; i < 1000 && agent.snapshots + agent.resumes === before; i++) await new Promise((r) => setTimeout(r, 1));
  if (agent.snapshots + agent.resumes === before) throw new Error(`no snapshot or resume for ${agent.host}`);
}
