// The L3 manager tests' fixtures: a host model with one router (R) and its legs, and fake ops.
import { L3Manager, type L3Ops, type L3Status } from '../../../agent/l3/manager.ts';
import { HostModel } from '../../../agent/model/host-model.ts';
import type { RouterSpec } from '../../../agent/l3/namespace.ts';

export const HOST = 'gw1';
export const R = 'r0000000-aaaa-bbbb-cccc-000000000001';

export function net(id: string, mtu: number, external = false) {
  return {
    id, project_id: 'p', admin_state_up: true, mtu, 'provider:network_type': 'vxlan',
    'provider:physical_network': null, 'provider:segmentation_id': 100, 'router:external': external,
  };
}
export function subnet(id: string, network_id: string, cidr: string, gateway_ip: string | null, ip_version: 4 | 6 = 4) {
  return { id, network_id, ip_version, cidr, gateway_ip, enable_dhcp: true, dns_nameservers: [], host_routes: [] };
}
export function port(id: string, network_id: string, owner: string, device_id: string, ips: [string, string][], host = HOST, mac = 'fa:16:3e:00:00:01') {
  return {
    id, network_id, admin_state_up: true, mac_address: mac,
    fixed_ips: ips.map(([subnet_id, ip_address]) => ({ subnet_id, ip_address })),
    allowed_address_pairs: [], port_security_enabled: false, security_groups: [],
    device_owner: owner, device_id, 'binding:host_id': host,
  };
}
export function router(id: string, over: Record<string, unknown> = {}) {
  return {
    id, project_id: 'p', admin_state_up: true,
    external_gateway_info: { network_id: 'ext', enable_snat: true, external_fixed_ips: [{ subnet_id: 'ext-v4', ip_address: '203.0.113.10' }] },
    routes: [{ destination: '10.50.0.0/16', nexthop: '10.0.0.254' }],
    ...over,
  };
}
export function fip(id: string, address: string, fixed: string | null, router_id: string | null = R) {
  return {
    id, project_id: 'p', floating_network_id: 'ext', floating_ip_address: address,
    router_id, port_id: fixed ? `vm-${fixed}` : null, fixed_ip_address: fixed,
  };
}

export function baseDocs() {
  return {
    network: [net('ext', 1500, true), net('n1', 1450), net('n2', 1400)],
    subnet: [
      subnet('ext-v4', 'ext', '203.0.113.0/24', '203.0.113.1'),
      subnet('n1-v4', 'n1', '10.0.0.0/24', '10.0.0.1'),
      subnet('n1-v6', 'n1', 'fd00:1::/64', 'fd00:1::1', 6),
      subnet('n2-v4', 'n2', '10.0.1.0/24', '10.0.1.1'),
    ],
    port: [
      port('qr1-port-0001', 'n1', 'network:router_interface', R, [['n1-v4', '10.0.0.1'], ['n1-v6', 'fd00:1::1']], HOST, 'fa:16:3e:00:00:11'),
      port('qr2-port-0002', 'n2', 'network:router_interface', R, [['n2-v4', '10.0.1.1']], HOST, 'fa:16:3e:00:00:12'),
      port('qg0-port-0003', 'ext', 'network:router_gateway', R, [['ext-v4', '203.0.113.10']], HOST, 'fa:16:3e:00:00:13'),
      port('vm-port-00004', 'n1', 'compute:nova', 'vm1', [['n1-v4', '10.0.0.5']], 'compute1'),
    ],
    router: [router(R)],
    floatingip: [fip('f1', '203.0.113.50', '10.0.0.5'), fip('f2', '203.0.113.51', null), fip('f3', '203.0.113.52', '10.0.0.6', 'other-router')],
  };
}

/** The base documents plus a second router R2 with one leg on this host and no gateway. */
export const R2 = 'r2';
export function twoRouterDocs() {
  const docs = baseDocs();
  docs.router.push(router(R2, { external_gateway_info: null, routes: [] }));
  docs.port.push(port('r2-if-000001', 'n2', 'network:router_interface', R2, [['n2-v4', '10.0.1.2']]));
  return docs;
}

export function model(docs = baseDocs()): HostModel {
  const m = new HostModel(HOST);
  m.replace(1, docs);
  return m;
}

/** The gateway interface of router R in the fixtures. */
export const QG = 'qg-qg0-port-00';

export class FakeOps implements L3Ops {
  calls: string[] = [];
  namespaces = new Set<string>();
  failEnsure = new Set<string>();
  gate: Promise<void> | undefined;
  async ensure(spec: RouterSpec): Promise<void> {
    if (this.gate) await this.gate;
    this.calls.push(`ensure ${spec.routerId}`);
    if (this.failEnsure.has(spec.routerId)) throw new Error('boom');
    this.namespaces.add(spec.routerId);
  }
  async applyRules(netns: string): Promise<void> {
    this.calls.push(`rules ${netns}`);
  }
  async nft(netns: string, line: string): Promise<void> {
    this.calls.push(`nft ${netns} ${line.startsWith('add table') ? 'table+maps' : 'maps'}`);
  }
  releaseNft(netns: string): void {
    this.calls.push(`release ${netns}`);
  }
  async remove(id: string): Promise<void> {
    this.calls.push(`remove ${id}`);
    this.namespaces.delete(id);
  }
  async list(): Promise<string[]> {
    return [...this.namespaces].sort();
  }
  async conntrack(netns: string, args: string[]): Promise<void> {
    this.calls.push(`conntrack ${netns} ${args.join(' ')}`);
  }
  async announce(netns: string, iface: string, ip: string): Promise<void> {
    this.calls.push(`announce ${netns} ${iface} ${ip}`);
  }
}

export function manager(ops: FakeOps): { l3: L3Manager; events: L3Status[] } {
  const l3 = new L3Manager({ host: HOST, ops, retryMs: 0, aftermathDelayMs: 0 });
  const events: L3Status[] = [];
  l3.on('status', (s) => events.push(s));
  return { l3, events };
}
