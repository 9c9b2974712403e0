// Security group scenarios shared by the golden unit tests and the install check on a real switch.
// Local ports are bound to HOST and plugged at small ofports; "remote" ports are bound elsewhere.
import { securityGroupsFeature } from '../../../agent/features/security-groups.ts';
import { DesiredFlows } from '../../../agent/features/engine.ts';
import type { Flow } from '../../../agent/pipeline/flow.ts';
import { ModelBuilder } from '../../helpers/model-builder.ts';

const ip4 = (ip: string) => ({ subnet_id: 'sub-v4', ip_address: ip });
const ip6 = (ip: string) => ({ subnet_id: 'sub-v6', ip_address: ip });

/** Neutron's default group: egress anything, ingress from members of the same group, both families. */
export function defaultGroup(b: ModelBuilder, group = 'sg-default'): ModelBuilder {
  return b.group(group)
    .rule(`${group}-eg4`, { security_group_id: group, direction: 'egress', ethertype: 'IPv4' })
    .rule(`${group}-eg6`, { security_group_id: group, direction: 'egress', ethertype: 'IPv6' })
    .rule(`${group}-in4`, { security_group_id: group, direction: 'ingress', ethertype: 'IPv4', remote_group_id: group })
    .rule(`${group}-in6`, { security_group_id: group, direction: 'ingress', ethertype: 'IPv6', remote_group_id: group });
}

export const SCENARIOS: Readonly<Record<string, () => ModelBuilder>> = {
  /** Two local members and one on another host, dual stack. */
  'default': () => defaultGroup(new ModelBuilder())
    .port('vm1', { security_groups: ['sg-default'], fixed_ips: [ip4('10.0.0.5'), ip6('fd00::5')] })
    .port('vm2', { security_groups: ['sg-default'], fixed_ips: [ip4('10.0.0.6')], mac_address: 'fa:16:3e:00:00:02' })
    .port('vm3', { security_groups: ['sg-default'], fixed_ips: [ip4('10.0.0.7'), ip6('fd00::7')], 'binding:host_id': 'host-b' })
    .plug('vm1', 3).plug('vm2', 4),

  /** tcp/22 from a remote group whose member has an allowed address pair (a VIP and a CIDR). */
  'ssh-from-group': () => new ModelBuilder().group('sg-web').group('sg-admin')
    .rule('ssh', { security_group_id: 'sg-web', direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_group_id: 'sg-admin' })
    .port('web', { security_groups: ['sg-web'], fixed_ips: [ip4('10.0.0.10')] })
    .port('bastion', {
      security_groups: ['sg-admin'], fixed_ips: [ip4('10.0.0.20'), ip6('fd00::20')], 'binding:host_id': 'host-b',
      allowed_address_pairs: [{ ip_address: '10.0.0.100', mac_address: 'fa:16:3e:00:00:99' }, { ip_address: '10.1.0.0/16', mac_address: 'fa:16:3e:00:00:99' }],
    })
    .plug('web', 5),

  /** A port range (1000-1999) to anywhere, and the same range from a remote group (three clauses). */
  'port-range': () => new ModelBuilder().group('sg-app')
    .rule('range-any', { security_group_id: 'sg-app', direction: 'ingress', protocol: 'udp', port_range_min: 1000, port_range_max: 1999 })
    .rule('range-group', { security_group_id: 'sg-app', direction: 'egress', protocol: 'tcp', port_range_min: 1000, port_range_max: 1999, remote_group_id: 'sg-app' })
    .port('app1', { security_groups: ['sg-app'], fixed_ips: [ip4('10.0.0.31')] })
    .port('app2', { security_groups: ['sg-app'], fixed_ips: [ip4('10.0.0.32')], 'binding:host_id': 'host-b' })
    .plug('app1', 6),

  /** ICMP echo request (type 8 code 0), ICMPv6 echo request (type 128, any code), any ICMP. */
  'icmp': () => new ModelBuilder().group('sg-ping')
    .rule('echo4', { security_group_id: 'sg-ping', direction: 'ingress', protocol: 'icmp', port_range_min: 8, port_range_max: 0 })
    .rule('echo6', { security_group_id: 'sg-ping', direction: 'ingress', ethertype: 'IPv6', protocol: 'ipv6-icmp', port_range_min: 128 })
    .rule('icmp-out', { security_group_id: 'sg-ping', direction: 'egress', protocol: 'icmp' })
    .port('pinged', { security_groups: ['sg-ping'], fixed_ips: [ip4('10.0.0.40')] })
    .plug('pinged', 7),

  /** Protocols by number: GRE (47), SCTP 5000-5001 by number, DCCP with ports (protocol only), 0 = any. */
  'protocol-number': () => new ModelBuilder().group('sg-proto')
    .rule('gre', { security_group_id: 'sg-proto', direction: 'ingress', protocol: '47' })
    .rule('sctp', { security_group_id: 'sg-proto', direction: 'ingress', protocol: '132', port_range_min: 5000, port_range_max: 5001 })
    .rule('dccp', { security_group_id: 'sg-proto', direction: 'egress', protocol: 'dccp', port_range_min: 80, port_range_max: 80 })
    .rule('zero', { security_group_id: 'sg-proto', direction: 'egress', ethertype: 'IPv6', protocol: '0' })
    .port('proto', { security_groups: ['sg-proto'], fixed_ips: [ip4('10.0.0.50')] })
    .plug('proto', 8),

  /** remote_ip_prefix in both families and directions, and a /0 (no address match). */
  'remote-prefix': () => new ModelBuilder().group('sg-cidr')
    .rule('cidr4', { security_group_id: 'sg-cidr', direction: 'ingress', protocol: 'tcp', port_range_min: 443, port_range_max: 443, normalized_cidr: '192.168.0.0/16' })
    .rule('cidr6', { security_group_id: 'sg-cidr', direction: 'egress', ethertype: 'IPv6', protocol: 'udp', port_range_min: 53, port_range_max: 53, normalized_cidr: '2001:db8::/32' })
    .rule('all4', { security_group_id: 'sg-cidr', direction: 'egress', normalized_cidr: '0.0.0.0/0' })
    .port('cidr', { security_groups: ['sg-cidr'], fixed_ips: [ip4('10.0.0.60'), ip6('fd00::60')] })
    .plug('cidr', 9),

  /**
   * Ports we do not filter: port security off, and a DHCP port (network-owned) in a group; a
   * filtered port without groups (only control traffic passes). Only the last one has flows.
   */
  'trusted': () => defaultGroup(new ModelBuilder())
    .port('open', { port_security_enabled: false, fixed_ips: [ip4('10.0.0.70')] })
    .port('dhcp', { device_owner: 'network:dhcp', security_groups: ['sg-default'], fixed_ips: [ip4('10.0.0.2')] })
    .port('nogroups', { fixed_ips: [ip4('10.0.0.71')] })
    .plug('open', 10).plug('dhcp', 11).plug('nogroups', 12),
};

/** Every scenario at once (distinct ids, ofports and groups), for the install check. */
export function richScenario(): ModelBuilder {
  const b = new ModelBuilder();
  for (const make of Object.values(SCENARIOS)) {
    const s = make();
    for (const kind of ['network', 'security_group', 'security_group_rule', 'port'] as const) {
      for (const doc of s.model.all(kind)) b.put(kind, doc.id, doc as never);
    }
    for (const [id, ofport] of s.bindings) b.plug(id, ofport);
  }
  b.takeEvents();
  return b;
}

/** The feature's flows in this state (a full compile). */
export function compileAll(b: ModelBuilder): { flows: Flow[]; conflicts: string[] } {
  const d = new DesiredFlows([securityGroupsFeature]);
  d.full(b.state);
  return { flows: [...d.flows()], conflicts: [...d.conflicts] };
}
