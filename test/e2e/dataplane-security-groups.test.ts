// Stateful security groups with conntrack on a real two-host fabric.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFabric, PROBE, type Fabric } from '../helpers/fabric.ts';
import { expectPing, network, plug, port, subnet, type Port } from '../helpers/fabric-model.ts';
import type { LabVm } from '../../lab/lab.ts';

const WAIT = { 'x-weft-wait-dataplane': '15' };
const P = 'project-s';
let f: Fabric;
const vms: Record<string, LabVm> = {};
const ports: Record<string, Port> = {};
const groups: Record<string, string> = {};
let netId = '';

async function tcpOk(from: LabVm, ip: string, dport: number): Promise<boolean> {
  const r = await from.exec([process.execPath, PROBE, 'connect-tcp', ip, String(dport), '1500']);
  return r.code === 0;
}

beforeAll(async () => {
  f = await createFabric({ hosts: ['h1', 'h2'] });
  const net = await network(f, P);
  netId = net;
  await subnet(f, P, net, '10.60.0.0/24');
  for (const name of ['web', 'clients']) {
    const { security_group: g } = await f.api('POST', '/v2.0/security-groups', { security_group: { name, project_id: P } });
    groups[name] = g.id;
  }
  const layout: [string, string, string, string[] | undefined][] = [
    ['s1', 'h1', '10.60.0.11', undefined], // the project's default group
    ['s2', 'h2', '10.60.0.12', undefined],
    ['web', 'h2', '10.60.0.13', [groups.web]],
    ['client', 'h1', '10.60.0.14', [groups.clients]],
  ];
  for (const [name, host, ip, sg] of layout) {
    ports[name] = await port(f, P, net, host, { fixed_ips: [{ ip_address: ip }], name, ...(sg ? { security_groups: sg } : {}) });
    vms[name] = await plug(f, host, ports[name], name);
  }
  for (const server of [vms.web.spawn([process.execPath, PROBE, 'serve-tcp', '22']), vms.s1.spawn([process.execPath, PROBE, 'serve-tcp', '22'])]) {
    await f.until('probe server listening', async () => server.output().includes('listening'));
  }
}, 180_000);
afterAll(async () => f?.destroy(), 60_000);

describe('security groups', () => {
  it('the default group lets its members talk and blocks everyone else', async () => {
    await expectPing(f, vms.s1, '10.60.0.12', true);
    await expectPing(f, vms.s2, '10.60.0.11', true);
    expect(await tcpOk(vms.s2, '10.60.0.11', 22)).toBe(true);
    expect(await tcpOk(vms.client, '10.60.0.11', 22)).toBe(false);
    await expectPing(f, vms.client, '10.60.0.11', false);
  }, 60_000);

  it('a tcp/22 rule from a remote group admits its members only, with replies', async () => {
    expect(await tcpOk(vms.client, '10.60.0.13', 22)).toBe(false);
    const { security_group_rule: rule } = await f.api('POST', '/v2.0/security-group-rules', {
      security_group_rule: {
        security_group_id: groups.web, direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp',
        port_range_min: 22, port_range_max: 22, remote_group_id: groups.clients,
      },
    }, WAIT);
    await f.until('client reaches web:22', () => tcpOk(vms.client, '10.60.0.13', 22));
    expect(await tcpOk(vms.s1, '10.60.0.13', 22)).toBe(false);
    // Nothing else of web is open to the client.
    await expectPing(f, vms.client, '10.60.0.13', false);

    // Membership changes update the flows: s1 joins clients and gets in.
    await f.api('PUT', `/v2.0/ports/${ports.s1.id}`, { port: { security_groups: [ports.s1.security_groups[0], groups.clients] } }, WAIT);
    await f.until('s1 reaches web:22 as a member', () => tcpOk(vms.s1, '10.60.0.13', 22));

    // An established connection, then the rule goes: new connections fail and the old one is cut.
    const stream = vms.client.spawn([process.execPath, PROBE, 'stream-tcp', '10.60.0.13', '22']);
    await f.until('stream echoes', async () => (stream.output().match(/echo/g) ?? []).length > 5);
    await f.api('DELETE', `/v2.0/security-group-rules/${rule.id}`, undefined, WAIT);
    expect(await tcpOk(vms.client, '10.60.0.13', 22)).toBe(false);
    expect(await tcpOk(vms.s1, '10.60.0.13', 22)).toBe(false);
    // Some echoes may still be in flight; after that, none.
    await new Promise((r) => setTimeout(r, 500));
    const before = (stream.output().match(/echo/g) ?? []).length;
    await new Promise((r) => setTimeout(r, 1000));
    expect((stream.output().match(/echo/g) ?? []).length).toBe(before);
  }, 90_000);

  it('filters IPv6 the same way: members talk, others are blocked', async () => {
    const v6 = await subnet(f, P, netId, 'fd00:60::/64');
    const v4 = (await f.api('GET', `/v2.0/subnets?network_id=${netId}&ip_version=4`)).subnets[0].id;
    const dual = async (name: string, host: string, last: number, sg?: string) => {
      const p = await port(f, P, netId, host, {
        name, ...(sg ? { security_groups: [sg] } : {}),
        fixed_ips: [{ subnet_id: v4, ip_address: `10.60.0.${last}` }, { subnet_id: v6, ip_address: `fd00:60::${last}` }],
      });
      const vm = await f.lab.plug(host, { name, portId: p.id, mac: p.mac_address, ip: `10.60.0.${last}/24`, ip6: `fd00:60::${last}/64` });
      await f.until(`${name} ACTIVE`, async () => (await f.api('GET', `/v2.0/ports/${p.id}`)).port.status === 'ACTIVE');
      return vm;
    };
    const d1 = await dual('d1', 'h1', 31);
    const d2 = await dual('d2', 'h2', 32);
    const d3 = await dual('d3', 'h2', 33, groups.clients);
    d1.spawn([process.execPath, PROBE, 'serve-tcp', '22']);
    await f.until('ping6 between members', async () => (await d2.exec(['ping', '-6', '-c1', '-W2', 'fd00:60::31'])).code === 0);
    await f.until('tcp6 between members', () => tcpOk(d2, 'fd00:60::31', 22));
    expect((await d3.exec(['ping', '-6', '-c2', '-W1', 'fd00:60::31'])).code).not.toBe(0);
    expect(await tcpOk(d3, 'fd00:60::31', 22)).toBe(false);
  }, 90_000);
});
