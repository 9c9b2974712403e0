// The agent's copy of the model (the view the controller streams), with the indexes the feature
// compilers look things up by. Pure: no I/O. Every change comes back as a ModelEvent so that the
// compile engine can recompute only what the change touches.
import { VIEW_KINDS, VIEW_SCHEMAS, type ViewDocs, type ViewKind } from '../../schemas/agent/view.ts';

export interface DocEvent<K extends ViewKind = ViewKind> {
  readonly type: 'doc';
  readonly kind: K;
  readonly id: string;
  readonly prev: ViewDocs[K] | undefined;
  readonly next: ViewDocs[K] | undefined;
}

/** A local port was plugged (next = ofport), unplugged (next undefined) or moved to another ofport. */
export interface BindingEvent {
  readonly type: 'binding';
  readonly portId: string;
  readonly prev: number | undefined;
  readonly next: number | undefined;
}

export type ModelEvent = DocEvent | BindingEvent;

type Docs = { [K in ViewKind]: Map<string, ViewDocs[K]> };

/** Set-valued index: key -> ids. */
class MultiIndex {
  private readonly map = new Map<string, Set<string>>();
  add(key: string, id: string): void {
    let s = this.map.get(key);
    if (!s) this.map.set(key, (s = new Set()));
    s.add(id);
  }
  delete(key: string, id: string): void {
    const s = this.map.get(key);
    if (!s) return;
    s.delete(id);
    if (s.size === 0) this.map.delete(key);
  }
  get(key: string): ReadonlySet<string> {
    return this.map.get(key) ?? EMPTY;
  }
}
const EMPTY: ReadonlySet<string> = new Set();

export class HostModel {
  revision = 0;
  private readonly docs: Docs = Object.fromEntries(VIEW_KINDS.map((k) => [k, new Map()])) as unknown as Docs;
  private readonly portsByNetwork = new MultiIndex();
  /** `${network}\n${host}` -> port ids */
  private readonly portsByNetworkHost = new MultiIndex();
  private readonly hostsByNetworkCount = new Map<string, Map<string, number>>();
  private readonly portsByGroup = new MultiIndex();
  private readonly rulesByGroup = new MultiIndex();
  private readonly rulesByRemoteGroup = new MultiIndex();
  private readonly subnetsByNetwork = new MultiIndex();
  private readonly agentByHost = new Map<string, string>();
  private readonly portsByDevice = new MultiIndex();
  private readonly floatingIpsByRouter = new MultiIndex();
  private readonly firewallGroupsByPort = new MultiIndex();

  constructor(readonly host: string) {}

  get<K extends ViewKind>(kind: K, id: string): ViewDocs[K] | undefined {
    return this.docs[kind].get(id);
  }

  all<K extends ViewKind>(kind: K): IterableIterator<ViewDocs[K]> {
    return this.docs[kind].values();
  }

  count(kind: ViewKind): number {
    return this.docs[kind].size;
  }

  portsOfNetwork(networkId: string): ReadonlySet<string> {
    return this.portsByNetwork.get(networkId);
  }

  /** Ports of a network bound to a host. */
  portsOnHost(networkId: string, host: string): ReadonlySet<string> {
    return this.portsByNetworkHost.get(`${networkId}\n${host}`);
  }

  /** Hosts (other than none) with at least one port of the network. */
  hostsOfNetwork(networkId: string): IterableIterator<string> {
    return (this.hostsByNetworkCount.get(networkId) ?? new Map<string, number>()).keys();
  }

  membersOfGroup(groupId: string): ReadonlySet<string> {
    return this.portsByGroup.get(groupId);
  }

  rulesOfGroup(groupId: string): ReadonlySet<string> {
    return this.rulesByGroup.get(groupId);
  }

  /** Rules whose remote_group_id is this group. */
  rulesReferencing(groupId: string): ReadonlySet<string> {
    return this.rulesByRemoteGroup.get(groupId);
  }

  subnetsOfNetwork(networkId: string): ReadonlySet<string> {
    return this.subnetsByNetwork.get(networkId);
  }

  /** Ports whose device_id is this id (e.g. a router's interface and gateway ports). */
  portsOfDevice(deviceId: string): ReadonlySet<string> {
    return this.portsByDevice.get(deviceId);
  }

  /** Floating IPs whose router_id is this router. */
  floatingIpsOfRouter(routerId: string): ReadonlySet<string> {
    return this.floatingIpsByRouter.get(routerId);
  }

  /** Firewall groups whose `ports` hold this port (the API allows one; the index does not assume it). */
  firewallGroupsOfPort(portId: string): ReadonlySet<string> {
    return this.firewallGroupsByPort.get(portId);
  }

  agentOfHost(host: string): ViewDocs['agent'] | undefined {
    const id = this.agentByHost.get(host);
    return id === undefined ? undefined : this.docs.agent.get(id);
  }

  /** Parses and applies one document change; returns the event, or undefined if nothing changed. */
  apply(kind: ViewKind, id: string, raw: Record<string, unknown> | null): DocEvent | undefined {
    const next = raw === null ? undefined : (VIEW_SCHEMAS[kind].parse(raw) as ViewDocs[typeof kind]);
    const prev = this.docs[kind].get(id);
    if (prev === undefined && next === undefined) return undefined;
    if (prev !== undefined && next !== undefined && sameDoc(prev, next)) return undefined;
    if (prev) this.unindex(kind, prev);
    if (next) {
      this.docs[kind].set(id, next as never);
      this.index(kind, next);
    } else {
      this.docs[kind].delete(id);
    }
    return { type: 'doc', kind, id, prev, next } as DocEvent;
  }

  /** Replaces the whole model; returns the events that turn the old model into the new one. */
  replace(revision: number, docs: Partial<Record<ViewKind, readonly Record<string, unknown>[]>>): DocEvent[] {
    const events: DocEvent[] = [];
    for (const kind of VIEW_KINDS) {
      const incoming = new Map((docs[kind] ?? []).map((d) => [String(d.id), d]));
      for (const id of [...this.docs[kind].keys()]) {
        if (!incoming.has(id)) {
          const e = this.apply(kind, id, null);
          if (e) events.push(e);
        }
      }
      for (const [id, d] of incoming) {
        const e = this.apply(kind, id, d);
        if (e) events.push(e);
      }
    }
    this.revision = revision;
    return events;
  }

  private index(kind: ViewKind, doc: ViewDocs[ViewKind]): void {
    this.reindex(kind, doc, true);
  }

  private unindex(kind: ViewKind, doc: ViewDocs[ViewKind]): void {
    this.reindex(kind, doc, false);
  }

  private reindex(kind: ViewKind, doc: ViewDocs[ViewKind], add: boolean): void {
    const op = (ix: MultiIndex, key: string) => (add ? ix.add(key, doc.id) : ix.delete(key, doc.id));
    switch (kind) {
      case 'port': {
        const p = doc as ViewDocs['port'];
        op(this.portsByNetwork, p.network_id);
        for (const g of p.security_groups) op(this.portsByGroup, g);
        if (p.device_id) op(this.portsByDevice, p.device_id);
        const host = p['binding:host_id'];
        if (host) {
          op(this.portsByNetworkHost, `${p.network_id}\n${host}`);
          let hosts = this.hostsByNetworkCount.get(p.network_id);
          if (!hosts) this.hostsByNetworkCount.set(p.network_id, (hosts = new Map()));
          const n = (hosts.get(host) ?? 0) + (add ? 1 : -1);
          if (n > 0) hosts.set(host, n);
          else hosts.delete(host);
          if (hosts.size === 0) this.hostsByNetworkCount.delete(p.network_id);
        }
        break;
      }
      case 'security_group_rule': {
        const r = doc as ViewDocs['security_group_rule'];
        op(this.rulesByGroup, r.security_group_id);
        if (r.remote_group_id) op(this.rulesByRemoteGroup, r.remote_group_id);
        break;
      }
      case 'floatingip': {
        const f = doc as ViewDocs['floatingip'];
        if (f.router_id) op(this.floatingIpsByRouter, f.router_id);
        break;
      }
      case 'subnet':
        op(this.subnetsByNetwork, (doc as ViewDocs['subnet']).network_id);
        break;
      case 'firewall_group':
        for (const p of new Set((doc as ViewDocs['firewall_group']).ports)) op(this.firewallGroupsByPort, p);
        break;
      case 'agent': {
        const a = doc as ViewDocs['agent'];
        if (add) this.agentByHost.set(a.host, a.id);
        else if (this.agentByHost.get(a.host) === a.id) this.agentByHost.delete(a.host);
        break;
      }
      default:
        break;
    }
  }
}

function sameDoc(a: object, b: object): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
