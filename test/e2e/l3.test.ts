// Virtual routers on a gateway host: SNAT to the outside, a floating IP, and its remap.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFabric, PROBE, type Fabric } from '../helpers/fabric.ts';
import { network, port, portStatus, subnet } from '../helpers/fabric-model.ts';
import { attachExternal, type ExternalHost } from '../../lab/lab-external.ts';
import type { LabVm } from '../../lab/lab.ts';
import { pingLosses } from '../helpers/ping.ts';

const P = 'project-l3';
let f: Fabric;
let ext: ExternalHost;
let extNet = '';
let router: any;
const vms: Record<string, LabVm> = {};
const portIds: Record<string, string> = {};

async function vm(host: string, name: string, net: string, ip: string): Promise<LabVm> {
  const p = await port(f, P, net, host, { name, fixed_ips: [{ ip_address: ip }] });
  portIds[name] = p.id;
  const v = await f.lab.plug(host, { name, portId: p.id, mac: p.mac_address, ip: `${ip}/24`, gateway: '10.20.0.1' });
  await f.until(`${name} ACTIVE`, async () => (await portStatus(f, p.id)) === 'ACTIVE');
  for (const mode of ['serve-name', 'serve-udp-name']) {
    const server = v.spawn([process.execPath, PROBE, mode, mode === 'serve-name' ? '7000' : '7001', name]);
    await f.until(`${name} ${mode}`, async () => server.output().includes('listening'));
  }
  return v;
}

const ask = async (from: { exec: LabVm['exec'] }, ip: string, dport = 7000) =>
  (await from.exec([process.execPath, PROBE, 'ask', ip, String(dport), '1500'])).stdout.trim();

beforeAll(async () => {
  f = await createFabric({ hosts: ['h1', 'h2'], provider: true });
  ext = await attachExternal(f.lab, '172.31.200.100/24');
  extNet = await network(f, 'admin-project', {
    'router:external': true, 'provider:network_type': 'flat', 'provider:physical_network': 'physnet1',
  });
  await subnet(f, 'admin-project', extNet, '172.31.200.0/24', {
    gateway_ip: '172.31.200.100', allocation_pools: [{ start: '172.31.200.10', end: '172.31.200.99' }],
  });
  const net = await network(f, P);
  const sub = await subnet(f, P, net, '10.20.0.0/24', { gateway_ip: '10.20.0.1' });
  ({ router } = await f.api('POST', '/v2.0/routers', { router: { name: 'r1', project_id: P, external_gateway_info: { network_id: extNet } } }));
  await f.api('PUT', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: sub });
  ({ router } = await f.api('GET', `/v2.0/routers/${router.id}`));
  vms.v1 = await vm('h2', 'v1', net, '10.20.0.5');
  vms.v2 = await vm('h2', 'v2', net, '10.20.0.6');
}, 180_000);
afterAll(async () => f?.destroy(), 60_000);

describe('virtual routers', () => {
  it('SNATs a VM to the router gateway address', async () => {
    const gw = router.external_gateway_info.external_fixed_ips[0].ip_address;
    await f.until('v1 reaches the outside', async () => (await vms.v1.exec(['ping', '-c1', '-W1', '172.31.200.100'])).code === 0, 60_000);
    const seen = await f.lab.tcpdump({ netns: ext.netns } as LabVm, ['-c', '1', 'icmp'], async () => {
      await vms.v1.exec(['ping', '-c', '2', '-W', '1', '172.31.200.100']);
    });
    expect(seen).toContain(`${gw} > 172.31.200.100`);
  }, 90_000);

  it('carries a floating IP to its VM and moves it with one PUT', async () => {
    // As in Neutron, the default group admits nothing from outside: open the probe port.
    const { port: p1 } = await f.api('GET', `/v2.0/ports/${portIds.v1}`);
    await f.api('POST', '/v2.0/security-group-rules', { security_group_rule: {
      security_group_id: p1.security_groups[0], direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp',
      port_range_min: 7000, port_range_max: 7000, remote_ip_prefix: '0.0.0.0/0',
    } });
    await f.api('POST', '/v2.0/security-group-rules', { security_group_rule: {
      security_group_id: p1.security_groups[0], direction: 'ingress', ethertype: 'IPv4', protocol: 'udp',
      port_range_min: 7001, port_range_max: 7001, remote_ip_prefix: '0.0.0.0/0',
    } });
    const { floatingip: fip } = await f.api('POST', '/v2.0/floatingips', {
      floatingip: { floating_network_id: extNet, project_id: P, port_id: portIds.v1 },
    });
    await f.until('the floating IP answers from v1', async () => (await ask(ext, fip.floating_ip_address)) === 'v1', 30_000);
    // An established UDP flow (fixed 5-tuple) that must follow the remap, not be black-holed.
    const stream = ext.spawn([process.execPath, PROBE, 'udp-stream', fip.floating_ip_address, '7001', '40001']);
    const replies = () => stream.output().split('\n').filter((l) => l.startsWith('reply '));
    await f.until('the UDP flow gets answers from v1', async () => replies().filter((l) => l === 'reply v1').length >= 5);
    // The remap is announced on the external network by a gratuitous ARP.
    const announced = await f.lab.tcpdump({ netns: ext.netns } as LabVm, [`arp and src host ${fip.floating_ip_address}`], async () => {
      await f.api('PUT', `/v2.0/floatingips/${fip.id}`, { floatingip: { port_id: portIds.v2 } });
      await f.until('the floating IP answers from v2', async () => (await ask(ext, fip.floating_ip_address)) === 'v2', 30_000);
    });
    const fipRe = fip.floating_ip_address.replace(/\./g, '\\.');
    expect(announced).toMatch(new RegExp(`who-has ${fipRe}( \\([^)]*\\))? tell ${fipRe}`));
    await f.until('the established UDP flow now gets answers from v2', async () => replies().at(-1) === 'reply v2', 10_000);
    await stream.stop('SIGTERM');
    await f.until('router and floating IP ACTIVE', async () => {
      const { router: r } = await f.api('GET', `/v2.0/routers/${router.id}`);
      const { floatingip: x } = await f.api('GET', `/v2.0/floatingips/${fip.id}`);
      return r.status === 'ACTIVE' && x.status === 'ACTIVE';
    });
  }, 90_000);

  it('loses no probe through a floating IP while the gateway agent is killed and restarted', async () => {
    const { port: p1 } = await f.api('GET', `/v2.0/ports/${portIds.v1}`);
    await f.api('POST', '/v2.0/security-group-rules', { security_group_rule: {
      security_group_id: p1.security_groups[0], direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp', remote_ip_prefix: '172.31.200.0/24',
    } });
    const { floatingip: fip } = await f.api('POST', '/v2.0/floatingips', {
      floatingip: { floating_network_id: extNet, project_id: P, port_id: portIds.v1 },
    });
    await f.until('the floating IP answers pings', async () => (await ext.exec(['ping', '-c1', '-W1', fip.floating_ip_address])).code === 0, 30_000);
    const probe = ext.spawn(['ping', '-i', '0.05', '-W', '1', fip.floating_ip_address]);
    await f.until('probe running', async () => /icmp_seq=5 /.test(probe.output()));
    const agent = f.agents.get('h1')!; // the gateway host
    await agent.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    const logged = (agent.output().match(/"router applied"/g) ?? []).length;
    agent.start();
    // The new agent reconciles the router namespace it finds (namespace, iptables, the nft table).
    await f.until('the restarted agent applied the router', async () => (agent.output().match(/"router applied"/g) ?? []).length > logged, 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    await probe.stop('SIGINT');
    const count = pingLosses(probe.output());
    expect(count, probe.output()).not.toBeNull();
    expect(count!.sent).toBeGreaterThan(20);
    expect(count!.lost, probe.output()).toEqual([]);
    await f.api('DELETE', `/v2.0/floatingips/${fip.id}`);
  }, 120_000);

  it('a router firewall rule blocks and then allows a port (FWaaS v2)', async () => {
    const outside = ext.spawn([process.execPath, PROBE, 'serve-name', '7100', 'outside']);
    await f.until('outside serves 7100', async () => outside.output().includes('listening'));
    await f.until('v1 reaches outside:7100 through the router', async () => (await ask(vms.v1, '172.31.200.100', 7100)) === 'outside', 30_000);
    // An established TCP stream to a port the rule will deny: the firewall change must cut it too.
    const echo = ext.spawn([process.execPath, PROBE, 'serve-tcp', '7101']);
    await f.until('outside echoes on 7101', async () => echo.output().includes('listening'));
    const stream = vms.v1.spawn([process.execPath, PROBE, 'stream-tcp', '172.31.200.100', '7101']);
    const echoes = () => stream.output().split('\n').filter((l) => l.startsWith('echo ')).length;
    await f.until('the stream is echoed', async () => echoes() >= 5);
    const rule = async (body: Record<string, unknown>) =>
      (await f.api('POST', '/v2.0/fwaas/firewall_rules', { firewall_rule: { project_id: P, ...body } })).firewall_rule;
    const deny7100 = await rule({ name: 'no-7100', protocol: 'tcp', destination_port: '7100:7101', action: 'deny' });
    const allowAll = await rule({ name: 'the-rest', action: 'allow' });
    const { firewall_policy: egress } = await f.api('POST', '/v2.0/fwaas/firewall_policies', {
      firewall_policy: { project_id: P, name: 'out', firewall_rules: [deny7100.id, allowAll.id] },
    });
    const { firewall_policy: ingress } = await f.api('POST', '/v2.0/fwaas/firewall_policies', {
      firewall_policy: { project_id: P, name: 'in', firewall_rules: [(await rule({ name: 'in-any', action: 'allow' })).id] },
    });
    const { ports: legs } = await f.api('GET', `/v2.0/ports?device_id=${router.id}&device_owner=network:router_interface`);
    expect(legs).toHaveLength(1);
    const { firewall_group: group } = await f.api('POST', '/v2.0/fwaas/firewall_groups', { firewall_group: {
      project_id: P, name: 'edge', ingress_firewall_policy_id: ingress.id, egress_firewall_policy_id: egress.id, ports: [legs[0].id],
    } });
    // Blocked: new connections to 7100 from the subnet; everything else still passes.
    await f.until('outside:7100 blocked by the firewall', async () => (await ask(vms.v1, '172.31.200.100', 7100)) !== 'outside', 30_000);
    expect((await vms.v1.exec(['ping', '-c1', '-W1', '172.31.200.100'])).code).toBe(0);
    // The established stream was judged again (its conntrack entry deleted) and is now dropped.
    let seen = -1;
    let since = Date.now();
    await f.until('the established stream stops (no echo for a second)', async () => {
      const now = echoes();
      if (now !== seen) [seen, since] = [now, Date.now()];
      return Date.now() - since >= 1000;
    }, 30_000);
    await stream.stop('SIGTERM');
    await echo.stop('SIGTERM');
    // Allowed again: the rule turns into allow.
    await f.api('PUT', `/v2.0/fwaas/firewall_rules/${deny7100.id}`, { firewall_rule: { action: 'allow' } });
    await f.until('outside:7100 allowed again', async () => (await ask(vms.v1, '172.31.200.100', 7100)) === 'outside', 30_000);
    await f.until('firewall group ACTIVE', async () => (await f.api('GET', `/v2.0/fwaas/firewall_groups/${group.id}`)).firewall_group.status === 'ACTIVE');
    // Without the group, nothing filters.
    await f.api('PUT', `/v2.0/fwaas/firewall_groups/${group.id}`, { firewall_group: { ports: [] } });
    await f.api('DELETE', `/v2.0/fwaas/firewall_groups/${group.id}`);
    await outside.stop('SIGTERM');
  }, 120_000);

  it('forwards a port of a floating IP to a VM (port forwarding)', async () => {
    const { floatingip: fip } = await f.api('POST', '/v2.0/floatingips', { floatingip: { floating_network_id: extNet, project_id: P } });
    expect(await ask(ext, fip.floating_ip_address, 2222)).not.toBe('v1');
    await f.api('POST', `/v2.0/floatingips/${fip.id}/port_forwardings`, { port_forwarding: {
      protocol: 'tcp', external_port: 2222, internal_port: 7000, internal_port_id: portIds.v1, internal_ip_address: '10.20.0.5',
    } });
    await f.until('the forwarded port answers from v1', async () => (await ask(ext, fip.floating_ip_address, 2222)) === 'v1', 30_000);
    expect(await ask(ext, fip.floating_ip_address, 7000)).not.toBe('v1');
  }, 60_000);
});
