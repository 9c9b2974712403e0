// DHCPv4 answered by each host's agent for its own ports: busybox udhcpc and ISC dhclient get
// their address, gateway, DNS, MTU and host routes; a subnet without DHCP gets no answer; a model
// change reaches a client at renewal.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFabric, type Fabric } from '../helpers/fabric.ts';
import { network, port, portStatus, subnet, type Port } from '../helpers/fabric-model.ts';
import type { LabVm } from '../../lab/lab.ts';

const P = 'project-d';
const LEASE = 12;
let f: Fabric;
let net = '';
let sub = '';
let dir = '';

const UDHCPC_SCRIPT = `#!/bin/sh
echo "$1 ip=$ip mask=$mask router=$router dns=$dns mtu=$mtu lease=$lease domain=$domain hostname=$hostname serverid=$serverid staticroutes=$staticroutes" >> "$WEFT_DHCP_LOG"
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/\${mask:-24}" dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu" ;;
esac
exit 0
`;

// dhclient runs its script with a clean environment, so the log path is written into the script.
const dhclientScript = (log: string) => `#!/bin/sh
echo "$reason ip=$new_ip_address mask=$new_subnet_mask routers=$new_routers dns=$new_domain_name_servers mtu=$new_interface_mtu domain=$new_domain_name" >> ${log}
case "$reason" in BOUND|RENEW|REBIND|REBOOT) ip addr add "$new_ip_address/24" dev "$interface" ;; esac
exit 0
`;

async function vmOn(host: string, name: string, subnetId = sub): Promise<{ vm: LabVm; p: Port }> {
  const p = await port(f, P, net, host, { name, fixed_ips: [{ subnet_id: subnetId }] });
  const vm = await f.lab.plug(host, { name, portId: p.id, mac: p.mac_address });
  await f.until(`${name} ACTIVE`, async () => (await portStatus(f, p.id)) === 'ACTIVE');
  return { vm, p };
}

const udhcpc = (vm: LabVm, log: string, extra: string[]) =>
  ['env', `WEFT_DHCP_LOG=${log}`, 'busybox', 'udhcpc', '-i', 'eth0', '-f', '-t', '5', '-T', '1', '-A', '1', '-s', join(dir, 'udhcpc.sh'), ...extra];

beforeAll(async () => {
  f = await createFabric({ hosts: ['h1', 'h2'], controllerEnv: { WEFT_DHCP_LEASE_DURATION: String(LEASE) } });
  dir = f.lab.runRoot;
  writeFileSync(join(dir, 'udhcpc.sh'), UDHCPC_SCRIPT, { mode: 0o755 });
  writeFileSync(join(dir, 'dhclient.sh'), dhclientScript(join(dir, 'c2.log')), { mode: 0o755 });
  writeFileSync(join(dir, 'dhclient.conf'), 'timeout 10;\nretry 1;\nrequest subnet-mask, broadcast-address, routers, domain-name, domain-name-servers, interface-mtu;\n');
  net = await network(f, P);
  sub = await subnet(f, P, net, '10.95.0.0/24', {
    enable_dhcp: true, gateway_ip: '10.95.0.1', dns_nameservers: ['10.95.0.53'],
    host_routes: [{ destination: '192.168.50.0/24', nexthop: '10.95.0.254' }],
  });
}, 120_000);
afterAll(async () => f?.destroy(), 60_000);

describe('DHCP', () => {
  it('busybox udhcpc gets address, gateway, DNS, MTU, domain and host routes', async () => {
    const { vm, p } = await vmOn('h1', 'c1');
    const log = join(dir, 'c1.log');
    const r = await vm.exec(['timeout', '15', ...udhcpc(vm, log, ['-n', '-q'])]);
    expect(r.code, r.stderr).toBe(0);
    const { readFileSync } = await import('node:fs');
    const bound = readFileSync(log, 'utf8').split('\n').find((l) => l.startsWith('bound'))!;
    expect(bound).toContain(`ip=${p.fixed_ips[0].ip_address} `);
    expect(bound).toContain('mask=24 ');
    expect(bound).toContain('router=10.95.0.1 ');
    expect(bound).toContain('dns=10.95.0.53 ');
    expect(bound).toContain('mtu=1450 ');
    expect(bound).toContain(`lease=${LEASE} `);
    expect(bound).toContain('domain=openstacklocal ');
    expect(bound).toContain('serverid=10.95.0.1 ');
    expect(bound).toMatch(/staticroutes=.*192\.168\.50\.0\/24 10\.95\.0\.254/);
    expect((await vm.exec(['ip', '-4', 'addr', 'show', 'eth0'])).stdout).toContain(`${p.fixed_ips[0].ip_address}/24`);
  }, 60_000);

  it('dhclient gets its lease from the agent on the other host, and the two can talk', async () => {
    const { vm, p } = await vmOn('h2', 'c2');
    const log = join(dir, 'c2.log');
    const r = await vm.exec(['timeout', '20', 'dhclient', '-1', '-cf', join(dir, 'dhclient.conf'),
      '-lf', join(dir, 'c2.leases'), '-pf', join(dir, 'c2.pid'), '-sf', join(dir, 'dhclient.sh'), 'eth0']);
    await vm.exec(['dhclient', '-x', '-pf', join(dir, 'c2.pid'), '-lf', join(dir, 'c2.leases'), '-sf', join(dir, 'dhclient.sh'), 'eth0']);
    expect(r.code, r.stderr).toBe(0);
    const { readFileSync } = await import('node:fs');
    const bound = readFileSync(log, 'utf8').split('\n').find((l) => /^(BOUND|REBOOT)/.test(l))!;
    expect(bound).toContain(`ip=${p.fixed_ips[0].ip_address} `);
    expect(bound).toContain('mask=255.255.255.0 ');
    expect(bound).toContain('routers=10.95.0.1 ');
    expect(bound).toContain('dns=10.95.0.53 ');
    expect(bound).toContain('mtu=1450 ');
    expect(bound).toContain('domain=openstacklocal');
    const c1 = (await f.api('GET', `/v2.0/ports?name=c1`)).ports[0].fixed_ips[0].ip_address;
    await f.until('c2 pings c1', async () => (await vm.exec(['ping', '-c1', '-W2', c1])).code === 0);
  }, 60_000);

  it('gives no answer on a subnet without DHCP', async () => {
    const quiet = await subnet(f, P, net, '10.96.0.0/24', { enable_dhcp: false });
    const { vm } = await vmOn('h1', 'c3', quiet);
    const r = await vm.exec(['timeout', '15', ...udhcpc(vm, join(dir, 'c3.log'), ['-n', '-q', '-t', '2'])]);
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(/no lease/);
  }, 60_000);

  it('hands a changed DNS server, host route and fixed IP to a running client at renewal', async () => {
    const { vm, p } = await vmOn('h2', 'c4');
    const log = join(dir, 'c4.log');
    const client = vm.spawn(udhcpc(vm, log, []));
    const { readFileSync, existsSync } = await import('node:fs');
    const lines = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n') : []);
    await f.until('c4 bound', async () => lines().some((l) => l.startsWith('bound') && l.includes('dns=10.95.0.53 ')));
    await f.api('PUT', `/v2.0/subnets/${sub}`, { subnet: { dns_nameservers: ['10.95.0.54'] } });
    await f.until('renewal with the new DNS server', async () =>
      lines().some((l) => l.startsWith('renew') && l.includes('dns=10.95.0.54 ')), LEASE * 1000 + 10_000);
    // A new address: the renewal asks for the old one, gets a NAK, and the client starts over.
    await f.api('PUT', `/v2.0/subnets/${sub}`, { subnet: { host_routes: [{ destination: '192.168.60.0/24', nexthop: '10.95.0.254' }] } });
    await f.api('PUT', `/v2.0/ports/${p.id}`, { port: { fixed_ips: [{ subnet_id: sub, ip_address: '10.95.0.200' }] } });
    await f.until('bound to the new address with the new route', async () =>
      lines().some((l) => l.startsWith('bound') && l.includes('ip=10.95.0.200 ') && l.includes('192.168.60.0/24 10.95.0.254')),
    LEASE * 1000 + 10_000);
    await client.stop('SIGTERM');
  }, 120_000);
});
