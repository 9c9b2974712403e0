// The firewall part of a router's plan (agent/l3/firewall-plan.ts via routerPlan): the router's
// legs on this host that are in a firewall group, with the group's admin state and its policies'
// enabled rules in policy order; and the plan compiled end to end.
import { describe, expect, it } from 'vitest';
import { routerFirewallRules } from '../../../agent/l3/firewall-rules.ts';
import { routerPlan } from '../../../agent/l3/manager-plan.ts';
import { HOST, ModelBuilder } from '../../helpers/model-builder.ts';

const R = 'router-1';

/** A router with two interface legs (qr-leg-a-00000, qr-leg-b-00000) and a VM port, all on this host. */
function routerModel(): ModelBuilder {
  const b = new ModelBuilder();
  b.network('net-1').put('subnet', 'sub-a', { cidr: '10.0.0.0/24' }).put('subnet', 'sub-b', { cidr: '10.0.1.0/24' });
  b.put('router', R);
  b.port('leg-a-000000', { device_owner: 'network:router_interface', device_id: R, fixed_ips: [{ subnet_id: 'sub-a', ip_address: '10.0.0.1' }] });
  b.port('leg-b-000000', { device_owner: 'network:router_interface', device_id: R, fixed_ips: [{ subnet_id: 'sub-b', ip_address: '10.0.1.1' }] });
  b.port('vm-1', { fixed_ips: [{ subnet_id: 'sub-a', ip_address: '10.0.0.5' }] });
  b.put('firewall_rule', 'ssh', { protocol: 'tcp', destination_port: '22', source_ip_address: '192.0.2.0/24', action: 'allow' });
  b.put('firewall_rule', 'web', { protocol: 'tcp', destination_port: '8000:8080', source_port: '1024:65535', action: 'reject' });
  b.put('firewall_rule', 'off', { protocol: 'icmp', enabled: false });
  b.put('firewall_rule', 'v6', { ip_version: 6, protocol: 'ipv6-icmp', action: 'allow' });
  b.put('firewall_policy', 'in', { firewall_rules: ['web', 'off', 'ssh', 'v6'] });
  b.put('firewall_group', 'group-1', { ports: ['leg-a-000000'], ingress_firewall_policy_id: 'in' });
  return b;
}

const firewallOf = (b: ModelBuilder) => routerPlan(b.model, HOST).get(R)!.firewall;

describe('routerPlan firewall', () => {
  it('carries the legs in a group with their policies\' enabled rules, in policy order', () => {
    expect(firewallOf(routerModel())).toEqual([{
      portId: 'leg-a-000000',
      interfaceName: 'qr-leg-a-00000',
      groupId: 'group-1',
      adminStateUp: true,
      ingress: [
        { id: 'web', ipVersion: 4, protocol: 'tcp', source: null, destination: null, sourcePort: [1024, 65535], destinationPort: [8000, 8080], action: 'reject' },
        { id: 'ssh', ipVersion: 4, protocol: 'tcp', source: '192.0.2.0/24', destination: null, sourcePort: null, destinationPort: [22, 22], action: 'allow' },
        { id: 'v6', ipVersion: 6, protocol: 'ipv6-icmp', source: null, destination: null, sourcePort: null, destinationPort: null, action: 'allow' },
      ],
      egress: null,
    }]);
  });

  it('follows the group: more legs, admin state, policy changes; legs of other hosts are not ours', () => {
    const b = routerModel();
    b.put('firewall_policy', 'out', { firewall_rules: [] });
    b.update('firewall_group', 'group-1', { ports: ['leg-b-000000', 'leg-a-000000', 'vm-1'], egress_firewall_policy_id: 'out', admin_state_up: false });
    const fw = firewallOf(b);
    expect(fw.map((p) => [p.interfaceName, p.adminStateUp, p.egress])).toEqual([['qr-leg-a-00000', false, []], ['qr-leg-b-00000', false, []]]);
    b.update('port', 'leg-b-000000', { 'binding:host_id': 'elsewhere' });
    expect(firewallOf(b).map((p) => p.interfaceName)).toEqual(['qr-leg-a-00000']);
    b.update('firewall_group', 'group-1', { ports: [] });
    expect(firewallOf(b)).toEqual([]);
  });

  it('a policy the model does not hold yet is empty (fails closed); a rule it does not hold is left out', () => {
    const b = routerModel();
    b.update('firewall_group', 'group-1', { egress_firewall_policy_id: 'not-here' });
    b.update('firewall_policy', 'in', { firewall_rules: ['gone', 'ssh'] });
    const [leg] = firewallOf(b);
    expect(leg.egress).toEqual([]);
    expect(leg.ingress!.map((r) => r.id)).toEqual(['ssh']);
  });

  it('compiles: the plan is valid input for routerFirewallRules', () => {
    const fw = routerFirewallRules(firewallOf(routerModel()));
    expect(fw.forward).toEqual([
      '-A weft-FORWARD -o qr-leg-a-00000 -j weft-fw-i-qr-leg-a-00000',
      '-A weft-FORWARD -i qr-leg-a-00000 -j weft-fw-o-qr-leg-a-00000',
    ]);
    expect(fw.rules).toContain('-A weft-fw-i-qr-leg-a-00000 -p tcp -m tcp --sport 1024:65535 --dport 8000:8080 -j REJECT --reject-with icmp-port-unreachable');
    expect(fw.rules).toContain('-A weft-fw-i-qr-leg-a-00000 -s 192.0.2.0/24 -p tcp -m tcp --dport 22 -j RETURN');
  });
});
