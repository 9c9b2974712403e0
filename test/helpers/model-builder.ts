// A host model for feature-compiler tests: documents with sensible defaults, bindings (plug/unplug)
// and the events each change produced, so a test can feed DesiredFlows.update() the same events the
// agent would see and compare with a full compile of a fresh model in the final state.
import type { ViewDocs, ViewKind } from '../../schemas/agent/view.ts';
import type { CompileState, HostConfig } from '../../agent/features/engine.ts';
import { HostModel, type BindingEvent, type ModelEvent } from '../../agent/model/host-model.ts';

export const HOST = 'host-a';

export function hostConfig(over: Partial<HostConfig> = {}): HostConfig {
  return {
    host: HOST, tunnelIp: '192.0.2.1', bridgeMappings: { physnet1: 'br-phys' }, tunnelOfport: 100,
    uplinks: { physnet1: 101 }, ...over,
  };
}

type Doc<K extends ViewKind> = ViewDocs[K];
type Init<K extends ViewKind> = Partial<Doc<K>>;

const DEFAULTS: { [K in ViewKind]: (id: string) => Doc<K> } = {
  network: (id) => ({
    id, project_id: 'p1', admin_state_up: true, mtu: 1450, 'provider:network_type': 'vxlan',
    'provider:physical_network': null, 'provider:segmentation_id': 100, 'router:external': false,
  }),
  subnet: (id) => ({
    id, network_id: 'net-1', ip_version: 4, cidr: '10.0.0.0/24', gateway_ip: '10.0.0.1', enable_dhcp: true,
    dns_nameservers: [], host_routes: [],
  }),
  port: (id) => ({
    id, network_id: 'net-1', admin_state_up: true, mac_address: 'fa:16:3e:00:00:01', fixed_ips: [],
    allowed_address_pairs: [], port_security_enabled: true, security_groups: [], device_owner: 'compute:nova',
    device_id: `vm-${id}`, 'binding:host_id': HOST,
  }),
  security_group: (id) => ({ id, project_id: 'p1' }),
  security_group_rule: (id) => ({
    id, security_group_id: 'sg-default', direction: 'ingress', ethertype: 'IPv4', protocol: null,
    port_range_min: null, port_range_max: null, normalized_cidr: null, remote_group_id: null,
  }),
  agent: (id) => ({ id, host: `host-${id}`, tunnel_ip: null }),
  router: (id) => ({ id, project_id: 'p1', admin_state_up: true, external_gateway_info: null, routes: [] }),
  floatingip: (id) => ({
    id, project_id: 'p1', floating_network_id: 'net-ext', floating_ip_address: '203.0.113.10', router_id: null,
    port_id: null, fixed_ip_address: null, port_forwardings: [],
  }),
  firewall_group: (id) => ({ id, admin_state_up: true, ports: [], ingress_firewall_policy_id: null, egress_firewall_policy_id: null }),
  firewall_policy: (id) => ({ id, firewall_rules: [] }),
  firewall_rule: (id) => ({
    id, enabled: true, ip_version: 4, protocol: null, source_ip_address: null, destination_ip_address: null,
    source_port: null, destination_port: null, action: 'deny',
  }),
};

export class ModelBuilder {
  readonly model: HostModel;
  readonly bindings = new Map<string, number>();
  private events: ModelEvent[] = [];

  constructor(readonly host: HostConfig = hostConfig()) {
    this.model = new HostModel(host.host);
  }

  get state(): CompileState {
    return { model: this.model, host: this.host, bindings: this.bindings };
  }

  /** Creates or replaces a document (defaults filled in, then `init`). */
  put<K extends ViewKind>(kind: K, id: string, init: Init<K> = {}): this {
    const doc = { ...DEFAULTS[kind](id), ...init, id } as Record<string, unknown>;
    const e = this.model.apply(kind, id, doc);
    if (e) this.events.push(e);
    return this;
  }

  /** Changes some fields of an existing document. */
  update<K extends ViewKind>(kind: K, id: string, change: Init<K>): this {
    const cur = this.model.get(kind, id);
    if (!cur) throw new Error(`no ${kind} ${id}`);
    const e = this.model.apply(kind, id, { ...cur, ...change, id } as Record<string, unknown>);
    if (e) this.events.push(e);
    return this;
  }

  remove(kind: ViewKind, id: string): this {
    const e = this.model.apply(kind, id, null);
    if (e) this.events.push(e);
    return this;
  }

  network(id: string, init: Init<'network'> = {}): this {
    return this.put('network', id, init);
  }

  port(id: string, init: Init<'port'> = {}): this {
    return this.put('port', id, init);
  }

  group(id: string, init: Init<'security_group'> = {}): this {
    return this.put('security_group', id, init);
  }

  rule(id: string, init: Init<'security_group_rule'> = {}): this {
    return this.put('security_group_rule', id, init);
  }

  /** Plugs a port here at this ofport (or moves it to another ofport). */
  plug(portId: string, ofport: number): this {
    const prev = this.bindings.get(portId);
    if (prev === ofport) return this;
    this.bindings.set(portId, ofport);
    this.events.push({ type: 'binding', portId, prev, next: ofport } satisfies BindingEvent);
    return this;
  }

  unplug(portId: string): this {
    const prev = this.bindings.get(portId);
    if (prev === undefined) return this;
    this.bindings.delete(portId);
    this.events.push({ type: 'binding', portId, prev, next: undefined } satisfies BindingEvent);
    return this;
  }

  /** The events since the last call. */
  takeEvents(): ModelEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }

  /** A fresh builder holding the same documents and bindings (no events): the "full compile" side. */
  clone(): ModelBuilder {
    const b = new ModelBuilder(this.host);
    for (const kind of Object.keys(DEFAULTS) as ViewKind[]) {
      for (const doc of this.model.all(kind)) b.model.apply(kind, doc.id, { ...doc } as Record<string, unknown>);
    }
    for (const [id, ofport] of this.bindings) b.bindings.set(id, ofport);
    return b;
  }
}
