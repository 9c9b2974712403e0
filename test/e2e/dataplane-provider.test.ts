// Provider networks: a VLAN network and a flat network on physnet1 across two hosts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFabric, type Fabric } from '../helpers/fabric.ts';
import { expectPing, network, plug, port, subnet } from '../helpers/fabric-model.ts';

const P = 'project-p';
let f: Fabric;

beforeAll(async () => {
  f = await createFabric({ hosts: ['h1', 'h2'], provider: true });
}, 120_000);
afterAll(async () => f?.destroy(), 60_000);

describe('provider networks', () => {
  it('carries a VLAN network with its tag on the physical network', async () => {
    const net = await network(f, P, {
      shared: true, 'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1', 'provider:segmentation_id': 150,
    });
    await subnet(f, P, net, '10.70.0.0/24');
    const v1 = await plug(f, 'h1', await port(f, P, net, 'h1', { fixed_ips: [{ ip_address: '10.70.0.11' }] }), 'v1');
    await plug(f, 'h2', await port(f, P, net, 'h2', { fixed_ips: [{ ip_address: '10.70.0.12' }] }), 'v2');
    await expectPing(f, v1, '10.70.0.12', true);
    const capture = await f.lab.tcpdump('fabric', ['-c', '2', 'vlan 150 and icmp'], async () => {
      await v1.exec(['ping', '-c', '3', '-i', '0.2', '10.70.0.12']);
    });
    expect(capture).toMatch(/vlan 150/);
  }, 90_000);

  it('carries a flat network untagged', async () => {
    const net = await network(f, P, { shared: true, 'provider:network_type': 'flat', 'provider:physical_network': 'physnet1' });
    await subnet(f, P, net, '10.71.0.0/24');
    const u1 = await plug(f, 'h1', await port(f, P, net, 'h1', { fixed_ips: [{ ip_address: '10.71.0.11' }] }), 'u1');
    await plug(f, 'h2', await port(f, P, net, 'h2', { fixed_ips: [{ ip_address: '10.71.0.12' }] }), 'u2');
    await expectPing(f, u1, '10.71.0.12', true);
    const capture = await f.lab.tcpdump('fabric', ['-c', '2', 'icmp and host 10.71.0.12'], async () => {
      await u1.exec(['ping', '-c', '3', '-i', '0.2', '10.71.0.12']);
    });
    expect(capture).toMatch(/10\.71\.0\.12/);
    expect(capture).not.toMatch(/vlan/);
  }, 90_000);
});
