// fast-check generators of host-model changes for the feature compiler properties: networks of
// every type (and ones this host cannot carry), ports local and remote with fixed IPs, allowed
// address pairs (CIDRs, shared VRRP MACs, another port's MAC), port security on/off, security
// groups and rules with remote groups, subnets, agents with tunnel endpoints, and plug / unplug /
// re-plug of local ports. Values respect what Neutron guarantees (a MAC is unique in its network,
// a VNI or a VLAN id on a physical network belongs to one network, one flat network per physical
// network, an ofport belongs to one port).
import fc from 'fast-check';
import type { HostConfig } from '../../agent/features/engine.ts';
import type { ModelEvent } from '../../agent/model/host-model.ts';
import { agentDoc, HOST, networkDoc, portDoc, Scenario, subnetDoc } from './host-scenarios.ts';

export interface Sizes {
  readonly networks: number;
  readonly ports: number;
  readonly groups: number;
  readonly rules: number;
}
export const SMALL: Sizes = { networks: 3, ports: 8, groups: 3, rules: 8 };
export const BIG: Sizes = { networks: 8, ports: 60, groups: 6, rules: 30 };

const FLAT_PHYSNETS = Array.from({ length: 8 }, (_, i) => `flat${i}`);

/** h0 with a tunnel port and uplinks for physnet1, physnet2 and flat0..flat7 (physnet3 is unmapped). */
export function randomHostConfig(withTunnel = true): HostConfig {
  const physnets = ['physnet1', 'physnet2', ...FLAT_PHYSNETS];
  return {
    host: HOST,
    tunnelIp: withTunnel ? '192.168.0.10' : null,
    bridgeMappings: Object.fromEntries(physnets.map((p) => [p, `br-${p}`])),
    tunnelOfport: withTunnel ? 900 : null,
    uplinks: Object.fromEntries(physnets.map((p, i) => [p, 1000 + i])),
  };
}

export type Op =
  | { op: 'network'; i: number; del: boolean; type: 'vxlan' | 'vlan' | 'flat'; physnet: number; admin: boolean; seg: number }
  | {
    op: 'port'; i: number; del: boolean; net: number; host: number; admin: boolean; mac: number; ips: number[];
    pairs: number[]; security: boolean; owner: number; groups: number[];
  }
  | { op: 'plug'; i: number; gen: number | null }
  | { op: 'agent'; i: number; del: boolean; host: number; ip: number | null }
  | { op: 'subnet'; i: number; del: boolean; net: number; v6: boolean }
  | { op: 'group'; i: number; del: boolean }
  | {
    op: 'rule'; i: number; del: boolean; group: number; ingress: boolean; v6: boolean; proto: number;
    port: number; cidr: number; remote: number | null;
  };

const HOSTS = [HOST, HOST, HOST, 'h1', 'h2', 'h3', ''];
const OWNERS = ['compute:nova', 'compute:nova', 'network:dhcp', 'network:router_interface', ''];
const hex = (n: number) => n.toString(16).padStart(2, '0');

export function opArb(z: Sizes): fc.Arbitrary<Op> {
  const idx = (n: number) => fc.nat({ max: n - 1 });
  return fc.oneof(
    { weight: 2, arbitrary: fc.record({
      op: fc.constant('network' as const), i: idx(z.networks), del: fc.nat({ max: 3 }).map((n) => n === 0),
      type: fc.constantFrom('vxlan' as const, 'vxlan' as const, 'vlan' as const, 'flat' as const),
      physnet: fc.nat({ max: 2 }), admin: fc.oneof(fc.constant(true), fc.boolean()), seg: fc.nat({ max: 1 }),
    }) },
    { weight: 6, arbitrary: fc.record({
      op: fc.constant('port' as const), i: idx(z.ports), del: fc.nat({ max: 9 }).map((n) => n === 0),
      net: idx(z.networks), host: fc.nat({ max: HOSTS.length - 1 }), admin: fc.oneof(fc.constant(true), fc.boolean()),
      mac: fc.nat({ max: 1 }), ips: fc.uniqueArray(fc.nat({ max: 3 }), { maxLength: 3 }),
      pairs: fc.uniqueArray(fc.nat({ max: PAIRS.length - 1 }), { maxLength: 3 }),
      security: fc.oneof(fc.constant(true), fc.boolean()), owner: fc.nat({ max: OWNERS.length - 1 }),
      groups: fc.uniqueArray(idx(z.groups), { maxLength: 2 }),
    }) },
    { weight: 5, arbitrary: fc.record({ op: fc.constant('plug' as const), i: idx(z.ports), gen: fc.option(fc.nat({ max: 2 })) }) },
    { weight: 3, arbitrary: fc.record({
      op: fc.constant('agent' as const), i: fc.nat({ max: 3 }), del: fc.nat({ max: 4 }).map((n) => n === 0),
      host: fc.nat({ max: 3 }), ip: fc.option(fc.nat({ max: 2 }), { freq: 4 }),
    }) },
    { weight: 1, arbitrary: fc.record({
      op: fc.constant('subnet' as const), i: fc.nat({ max: 5 }), del: fc.boolean(), net: idx(z.networks), v6: fc.boolean(),
    }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('group' as const), i: idx(z.groups), del: fc.nat({ max: 3 }).map((n) => n === 0) }) },
    { weight: 3, arbitrary: fc.record({
      op: fc.constant('rule' as const), i: idx(z.rules), del: fc.nat({ max: 4 }).map((n) => n === 0), group: idx(z.groups),
      ingress: fc.boolean(), v6: fc.boolean(), proto: fc.nat({ max: 4 }), port: fc.nat({ max: 3 }), cidr: fc.nat({ max: 3 }),
      remote: fc.option(idx(z.groups)),
    }) },
  );
}

/** Allowed address pairs: 'own' stands for the port's MAC; another port's MAC and shared VRRP MACs too. */
const PAIRS: readonly { ip: string; mac: string }[] = [
  { ip: '10.9.0.1', mac: 'own' },
  { ip: '10.9.0.0/24', mac: 'own' },
  { ip: '10.9.9.9', mac: '00:00:5e:00:01:01' },
  { ip: '10.9.9.8/32', mac: '00:00:5e:00:01:01' },
  { ip: '10.9.9.7', mac: '00:00:5e:00:01:02' },
  { ip: '2001:db8:9::/64', mac: 'own' },
  { ip: '10.9.1.1', mac: 'fa:16:3e:00:00:00' },
  { ip: '0.0.0.0/0', mac: 'own' },
];

const PROTOS = [null, 'tcp', 'udp', 'icmp', '132'];
const PORT_RANGES: [number | null, number | null][] = [[null, null], [22, 22], [1000, 1999], [80, 81]];
const CIDRS4 = [null, '10.0.0.0/8', '192.168.1.0/24', '0.0.0.0/0'];
const CIDRS6 = [null, '2001:db8::/32', 'fd00::/8', '::/0'];

export const portMac = (i: number, variant: number) => `fa:16:3e:00:${hex(i)}:0${variant}`;

/** Applies one op; returns the events it caused (none when nothing changed). */
export function applyOp(s: Scenario, o: Op): ModelEvent[] {
  switch (o.op) {
    case 'network': {
      const id = `n${o.i}`;
      if (o.del) return s.doc('network', id, null);
      const physnet = o.type === 'flat' ? `flat${o.i}` : ['physnet1', 'physnet2', 'physnet3'][o.physnet];
      const seg = o.type === 'vxlan' ? 5000 + o.i + 100 * o.seg : o.type === 'vlan' ? 100 + o.i + 100 * o.seg : null;
      return s.doc('network', id, networkDoc(id, {
        admin_state_up: o.admin, 'provider:network_type': o.type, 'provider:physical_network': o.type === 'vxlan' ? null : physnet,
        'provider:segmentation_id': seg,
      }));
    }
    case 'port': {
      const id = `p${o.i}`;
      if (o.del) return s.doc('port', id, null);
      const mac = portMac(o.i, o.mac);
      const fixed = o.ips.map((k) => (k === 3
        ? { subnet_id: `s6-${o.net}`, ip_address: `2001:db8:${o.net}::${o.i + 1}` }
        : { subnet_id: `s4-${o.net}`, ip_address: `10.${o.net}.${k}.${o.i + 10}` }));
      return s.doc('port', id, portDoc(id, `n${o.net}`, mac, {
        admin_state_up: o.admin, 'binding:host_id': HOSTS[o.host], fixed_ips: fixed,
        allowed_address_pairs: o.pairs.map((k) => ({ ip_address: PAIRS[k].ip, mac_address: PAIRS[k].mac === 'own' ? mac : PAIRS[k].mac })),
        port_security_enabled: o.security, security_groups: o.security ? o.groups.map((g) => `g${g}`) : [],
        device_owner: OWNERS[o.owner],
      }));
    }
    case 'plug':
      // ofports are unique per port: port i only ever gets i + 1 + 100 * gen (below the tunnel and uplinks).
      return s.plug(`p${o.i}`, o.gen === null ? undefined : o.i + 1 + 100 * o.gen);
    case 'agent': {
      const id = `a${o.i}`;
      if (o.del) return s.doc('agent', id, null);
      const host = ['h0', 'h1', 'h2', 'h3'][o.host];
      return s.doc('agent', id, agentDoc(id, host, o.ip === null ? null : `192.168.0.${11 + o.host + 10 * o.ip}`));
    }
    case 'subnet': {
      const id = `sub${o.i}`;
      if (o.del) return s.doc('subnet', id, null);
      return s.doc('subnet', id, subnetDoc(id, `n${o.net}`, o.v6 ? `2001:db8:${o.net}::/64` : `10.${o.net}.0.0/16`));
    }
    case 'group': {
      const id = `g${o.i}`;
      return s.doc('security_group', id, o.del ? null : { id, project_id: 'p1' });
    }
    case 'rule': {
      const id = `r${o.i}`;
      if (o.del) return s.doc('security_group_rule', id, null);
      const proto = PROTOS[o.proto];
      const [min, max] = proto === 'tcp' || proto === 'udp' || proto === '132' ? PORT_RANGES[o.port] : [null, null];
      return s.doc('security_group_rule', id, {
        id, security_group_id: `g${o.group}`, direction: o.ingress ? 'ingress' : 'egress', ethertype: o.v6 ? 'IPv6' : 'IPv4',
        protocol: proto, port_range_min: min, port_range_max: max,
        normalized_cidr: o.remote === null ? (o.v6 ? CIDRS6 : CIDRS4)[o.cidr] : null,
        remote_group_id: o.remote === null ? null : `g${o.remote}`,
      });
    }
  }
}

/** Batches of ops: each batch is applied, then the engine updates once with all its events. */
export const batchesArb = (z: Sizes, maxBatches: number): fc.Arbitrary<Op[][]> =>
  fc.array(fc.array(opArb(z), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: maxBatches, size: 'medium' });

/** A whole scenario built from ops (for full-compile properties). */
export const scenarioArb = (z: Sizes, maxOps: number): fc.Arbitrary<Op[]> => fc.array(opArb(z), { minLength: 1, maxLength: maxOps, size: 'large' });
