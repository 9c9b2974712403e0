// Golden flow texts of the forwarding features (classify, spoof_guard, l2_lookup, output) for
// typical hosts: one file per scenario under test/golden/features/, flows printed with table
// names and sorted in pipeline order. UPDATE_GOLDEN=1 rewrites the files.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DesiredFlows } from '../../../agent/features/engine.ts';
import { FORWARDING_FEATURES } from '../../../agent/features/index.ts';
import { agentDoc, flowLines, ip4, networkDoc, portDoc, Scenario } from '../../helpers/host-scenarios.ts';

const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../golden/features');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

function golden(name: string, build: (s: Scenario) => void): void {
  it(name, () => {
    const s = new Scenario();
    build(s);
    const engine = new DesiredFlows(FORWARDING_FEATURES);
    engine.full(s);
    expect([...engine.conflicts]).toEqual([]);
    const text = `${flowLines(engine.flows()).join('\n')}\n`;
    const file = join(GOLDEN_DIR, `${name}.txt`);
    if (UPDATE || !existsSync(file)) {
      mkdirSync(GOLDEN_DIR, { recursive: true });
      writeFileSync(file, text);
      if (!UPDATE) throw new Error(`golden file ${file} was missing and has been written; check it in and rerun`);
    }
    expect(text).toBe(readFileSync(file, 'utf8'));
  });
}

const remoteHosts = (s: Scenario) => {
  s.doc('agent', 'a1', agentDoc('a1', 'h1', '192.168.0.11'));
  s.doc('agent', 'a2', agentDoc('a2', 'h2', '192.168.0.12'));
};

describe('golden flows of the forwarding features', () => {
  golden('vxlan-two-local-one-remote', (s) => {
    remoteHosts(s);
    s.doc('network', 'n1', networkDoc('n1', { 'provider:segmentation_id': 1001 }));
    s.doc('port', 'p1', portDoc('p1', 'n1', 'fa:16:3e:00:00:01', { fixed_ips: [ip4('10.0.0.11')] }));
    s.doc('port', 'p2', portDoc('p2', 'n1', 'fa:16:3e:00:00:02', { fixed_ips: [ip4('10.0.0.12')] }));
    s.doc('port', 'p3', portDoc('p3', 'n1', 'fa:16:3e:00:00:03', { fixed_ips: [ip4('10.0.0.13')], 'binding:host_id': 'h1' }));
    s.plug('p1', 1);
    s.plug('p2', 2);
  });

  golden('vlan-provider', (s) => {
    remoteHosts(s);
    s.doc('network', 'n2', networkDoc('n2', {
      'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1', 'provider:segmentation_id': 200,
    }));
    s.doc('port', 'p1', portDoc('p1', 'n2', 'fa:16:3e:00:02:01', { fixed_ips: [ip4('10.2.0.11')] }));
    s.doc('port', 'p2', portDoc('p2', 'n2', 'fa:16:3e:00:02:02', { fixed_ips: [ip4('10.2.0.12')], 'binding:host_id': 'h1' }));
    s.plug('p1', 3);
  });

  golden('flat-provider', (s) => {
    remoteHosts(s);
    s.doc('network', 'n3', networkDoc('n3', {
      'provider:network_type': 'flat', 'provider:physical_network': 'physnet2', 'provider:segmentation_id': null,
    }));
    s.doc('port', 'p1', portDoc('p1', 'n3', 'fa:16:3e:00:03:01', { fixed_ips: [ip4('10.3.0.11')] }));
    s.doc('port', 'p2', portDoc('p2', 'n3', 'fa:16:3e:00:03:02', { fixed_ips: [ip4('10.3.0.12')], 'binding:host_id': 'h2' }));
    s.plug('p1', 4);
  });

  golden('port-security-off', (s) => {
    s.doc('network', 'n1', networkDoc('n1', { 'provider:segmentation_id': 1001 }));
    s.doc('port', 'p1', portDoc('p1', 'n1', 'fa:16:3e:00:00:01', {
      fixed_ips: [ip4('10.0.0.11')], port_security_enabled: false, security_groups: [],
    }));
    s.doc('port', 'dhcp', portDoc('dhcp', 'n1', 'fa:16:3e:00:00:fe', {
      fixed_ips: [ip4('10.0.0.2')], device_owner: 'network:dhcp',
    }));
    s.plug('p1', 1);
    s.plug('dhcp', 2);
  });

  golden('allowed-address-pairs', (s) => {
    remoteHosts(s);
    s.doc('network', 'n1', networkDoc('n1', { 'provider:segmentation_id': 1001 }));
    s.doc('port', 'p1', portDoc('p1', 'n1', 'fa:16:3e:00:00:01', {
      fixed_ips: [ip4('10.0.0.11')],
      allowed_address_pairs: [
        { ip_address: '10.0.0.11', mac_address: 'fa:16:3e:00:00:01' }, // repeats the fixed IP
        { ip_address: '10.0.5.0/24', mac_address: 'FA:16:3E:00:00:01' }, // a CIDR, MAC in capitals
        { ip_address: '10.0.0.100', mac_address: '00:00:5e:00:01:01' }, // a VRRP VIP with its own MAC
        { ip_address: '10.0.0.101/32', mac_address: '00:00:5e:00:01:01' },
      ],
    }));
    // The backup of the VRRP pair, on another host: the VIP MAC goes to both.
    s.doc('port', 'p3', portDoc('p3', 'n1', 'fa:16:3e:00:00:03', {
      fixed_ips: [ip4('10.0.0.13')], 'binding:host_id': 'h1',
      allowed_address_pairs: [{ ip_address: '10.0.0.100', mac_address: '00:00:5e:00:01:01' }],
    }));
    s.plug('p1', 1);
  });

  golden('ipv6-port', (s) => {
    s.doc('network', 'n6', networkDoc('n6', { 'provider:segmentation_id': 1006 }));
    s.doc('port', 'p1', portDoc('p1', 'n6', 'fa:16:3e:00:06:01', {
      fixed_ips: [{ subnet_id: 's6', ip_address: '2001:db8::11' }],
      allowed_address_pairs: [{ ip_address: '2001:db8:1::/64', mac_address: 'fa:16:3e:00:06:01' }],
    }));
    s.plug('p1', 1);
  });
});
