// Router firewall scenarios for the FWaaS compiler (agent/l3/firewall-rules.ts), shared by the golden
// unit test (test/unit/l3/firewall-rules.test.ts) and the real iptables round trip
// (test/integration/l3-firewall.test.ts), so every golden text is also proven against iptables-save.
import type { FirewallFilterRules, FirewallPortSpec, FirewallRuleSpec } from '../../agent/l3/firewall-rules.ts';

/**
 * A whole filter table with the firewall inside weft-FORWARD, the way the router's text holds it:
 * built-in chains, then user chains in byte order (weft-FORWARD sorts before weft-fw-*), the
 * FORWARD jump, our jumps before weft-FORWARD's final ACCEPT, then the firewall chains' rules.
 */
export function filterTable(fw: FirewallFilterRules): string {
  return [
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':weft-FORWARD - [0:0]',
    ...fw.chains,
    '-A FORWARD -j weft-FORWARD',
    ...fw.forward,
    '-A weft-FORWARD -j ACCEPT',
    ...fw.rules,
    'COMMIT',
  ].join('\n') + '\n';
}

let n = 0;
export const fwRule = (over: Partial<FirewallRuleSpec> = {}): FirewallRuleSpec => ({
  id: `rule-${++n}`, ipVersion: 4, protocol: null, source: null, destination: null, sourcePort: null, destinationPort: null,
  action: 'allow', ...over,
});

export const fwPort = (interfaceName: string, over: Partial<FirewallPortSpec> = {}): FirewallPortSpec => ({
  portId: `port-${interfaceName}`, interfaceName, groupId: 'group-1', adminStateUp: true, ingress: null, egress: null, ...over,
});

/** Web server subnet behind qr-web: ssh from the office, http(s) from anywhere, ping; the rest dropped. */
const WEB_INGRESS: FirewallRuleSpec[] = [
  fwRule({ protocol: 'tcp', source: '198.51.100.0/24', destinationPort: [22, 22] }),
  fwRule({ protocol: 'tcp', destination: '10.0.1.10', destinationPort: [80, 80] }),
  fwRule({ protocol: 'tcp', destination: '10.0.1.10/32', destinationPort: [443, 443] }),
  fwRule({ protocol: 'udp', sourcePort: [53, 53], destinationPort: [1024, 65535], action: 'deny' }),
  fwRule({ protocol: 'icmp' }),
  fwRule({ ipVersion: 6, protocol: 'ipv6-icmp', source: '2001:db8::/64' }), // skipped: IPv4 router
  fwRule({ source: '203.0.113.7/24', action: 'reject' }), // host bits: iptables prints the network
];
const WEB_EGRESS: FirewallRuleSpec[] = [
  fwRule({ protocol: 'tcp', destinationPort: [1000, 2000], action: 'reject' }),
  fwRule({ destination: '0.0.0.0/0' }), // any address: no -d at all
];

export const SCENARIOS: Record<string, FirewallPortSpec[]> = {
  'no-firewall': [],
  'ingress-and-egress': [fwPort('qr-0a1b2c3d4e5', { ingress: WEB_INGRESS, egress: WEB_EGRESS })],
  /** No egress policy: only replies leave the subnet (neutron-fwaas's iptables driver). */
  'ingress-only': [fwPort('qr-11111111111', { ingress: [fwRule({ protocol: 'tcp', destinationPort: [22, 22] })] })],
  /** An empty policy drops everything new; an admin-down group drops everything; no policy at all passes. */
  'three-ports': [
    fwPort('qr-ccccccccccc', { groupId: 'group-3' }),
    fwPort('qr-bbbbbbbbbbb', { groupId: 'group-2', adminStateUp: false, ingress: [fwRule()], egress: [] }),
    fwPort('qr-aaaaaaaaaaa', { egress: [] }),
  ],
};
