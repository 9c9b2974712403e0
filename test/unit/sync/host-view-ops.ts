import fc from 'fast-check';
import type { Tx } from '../../../controller/store/types.ts';

// Random model histories for the host-view tests: small pools of ids (so that operations collide),
// three hosts, and every kind of change that moves a host's interest.

export const HOSTS = ['h0', 'h1', 'h2'];
const N = { network: 4, subnet: 6, port: 12, group: 4, rule: 10, agent: 2, router: 3, fip: 5, fwg: 3, fwp: 2, fwr: 3 };
/** Firewall groups hold ports among the first few, which 'rif' makes router interfaces (so groups often matter). */
const FW_PORTS = 4;
const OWNERS = ['compute:nova', 'network:router_interface', 'network:router_interface_distributed', 'network:router_gateway', 'network:dhcp'];

export type Op =
  | { k: 'network'; i: number; del: boolean; mtu: number }
  | { k: 'subnet'; i: number; del: boolean; net: number; dhcp: boolean }
  | { k: 'port'; i: number; del: boolean; net: number; host: number; groups: number[]; admin: boolean; name: string }
  | { k: 'move'; i: number; host: number }
  | { k: 'regroup'; i: number; groups: number[] }
  | { k: 'rename'; i: number; name: string }
  | { k: 'group'; i: number; del: boolean; project: string }
  | { k: 'rule'; i: number; del: boolean; group: number; remote: number | null; protocol: string | null }
  | { k: 'agent'; i: number; del: boolean; tunnel: string | null }
  | { k: 'attach'; i: number; owner: number; router: number }
  | { k: 'router'; i: number; del: boolean; gw: number | null; routes: boolean; group: string[] | null }
  | { k: 'fip'; i: number; del: boolean; router: number | null; port: number | null }
  | { k: 'rif'; i: number; router: number; host: number }
  | { k: 'fwg'; i: number; del: boolean; ports: number[]; ingress: number | null; egress: number | null; admin: boolean }
  | { k: 'fwp'; i: number; del: boolean; rules: number[] }
  | { k: 'fwr'; i: number; del: boolean; enabled: boolean; action: 'allow' | 'deny' | 'reject' };

const idx = (n: number) => fc.nat({ max: n - 1 });
const host = fc.nat({ max: HOSTS.length }); // HOSTS.length = unbound
const groups = fc.uniqueArray(idx(N.group), { maxLength: 3 });

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ k: fc.constant('network' as const), i: idx(N.network), del: fc.boolean(), mtu: fc.constantFrom(1450, 1500) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('subnet' as const), i: idx(N.subnet), del: fc.boolean(), net: idx(N.network), dhcp: fc.boolean() }) },
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant('port' as const), i: idx(N.port), del: fc.boolean(), net: idx(N.network), host, groups, admin: fc.boolean(),
      name: fc.constantFrom('a', 'b'),
    }),
  },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('move' as const), i: idx(N.port), host }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('regroup' as const), i: idx(N.port), groups }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('rename' as const), i: idx(N.port), name: fc.constantFrom('x', 'y') }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('group' as const), i: idx(N.group), del: fc.boolean(), project: fc.constantFrom('p', 'q') }) },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('rule' as const), i: idx(N.rule), del: fc.boolean(), group: idx(N.group),
      remote: fc.option(idx(N.group), { nil: null }), protocol: fc.constantFrom(null, 'tcp'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('agent' as const), i: idx(N.agent), del: fc.boolean(), tunnel: fc.constantFrom(null, '192.0.2.7') }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('attach' as const), i: idx(N.port), owner: idx(OWNERS.length), router: idx(N.router) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('router' as const), i: idx(N.router), del: fc.boolean(), gw: fc.option(idx(N.network), { nil: null }), routes: fc.boolean(),
      // An HA router's gateway group (its standbys see it as if its router ports were theirs).
      group: fc.option(fc.shuffledSubarray(HOSTS), { nil: null }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('fip' as const), i: idx(N.fip), del: fc.boolean(), router: fc.option(idx(N.router), { nil: null }),
      port: fc.option(idx(N.port), { nil: null }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('rif' as const), i: idx(FW_PORTS), router: idx(N.router), host }) },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('fwg' as const), i: idx(N.fwg), del: fc.boolean(), ports: fc.uniqueArray(idx(FW_PORTS), { maxLength: 3 }),
      ingress: fc.option(idx(N.fwp), { nil: null }), egress: fc.option(idx(N.fwp), { nil: null }), admin: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ k: fc.constant('fwp' as const), i: idx(N.fwp), del: fc.boolean(), rules: fc.uniqueArray(idx(N.fwr), { maxLength: 3 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('fwr' as const), i: idx(N.fwr), del: fc.boolean(), enabled: fc.boolean(), action: fc.constantFrom('allow' as const, 'deny' as const, 'reject' as const),
    }),
  },
);

const id = (kind: string, i: number) => `${kind}-${i}`;

export function apply(tx: Tx, op: Op): void {
  switch (op.k) {
    case 'network':
      if (op.del) return tx.remove('network', id('net', op.i));
      return tx.put('network', {
        id: id('net', op.i), project_id: 'p', name: 'n', admin_state_up: true, mtu: op.mtu, 'provider:network_type': 'vxlan',
        'provider:physical_network': null, 'provider:segmentation_id': 100 + op.i, 'router:external': false,
      });
    case 'subnet':
      if (op.del) return tx.remove('subnet', id('subnet', op.i));
      return tx.put('subnet', {
        id: id('subnet', op.i), network_id: id('net', op.net), ip_version: 4, cidr: `10.${op.i}.0.0/24`, gateway_ip: null,
        enable_dhcp: op.dhcp, dns_nameservers: [], host_routes: [],
      });
    case 'port':
      if (op.del) return tx.remove('port', id('port', op.i));
      return tx.put('port', {
        id: id('port', op.i), network_id: id('net', op.net), name: op.name, status: 'DOWN', admin_state_up: op.admin,
        mac_address: `fa:16:3e:00:00:${op.i.toString(16).padStart(2, '0')}`, fixed_ips: [{ subnet_id: id('subnet', 0), ip_address: `10.0.0.${op.i + 2}` }],
        allowed_address_pairs: [], port_security_enabled: true, security_groups: op.groups.map((g) => id('sg', g)),
        device_owner: 'compute:nova', device_id: '', 'binding:host_id': HOSTS[op.host] ?? '',
      });
    case 'move':
    case 'regroup':
    case 'rename': {
      const port = tx.get('port', id('port', op.i));
      if (!port) return;
      const patch = op.k === 'move' ? { 'binding:host_id': HOSTS[op.host] ?? '' }
        : op.k === 'regroup' ? { security_groups: op.groups.map((g) => id('sg', g)) } : { name: op.name };
      return tx.put('port', { ...port, ...patch });
    }
    case 'group':
      if (op.del) return tx.remove('security_group', id('sg', op.i));
      return tx.put('security_group', { id: id('sg', op.i), project_id: op.project, name: 'g' });
    case 'rule':
      if (op.del) return tx.remove('security_group_rule', id('rule', op.i));
      return tx.put('security_group_rule', {
        id: id('rule', op.i), security_group_id: id('sg', op.group), direction: 'ingress', ethertype: 'IPv4', protocol: op.protocol,
        port_range_min: null, port_range_max: null, normalized_cidr: null, remote_group_id: op.remote === null ? null : id('sg', op.remote),
      });
    case 'agent':
      if (op.del) return tx.remove('agent', id('agent', op.i));
      return tx.put('agent', { id: id('agent', op.i), host: `other-${op.i}`, tunnel_ip: op.tunnel });
    case 'attach': {
      // Makes a port a router's interface or gateway port (or a plain port again).
      const port = tx.get('port', id('port', op.i));
      if (!port) return;
      const owner = OWNERS[op.owner];
      return tx.put('port', { ...port, device_owner: owner, device_id: owner.startsWith('network:router') ? id('router', op.router) : '' });
    }
    case 'router':
      if (op.del) return tx.remove('router', id('router', op.i));
      return tx.put('router', {
        id: id('router', op.i), project_id: 'p', name: 'r', admin_state_up: true, status: 'ACTIVE',
        external_gateway_info: op.gw === null ? null
          : { network_id: id('net', op.gw), enable_snat: true, external_fixed_ips: [{ subnet_id: id('subnet', 0), ip_address: `198.51.100.${op.i + 2}` }] },
        routes: op.routes ? [{ destination: '10.9.0.0/16', nexthop: '10.0.0.9' }] : [],
        ...(op.group ? { ha: true, gateway_hosts: op.group } : {}),
      });
    case 'fip':
      if (op.del) return tx.remove('floatingip', id('fip', op.i));
      return tx.put('floatingip', {
        id: id('fip', op.i), project_id: 'p', status: 'DOWN', floating_network_id: id('net', 0), floating_ip_address: `203.0.113.${op.i + 2}`,
        router_id: op.router === null ? null : id('router', op.router), port_id: op.port === null ? null : id('port', op.port),
        fixed_ip_address: op.port === null ? null : `10.0.0.${op.port + 2}`,
      });
    case 'rif': {
      // A router interface port (made if missing) bound to a host or unbound: what firewall groups hold.
      const port = tx.get('port', id('port', op.i)) ?? {
        id: id('port', op.i), network_id: id('net', 0), name: 'r', status: 'DOWN', admin_state_up: true, mac_address: `fa:16:3e:00:01:0${op.i}`,
        fixed_ips: [], allowed_address_pairs: [], port_security_enabled: false, security_groups: [],
      };
      return tx.put('port', { ...port, device_owner: 'network:router_interface', device_id: id('router', op.router), 'binding:host_id': HOSTS[op.host] ?? '' });
    }
    // Firewall documents as the store holds them (the view trims them); ports and policies may
    // name documents that do not exist (yet), which the interest must survive.
    case 'fwg':
      if (op.del) return tx.remove('firewall_group', id('fwg', op.i));
      return tx.put('firewall_group', {
        id: id('fwg', op.i), project_id: 'p', name: '', admin_state_up: op.admin, shared: false, ports: op.ports.map((p) => id('port', p)),
        ingress_firewall_policy_id: op.ingress === null ? null : id('fwp', op.ingress), egress_firewall_policy_id: op.egress === null ? null : id('fwp', op.egress),
      });
    case 'fwp':
      if (op.del) return tx.remove('firewall_policy', id('fwp', op.i));
      return tx.put('firewall_policy', { id: id('fwp', op.i), project_id: 'p', name: '', audited: false, shared: false, firewall_rules: op.rules.map((r) => id('fwr', r)) });
    case 'fwr':
      if (op.del) return tx.remove('firewall_rule', id('fwr', op.i));
      return tx.put('firewall_rule', {
        id: id('fwr', op.i), project_id: 'p', name: '', shared: false, enabled: op.enabled, ip_version: 4, protocol: 'tcp',
        source_ip_address: null, destination_ip_address: '10.0.0.0/24', source_port: null, destination_port: '22', action: op.action,
      });
  }
}

export const batchesArb = (commits: number) => fc.array(fc.array(opArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: commits });
