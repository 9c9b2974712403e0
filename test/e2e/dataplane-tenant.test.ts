// Tenant networks on a real fabric: two hosts (namespaces with their own Open vSwitch and
// weft-agent), VXLAN between them, VMs plugged with iface-id like Nova does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFabric, type Fabric } from '../helpers/fabric.ts';
import { expectPing, network, pings, plug, port, portStatus, subnet, type Port } from '../helpers/fabric-model.ts';
import type { LabVm } from '../../lab/lab.ts';

const WAIT = { 'x-weft-wait-dataplane': '15' };
let f: Fabric;

beforeAll(async () => {
  // h1's agent starts its own Open vSwitch; h2's is given a running one (WEFT_OVSDB).
  f = await createFabric({ hosts: ['h1', 'h2'], existingOvs: ['h2'] });
}, 120_000);
afterAll(async () => f?.destroy(), 60_000);

describe('VXLAN tenant networks across two hosts', () => {
  const vms: Record<string, LabVm> = {};
  const ports: Record<string, Port> = {};

  it('plugs ports and marks them ACTIVE', async () => {
    // Two projects with the same CIDR and even the same addresses.
    const netA = await network(f, 'project-a');
    const netB = await network(f, 'project-b');
    await subnet(f, 'project-a', netA, '10.50.0.0/24');
    await subnet(f, 'project-b', netB, '10.50.0.0/24');
    const layout: [string, string, string, string][] = [
      ['a1', 'project-a', 'h1', '10.50.0.11'], ['a2', 'project-a', 'h2', '10.50.0.12'], ['a3', 'project-a', 'h1', '10.50.0.13'],
      ['b1', 'project-b', 'h1', '10.50.0.21'], ['b2', 'project-b', 'h2', '10.50.0.12'],
    ];
    for (const [name, project, host, ip] of layout) {
      const net = project === 'project-a' ? netA : netB;
      ports[name] = await port(f, project, net, host, { fixed_ips: [{ ip_address: ip }], name });
      expect(await portStatus(f, ports[name].id)).toBe('DOWN');
      vms[name] = await plug(f, host, ports[name], name);
    }
  }, 120_000);

  it('reaches its own network on both hosts', async () => {
    await expectPing(f, vms.a1, '10.50.0.12', true); // across hosts
    await expectPing(f, vms.a1, '10.50.0.13', true); // same host
    await expectPing(f, vms.b1, '10.50.0.12', true);
    // The answer for 10.50.0.12 came from a2 (project a) for a1 and from b2 for b1.
    const neighA = (await vms.a1.exec(['ip', 'neigh', 'show', '10.50.0.12'])).stdout;
    const neighB = (await vms.b1.exec(['ip', 'neigh', 'show', '10.50.0.12'])).stdout;
    expect(neighA).toContain(ports.a2.mac_address);
    expect(neighB).toContain(ports.b2.mac_address);
  }, 60_000);

  it('lets nothing cross between projects', async () => {
    await expectPing(f, vms.a1, '10.50.0.21', false);
    await expectPing(f, vms.b1, '10.50.0.11', false);
    await expectPing(f, vms.b1, '10.50.0.13', false);
  }, 60_000);

  it('never floods known unicast; broadcast reaches only the network\'s ports', async () => {
    // a1 -> a2 (h1 -> h2): a3 sits on a1's host and network but must not see it.
    const unicastAtA3 = await f.lab.tcpdump(vms.a3, ['icmp'], async () => {
      expect(await pings(vms.a1, '10.50.0.12', 3)).toBe(true);
      expect(await pings(vms.a1, '10.50.0.13', 1)).toBe(true); // the capture works
    });
    expect(unicastAtA3).toMatch(/10\.50\.0\.11 > 10\.50\.0\.13: ICMP echo request/);
    expect(unicastAtA3).not.toMatch(/> 10\.50\.0\.12/);
    // An ARP broadcast from a1 for an address nobody has: its network's VMs on both hosts see it,
    // project b's VM on the same host does not.
    let atB1 = '';
    const atA2 = await f.lab.tcpdump(vms.a2, ['arp'], async () => {
      atB1 = await f.lab.tcpdump(vms.b1, ['arp'], async () => {
        await vms.a1.exec(['ping', '-c', '2', '-W', '1', '10.50.0.77']);
      });
    });
    expect(atA2).toMatch(/who-has 10\.50\.0\.77/i);
    expect(atB1).not.toMatch(/10\.50\.0\.77/);
  }, 60_000);

  it('drops a VM that forges its source IP or MAC', async () => {
    const a1 = vms.a1;
    await a1.exec(['ip', 'addr', 'flush', 'dev', 'eth0']);
    await a1.exec(['ip', 'addr', 'add', '10.50.0.99/24', 'dev', 'eth0']);
    expect(await pings(a1, '10.50.0.13', 2)).toBe(false);
    await a1.exec(['ip', 'addr', 'flush', 'dev', 'eth0']);
    await a1.exec(['ip', 'addr', 'add', '10.50.0.11/24', 'dev', 'eth0']);
    await expectPing(f, a1, '10.50.0.13', true);
    await a1.exec(['ip', 'link', 'set', 'eth0', 'address', '02:00:00:aa:bb:cc']);
    await a1.exec(['ip', 'neigh', 'flush', 'all']);
    expect(await pings(a1, '10.50.0.13', 2)).toBe(false);
    await a1.exec(['ip', 'link', 'set', 'eth0', 'address', ports.a1.mac_address]);
    await expectPing(f, a1, '10.50.0.13', true);
  }, 60_000);

  it('lets a port without port security send from any address', async () => {
    const a1 = vms.a1;
    await a1.exec(['ip', 'addr', 'flush', 'dev', 'eth0']);
    await a1.exec(['ip', 'addr', 'add', '10.50.0.98/24', 'dev', 'eth0']);
    expect(await pings(a1, '10.50.0.13', 2)).toBe(false);
    // a3 must accept it too: its ingress rules only know a1's real address, so lift a3's as well.
    for (const p of [ports.a1, ports.a3]) {
      await f.api('PUT', `/v2.0/ports/${p.id}`, { port: { security_groups: [], port_security_enabled: false } }, WAIT);
    }
    await expectPing(f, a1, '10.50.0.13', true);
    for (const p of [ports.a1, ports.a3]) {
      await f.api('PUT', `/v2.0/ports/${p.id}`, { port: { port_security_enabled: true, security_groups: p.security_groups } }, WAIT);
    }
    await vms.a3.exec(['ip', 'neigh', 'flush', 'all']);
    expect(await pings(a1, '10.50.0.13', 2)).toBe(false);
    await a1.exec(['ip', 'addr', 'flush', 'dev', 'eth0']);
    await a1.exec(['ip', 'addr', 'add', '10.50.0.11/24', 'dev', 'eth0']);
    await expectPing(f, a1, '10.50.0.13', true);
  }, 60_000);

  it('lets an allowed address pair carry a VIP', async () => {
    await vms.a1.exec(['ip', 'addr', 'add', '10.50.0.200/24', 'dev', 'eth0']);
    expect(await pings(vms.a2, '10.50.0.200', 2)).toBe(false);
    await f.api('PUT', `/v2.0/ports/${ports.a1.id}`, { port: { allowed_address_pairs: [{ ip_address: '10.50.0.200' }] } }, WAIT);
    await expectPing(f, vms.a2, '10.50.0.200', true);
    await f.api('PUT', `/v2.0/ports/${ports.a1.id}`, { port: { allowed_address_pairs: [] } }, WAIT);
    await vms.a2.exec(['ip', 'neigh', 'flush', 'all']);
    expect(await pings(vms.a2, '10.50.0.200', 2)).toBe(false);
  }, 60_000);

  it('marks a port DOWN when unplugged and ACTIVE again when plugged back', async () => {
    await f.lab.unplug(vms.a3);
    await f.until('a3 DOWN', async () => (await portStatus(f, ports.a3.id)) === 'DOWN');
    vms.a3 = await plug(f, 'h1', ports.a3, 'a3');
    await expectPing(f, vms.a1, '10.50.0.13', true);
  }, 60_000);
});
