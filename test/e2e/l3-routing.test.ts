// Routing through a virtual router with real packets: a VM configured by DHCP reaches the outside
// (SNAT to the router's gateway address), two subnets of one router reach each other without NAT,
// an extra route sends a prefix to a VM that routes it (and stops when the route goes), and
// removing a router interface cuts that subnet off while the other keeps working.
//
//   outside (198.51.100.100, flat physnet1) ── qg ─ router (gateway host h1) ─ qr-A ── 10.66.0.0/24 (DHCP)
//                                                                            │          dh (h2, by DHCP)
//                                                                            │          nh (h2, 10.66.0.50) ── far (192.168.77.5)
//                                                                            └ qr-B ── 10.66.1.0/24
//                                                                                       vb (h1, 10.66.1.10)
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFabric, PROBE, type Fabric } from '../helpers/fabric.ts';
import { network, pings, port, portStatus, subnet, type Port } from '../helpers/fabric-model.ts';
import { attachExternal, type ExternalHost } from '../../lab/lab-external.ts';
import { run, type RunResult } from '../../agent/host/exec.ts';
import { createNetns, createVethPair } from '../../agent/host/netns.ts';
import { execIn, spawnIn } from '../../lab/lab-process.ts';
import type { LabVm } from '../../lab/lab.ts';

const P = 'project-l3-routing';
const OUTSIDE = '198.51.100.100';
const NET_A = '10.66.0.0/24';
const GW_A = '10.66.0.1';
const DNS_A = '10.66.0.53';
const NET_B = '10.66.1.0/24';
const GW_B = '10.66.1.1';
const VB_IP = '10.66.1.10';
const NH_IP = '10.66.0.50';
const BEHIND = '192.168.77.0/24';
const BEHIND_GW = '192.168.77.1';
const BEHIND_IP = '192.168.77.5';

let f: Fabric;
let ext: ExternalHost;
let extNet = '';
let subA = '';
let subB = '';
let router: any;
let gwIp = '';
let routerNs = '';
let ifA: { port_id: string; mac: string };
let ifB: { port_id: string; mac: string };
let dhLease = '';
let dhIp = '';
const vms: Record<string, LabVm> = {};
const ports: Record<string, Port> = {};

const UDHCPC_SCRIPT = `#!/bin/sh
echo "$1 ip=$ip mask=$mask router=$router dns=$dns mtu=$mtu" >> "$WEFT_DHCP_LOG"
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/\${mask:-24}" dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done ;;
esac
exit 0
`;

/** An API call that returns the status instead of throwing (for the refusals). */
async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${f.controller.url}${path}`, {
    method,
    headers: { 'x-auth-token': f.controller.adminToken, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const ask = async (from: { exec: LabVm['exec'] }, ip: string, dport = 7000) =>
  (await from.exec([process.execPath, PROBE, 'ask', ip, String(dport), '1500'])).stdout.trim();

/** Waits until ping gets through (the dataplane applies API changes asynchronously). */
const untilPing = (vm: LabVm, ip: string, timeoutMs = 30_000) =>
  f.until(`${vm.name} pings ${ip}`, async () => pings(vm, ip), timeoutMs);

/** Three echo requests, none answered. Callers first wait for the change to be in place. */
async function expectNoPing(vm: LabVm, ip: string): Promise<void> {
  expect(await pings(vm, ip, 3), `${vm.name} must not reach ${ip}`).toBe(false);
}

/**
 * Runs argv in the router's namespace. The agent runs under `ip netns exec`, i.e. in a mount
 * namespace of its own, so the bind mount behind /run/netns/<router namespace> exists only there
 * (from ours, `ip netns exec` of it fails with EINVAL): enter the h1 agent's mount namespace first.
 */
async function inRouter(argv: string[]): Promise<RunResult> {
  const pids = (await run('ip', ['netns', 'pids', f.lab.host('h1').netns])).stdout.split(/\s+/).filter(Boolean);
  const agent = pids.find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('agent/main.ts');
    } catch {
      return false;
    }
  });
  if (!agent) throw new Error('no weft-agent process in h1');
  return run('nsenter', ['-t', agent, '-m', 'ip', 'netns', 'exec', routerNs, ...argv], { allowFail: true });
}

async function serveName(v: { spawn: LabVm['spawn'] }, name: string, dport = 7000): Promise<void> {
  const server = v.spawn([process.execPath, PROBE, 'serve-name', String(dport), name]);
  await f.until(`${name} serves its name`, async () => server.output().includes('listening'));
}

async function staticVm(host: string, name: string, net: string, ip: string, gateway: string, extra: Record<string, unknown> = {}): Promise<LabVm> {
  const p = await port(f, P, net, host, { name, fixed_ips: [{ ip_address: ip }], ...extra });
  ports[name] = p;
  const v = await f.lab.plug(host, { name, portId: p.id, mac: p.mac_address, ip: `${ip}/24`, gateway });
  await f.until(`${name} ACTIVE`, async () => (await portStatus(f, p.id)) === 'ACTIVE');
  await serveName(v, name);
  return v;
}

async function routerInterface(subnetId: string): Promise<{ port_id: string; mac: string }> {
  const added = await f.api('PUT', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: subnetId });
  const { port: p } = await f.api('GET', `/v2.0/ports/${added.port_id}`);
  return { port_id: added.port_id, mac: p.mac_address };
}

const qr = (portId: string) => `qr-${portId.slice(0, 11)}`;

beforeAll(async () => {
  f = await createFabric({ hosts: ['h1', 'h2'], provider: true });
  ext = await attachExternal(f.lab, `${OUTSIDE}/24`, 'out');
  await serveName(ext, 'outside', 7100);
  extNet = await network(f, 'admin-project', {
    name: 'ext-l3-routing', 'router:external': true, 'provider:network_type': 'flat', 'provider:physical_network': 'physnet1',
  });
  await subnet(f, 'admin-project', extNet, '198.51.100.0/24', {
    gateway_ip: OUTSIDE, allocation_pools: [{ start: '198.51.100.10', end: '198.51.100.99' }],
  });
  const netA = await network(f, P, { name: 'l3r-a' });
  subA = await subnet(f, P, netA, NET_A, { enable_dhcp: true, gateway_ip: GW_A, dns_nameservers: [DNS_A] });
  const netB = await network(f, P, { name: 'l3r-b' });
  subB = await subnet(f, P, netB, NET_B, { gateway_ip: GW_B });

  ({ router } = await f.api('POST', '/v2.0/routers', { router: { name: 'r-routing', project_id: P, external_gateway_info: { network_id: extNet } } }));
  ifA = await routerInterface(subA);
  ifB = await routerInterface(subB);
  ({ router } = await f.api('GET', `/v2.0/routers/${router.id}`));
  gwIp = router.external_gateway_info.external_fixed_ips[0].ip_address;
  // The router lives on the gateway host h1 (ties go to the smallest host name): all its ports are bound there.
  const { ports: rports } = await f.api('GET', `/v2.0/ports?device_id=${router.id}`);
  expect(rports).toHaveLength(3);
  expect(rports.map((p: any) => p['binding:host_id'])).toEqual(['h1', 'h1', 'h1']);
  routerNs = `${f.lab.prefix}-h1-qr-${router.id}`;

  // dh: a VM with no static address; it asks DHCP (busybox udhcpc) for address, gateway, DNS and MTU.
  const dir = f.lab.runRoot;
  writeFileSync(join(dir, 'udhcpc.sh'), UDHCPC_SCRIPT, { mode: 0o755 });
  const dhPort = await port(f, P, netA, 'h2', { name: 'dh', fixed_ips: [{ subnet_id: subA }] });
  ports.dh = dhPort;
  dhIp = dhPort.fixed_ips[0].ip_address;
  vms.dh = await f.lab.plug('h2', { name: 'dh', portId: dhPort.id, mac: dhPort.mac_address });
  await f.until('dh ACTIVE', async () => (await portStatus(f, dhPort.id)) === 'ACTIVE');
  const log = join(dir, 'dh-dhcp.log');
  const r = await vms.dh.exec(['timeout', '20', 'env', `WEFT_DHCP_LOG=${log}`, 'busybox', 'udhcpc', '-i', 'eth0', '-f', '-n', '-q',
    '-t', '5', '-T', '1', '-A', '1', '-s', join(dir, 'udhcpc.sh')]);
  expect(r.code, r.stderr).toBe(0);
  dhLease = readFileSync(log, 'utf8').split('\n').find((l) => l.startsWith('bound')) ?? '';
  await serveName(vms.dh, 'dh');

  vms.vb = await staticVm('h1', 'vb', netB, VB_IP, GW_B);

  // nh: a VM that routes 192.168.77.0/24 (forwarding on) to `far`, a namespace behind it on a
  // veth (no Weft port). nh's port may send from that prefix (allowed address pair) and admits
  // ICMP and the probe port from anywhere.
  const { security_group: open } = await f.api('POST', '/v2.0/security-groups', { security_group: { name: 'nh-open', project_id: P } });
  for (const rule of [{ protocol: 'icmp' }, { protocol: 'tcp', port_range_min: 7000, port_range_max: 7000 }]) {
    await f.api('POST', '/v2.0/security-group-rules', { security_group_rule: {
      security_group_id: open.id, direction: 'ingress', ethertype: 'IPv4', remote_ip_prefix: '0.0.0.0/0', ...rule,
    } });
  }
  vms.nh = await staticVm('h2', 'nh', netA, NH_IP, GW_A, {
    allowed_address_pairs: [{ ip_address: BEHIND }], security_groups: [dhPort.security_groups[0], open.id],
  });
  // The lab's prefix: lab.destroy() kills what runs in it and deletes it with the VMs.
  const farNs = `${f.lab.prefix}-vm-far`;
  await createNetns(farNs);
  await createVethPair({ ns: farNs, name: 'eth0', peerNs: vms.nh.netns, peerName: 'far0', up: false });
  for (const [ns, argv] of [
    [farNs, ['ip', 'link', 'set', 'lo', 'up']],
    [farNs, ['ethtool', '-K', 'eth0', 'tx', 'off']],
    [farNs, ['ip', 'addr', 'add', `${BEHIND_IP}/24`, 'dev', 'eth0']],
    [farNs, ['ip', 'link', 'set', 'eth0', 'up']],
    [farNs, ['ip', 'route', 'add', 'default', 'via', BEHIND_GW]],
    [vms.nh.netns, ['ethtool', '-K', 'far0', 'tx', 'off']],
    [vms.nh.netns, ['ip', 'addr', 'add', `${BEHIND_GW}/24`, 'dev', 'far0']],
    [vms.nh.netns, ['ip', 'link', 'set', 'far0', 'up']],
    [vms.nh.netns, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']],
  ] as const) {
    const res = await execIn(ns, argv);
    expect(res.code, `${argv.join(' ')}: ${res.stderr}`).toBe(0);
  }
  await serveName({ spawn: (argv) => spawnIn(farNs, argv) }, 'far');
  // The outside sends 192.168.77.0/24 to the router's gateway address (as an upstream would).
  const res = await ext.exec(['ip', 'route', 'add', BEHIND, 'via', gwIp]);
  expect(res.code, res.stderr).toBe(0);
}, 240_000);
afterAll(async () => f?.destroy(), 60_000);

describe('routing through a virtual router', () => {
  it('a VM configured by DHCP reaches the outside, SNATed to the router gateway address', async () => {
    expect(dhLease).toContain(`ip=${dhIp} `);
    expect(dhLease).toContain('mask=24 ');
    expect(dhLease).toContain(`router=${GW_A} `);
    expect(dhLease).toContain(`dns=${DNS_A} `);
    expect(dhLease).toContain('mtu=1450');
    expect((await vms.dh.exec(['ip', '-4', 'route', 'show', 'default'])).stdout).toContain(`via ${GW_A}`);

    await untilPing(vms.dh, OUTSIDE, 60_000);
    const seen = await f.lab.tcpdump({ netns: ext.netns } as LabVm, ['-c', '1', 'icmp[icmptype] == icmp-echo'], async () => {
      await vms.dh.exec(['ping', '-c', '2', '-W', '1', OUTSIDE]);
    });
    expect(seen).toContain(`${gwIp} > ${OUTSIDE}`);
    expect(seen).not.toContain(dhIp);
    // TCP as well: the outside's server answers a connection from dh.
    expect(await ask(vms.dh, OUTSIDE, 7100)).toBe('outside');
  }, 120_000);

  it('forwards between two subnets of the router without NAT', async () => {
    await untilPing(vms.dh, VB_IP);
    await untilPing(vms.vb, dhIp);
    expect(await ask(vms.dh, VB_IP)).toBe('vb');
    expect(await ask(vms.vb, dhIp)).toBe('dh');
    // At vb, dh's packets come from the router's leg on B, with dh's own address as source.
    const atVb = await f.lab.tcpdump(vms.vb, ['-c', '1', 'icmp[icmptype] == icmp-echo'], async () => {
      await vms.dh.exec(['ping', '-c', '2', '-W', '1', VB_IP]);
    });
    expect(atVb).toContain(`${ifB.mac} > ${vms.vb.mac}`);
    expect(atVb).toContain(`${dhIp} > ${VB_IP}`);
    // And the other way, at dh (over the tunnel to h2), from the router's leg on A.
    const atDh = await f.lab.tcpdump(vms.dh, ['-c', '1', 'icmp[icmptype] == icmp-echo'], async () => {
      await vms.vb.exec(['ping', '-c', '2', '-W', '1', dhIp]);
    });
    expect(atDh).toContain(`${ifA.mac} > ${vms.dh.mac}`);
    expect(atDh).toContain(`${VB_IP} > ${dhIp}`);
  }, 90_000);

  it('sends an extra route\'s prefix to its nexthop VM, and stops when the route goes', async () => {
    // Without the route, the router sends 192.168.77.0/24 to its default gateway (the outside), which drops it.
    await untilPing(vms.vb, NH_IP);
    await expectNoPing(vms.vb, BEHIND_IP);

    // Neutron's validation: the nexthop must be on a subnet of the router, and not the router itself.
    const unreachable = await call('PUT', `/v2.0/routers/${router.id}`, { router: { routes: [{ destination: BEHIND, nexthop: '10.99.0.5' }] } });
    expect(unreachable.status).toBe(400);
    expect(unreachable.body.NeutronError.type).toBe('InvalidRoutes');
    expect(unreachable.body.NeutronError.message).toContain('the nexthop is not connected with router');
    const own = await call('PUT', `/v2.0/routers/${router.id}`, { router: { routes: [{ destination: BEHIND, nexthop: GW_A }] } });
    expect(own.status).toBe(400);
    expect(own.body.NeutronError.type).toBe('InvalidRoutes');

    const route = { destination: BEHIND, nexthop: NH_IP };
    const { router: withRoute } = await f.api('PUT', `/v2.0/routers/${router.id}`, { router: { routes: [route] } });
    expect(withRoute.routes).toEqual([route]);
    await untilPing(vms.vb, BEHIND_IP);
    expect((await inRouter(['ip', '-4', 'route', 'show', BEHIND])).stdout).toContain(`via ${NH_IP}`);
    await f.until('the outside reaches far, behind nh', async () => (await ask(ext, BEHIND_IP)) === 'far', 30_000);
    // nh gets the outside's own address (no SNAT toward an internal subnet), from the router's leg on A.
    const atNh = await f.lab.tcpdump(vms.nh, ['-c', '1', `icmp[icmptype] == icmp-echo and dst host ${BEHIND_IP}`], async () => {
      await ext.exec(['ping', '-c', '2', '-W', '1', BEHIND_IP]);
    });
    expect(atNh).toContain(`${ifA.mac} > ${vms.nh.mac}`);
    expect(atNh).toContain(`${OUTSIDE} > ${BEHIND_IP}`);

    // The interface the route's nexthop needs cannot be removed.
    const inUse = await call('PUT', `/v2.0/routers/${router.id}/remove_router_interface`, { subnet_id: subA });
    expect(inUse.status).toBe(409);
    expect(inUse.body.NeutronError.type).toBe('RouterInterfaceInUseByRoute');

    const { router: without } = await f.api('PUT', `/v2.0/routers/${router.id}`, { router: { routes: [] } });
    expect(without.routes).toEqual([]);
    await f.until('the route is gone from the router namespace', async () => {
      const r = await inRouter(['ip', '-4', 'route', 'show', BEHIND]);
      return r.code === 0 && r.stdout.trim() === '';
    });
    await expectNoPing(vms.vb, BEHIND_IP);
    expect(await ask(ext, BEHIND_IP)).not.toBe('far');
    // nh itself is still reachable through the router.
    expect(await pings(vms.vb, NH_IP, 2)).toBe(true);
  }, 120_000);

  it('removing a router interface cuts its subnet off and leaves the other one working', async () => {
    await untilPing(vms.vb, OUTSIDE);
    await untilPing(vms.dh, OUTSIDE);
    await untilPing(vms.dh, VB_IP);

    const removed = await f.api('PUT', `/v2.0/routers/${router.id}/remove_router_interface`, { subnet_id: subB });
    expect(removed).toMatchObject({ id: router.id, port_id: ifB.port_id, subnet_id: subB });
    expect((await call('GET', `/v2.0/ports/${ifB.port_id}`)).status).toBe(404);
    await f.until('the router leg on B is gone from the router namespace', async () => {
      const links = await inRouter(['ip', '-o', 'link', 'show']);
      return links.code === 0 && links.stdout.includes(qr(ifA.port_id)) && !links.stdout.includes(qr(ifB.port_id));
    });
    // A route via B is no longer valid: B is not on the router any more.
    const stale = await call('PUT', `/v2.0/routers/${router.id}`, { router: { routes: [{ destination: BEHIND, nexthop: VB_IP }] } });
    expect(stale.status).toBe(400);
    expect(stale.body.NeutronError.type).toBe('InvalidRoutes');

    await expectNoPing(vms.vb, OUTSIDE);
    await expectNoPing(vms.vb, dhIp);
    await expectNoPing(vms.dh, VB_IP);
    expect(await ask(vms.dh, VB_IP)).not.toBe('vb');
    expect(await ask(vms.vb, OUTSIDE, 7100)).not.toBe('outside');
    // Subnet A keeps its way out.
    expect(await pings(vms.dh, OUTSIDE, 2)).toBe(true);
    expect(await ask(vms.dh, OUTSIDE, 7100)).toBe('outside');

    // Attached again (a new port with the same gateway address), B is back.
    ifB = await routerInterface(subB);
    await untilPing(vms.vb, OUTSIDE, 60_000);
    await untilPing(vms.dh, VB_IP);
  }, 150_000);
});
