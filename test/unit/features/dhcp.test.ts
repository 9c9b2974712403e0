// The DHCP punt flows: one per active local port whose address is on a DHCP-enabled IPv4 subnet.
import { describe, expect, it } from 'vitest';
import { DesiredFlows } from '../../../agent/features/engine.ts';
import { dhcpFeature } from '../../../agent/features/index.ts';
import { renderFlow } from '../../../agent/pipeline/flow.ts';
import { networkDoc, portDoc, Scenario, subnetDoc } from '../../helpers/host-scenarios.ts';

function setup(enableDhcp: boolean) {
  const s = new Scenario();
  s.doc('network', 'n1', networkDoc('n1'));
  s.doc('subnet', 's1', subnetDoc('s1', 'n1', '10.0.0.0/24', { enable_dhcp: enableDhcp }));
  s.doc('subnet', 's6', subnetDoc('s6', 'n1', 'fd00::/64'));
  s.doc('port', 'p1', portDoc('p1', 'n1', 'fa:16:3e:00:00:01', { fixed_ips: [{ subnet_id: 's1', ip_address: '10.0.0.5' }] }));
  s.doc('port', 'p6', portDoc('p6', 'n1', 'fa:16:3e:00:00:06', { fixed_ips: [{ subnet_id: 's6', ip_address: 'fd00::6' }] }));
  s.plug('p1', 7);
  s.plug('p6', 8);
  const engine = new DesiredFlows([dhcpFeature]);
  engine.full(s);
  return { s, engine };
}

const lines = (e: DesiredFlows) => [...e.flows()].map(renderFlow).sort();

describe('dhcp feature', () => {
  it('punts DHCP client packets of a port on a DHCP-enabled IPv4 subnet, before any check', () => {
    const { engine } = setup(true);
    expect(lines(engine)).toEqual([
      'table=classify, priority=60000,udp,in_port=7,tp_src=68,tp_dst=67 actions=CONTROLLER:65535',
    ]);
  });

  it('leaves ports alone when DHCP is off, and follows the subnet when it is turned on', () => {
    const { s, engine } = setup(false);
    expect(lines(engine)).toEqual([]);
    const events = s.doc('subnet', 's1', subnetDoc('s1', 'n1', '10.0.0.0/24', { enable_dhcp: true }));
    engine.update(s, events);
    expect(lines(engine)).toHaveLength(1);
    engine.update(s, s.plug('p1', undefined));
    expect(lines(engine)).toEqual([]);
  });
  it('gives the network\'s own ports (router legs) no punt: they run no DHCP client', () => {
    const { s, engine } = setup(true);
    const events = s.doc('port', 'r1', portDoc('r1', 'n1', 'fa:16:3e:00:00:0a', {
      fixed_ips: [{ subnet_id: 's1', ip_address: '10.0.0.1' }], device_owner: 'network:router_interface',
    }));
    engine.update(s, events);
    engine.update(s, s.plug('r1', 9));
    expect(lines(engine)).toEqual([
      'table=classify, priority=60000,udp,in_port=7,tp_src=68,tp_dst=67 actions=CONTROLLER:65535',
    ]);
  });
});
