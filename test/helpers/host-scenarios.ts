// Host models for the feature compiler tests: document builders with Neutron-like defaults, a
// host (h0) with a tunnel port and two provider uplinks, and flow printing for goldens.
import type { ViewKind } from '../../schemas/agent/view.ts';
import { HostModel, type ModelEvent } from '../../agent/model/host-model.ts';
import type { CompileState, HostConfig } from '../../agent/features/engine.ts';
import { makeCookie } from '../../agent/pipeline/fields.ts';
import { renderFlow, type Flow } from '../../agent/pipeline/flow.ts';
import { tableId } from '../../agent/pipeline/tables.ts';

export const HOST = 'h0';
export const TUNNEL_OFPORT = 100;
export const UPLINKS = { physnet1: 101, physnet2: 102 } as const;

export const HOST_CONFIG: HostConfig = {
  host: HOST,
  tunnelIp: '192.168.0.10',
  bridgeMappings: { physnet1: 'br-p1', physnet2: 'br-p2' },
  tunnelOfport: TUNNEL_OFPORT,
  uplinks: UPLINKS,
};

type Raw = Record<string, unknown>;

export function networkDoc(id: string, over: Raw = {}): Raw {
  return {
    id, project_id: 'p1', admin_state_up: true, mtu: 1450, 'provider:network_type': 'vxlan',
    'provider:physical_network': null, 'provider:segmentation_id': 100, 'router:external': false, ...over,
  };
}

export function portDoc(id: string, network: string, mac: string, over: Raw = {}): Raw {
  return {
    id, network_id: network, admin_state_up: true, mac_address: mac, fixed_ips: [], allowed_address_pairs: [],
    port_security_enabled: true, security_groups: [], device_owner: 'compute:nova', device_id: `vm-${id}`,
    'binding:host_id': HOST, ...over,
  };
}

export const ip4 = (ip: string, subnet = 's4') => ({ subnet_id: subnet, ip_address: ip });

export function subnetDoc(id: string, network: string, cidr: string, over: Raw = {}): Raw {
  return {
    id, network_id: network, ip_version: cidr.includes(':') ? 6 : 4, cidr, gateway_ip: null, enable_dhcp: true,
    dns_nameservers: [], host_routes: [], ...over,
  };
}

export function agentDoc(id: string, host: string, tunnelIp: string | null): Raw {
  return { id, host, tunnel_ip: tunnelIp };
}

/** A host model plus its bindings, changed through methods that return the events. */
export class Scenario implements CompileState {
  readonly model = new HostModel(HOST);
  readonly bindings = new Map<string, number>();
  constructor(readonly host: HostConfig = HOST_CONFIG) {}

  doc(kind: ViewKind, id: string, raw: Raw | null): ModelEvent[] {
    const e = this.model.apply(kind, id, raw);
    return e ? [e] : [];
  }

  plug(portId: string, ofport: number | undefined): ModelEvent[] {
    const prev = this.bindings.get(portId);
    if (prev === ofport) return [];
    if (ofport === undefined) this.bindings.delete(portId);
    else this.bindings.set(portId, ofport);
    return [{ type: 'binding', portId, prev, next: ofport }];
  }
}

const TABLE_ORDER = (f: Flow) => tableId(f.table);

/** Flows in pipeline order (table, then priority high to low, then text): one renderFlow line each. */
export function flowLines(flows: Iterable<Flow>): string[] {
  return [...flows]
    .sort((a, b) => TABLE_ORDER(a) - TABLE_ORDER(b) || b.priority - a.priority || (renderFlow(a) < renderFlow(b) ? -1 : 1))
    .map(renderFlow);
}

/** Every flow with its cookie (feature, object), sorted: what incremental and full must agree on. */
export function flowsWithCookies(flows: Iterable<Flow>): string[] {
  return [...flows].map((f) => `${renderFlow(f)} cookie=0x${makeCookie(f.feature, 0, f.object).toString(16)}`).sort();
}
