import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type ControllerProcess } from '../helpers/controller-process.ts';

// A new user's first hour with Weft, through the real openstack CLI (python-openstackclient,
// openstacksdk, keystoneauth) against a real controller process with static tokens and no
// Keystone. The CLI uses keystoneauth's admin_token plugin from a clouds.yaml in a temp dir:
// every request goes to the controller with X-Auth-Token. Every step checks the CLI's exit
// code and its own (-f json) output. The steps build on each other and run in order.

const OPENSTACK = '/usr/bin/openstack';
const NEUTRON = '/usr/bin/neutron';
const MEMBER_TOKEN = 'member-token-0123456789abcdef';
const MEMBER_PROJECT = '5e1f0c0ffee0000000000000000000aa';

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

let ctl: ControllerProcess;
let home: string;
let adminProject: string;

/** Run a CLI with a clean environment: nothing from ~/.config/openstack or OS_* leaks in. */
function exec(bin: string, args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> {
  const env = {
    PATH: '/usr/bin:/bin',
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    LANG: 'C.UTF-8',
    PYTHONWARNINGS: 'ignore',
    OS_CLIENT_CONFIG_FILE: join(home, 'clouds.yaml'),
    ...extraEnv,
  };
  return new Promise((resolve) => {
    execFile(bin, args, { env, timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** WEFT_E2E_DEBUG=1 adds --debug: failures then show every HTTP request and response. */
const DEBUG = process.env.WEFT_E2E_DEBUG ? ['--debug'] : [];
const trace: string[] = [];
async function cli(args: string[], cloud = 'admin'): Promise<CliResult> {
  const r = await exec(OPENSTACK, ['--os-cloud', cloud, ...DEBUG, ...args]);
  if (DEBUG.length) trace.push(`### openstack ${args.join(' ')} (${cloud}) -> ${r.code}`, ...r.stderr.split('\n').filter((l) => /^(REQ: curl|RESP: \[|RESP BODY)/.test(l)));
  return r;
}

const show = (r: CliResult, args: string[]) =>
  `openstack ${args.join(' ')} exited ${r.code}\n--- stderr ---\n${r.stderr}\n--- stdout ---\n${r.stdout}`;

/** Run, expect exit 0, return the parsed -f json output (or undefined when nothing printed). */
async function ok(args: string[], cloud = 'admin'): Promise<any> {
  const r = await cli(args, cloud);
  if (r.code !== 0) throw new Error(show(r, args));
  const out = r.stdout.trim();
  if (!out) return undefined;
  try {
    return JSON.parse(out);
  } catch {
    return out;
  }
}

/** Same with `-f json` appended. */
const json = (args: string[], cloud = 'admin') => ok([...args, '-f', 'json'], cloud);

/** Run, expect a non-zero exit, return stderr. */
async function fails(args: string[], cloud = 'admin'): Promise<string> {
  const r = await cli(args, cloud);
  if (r.code === 0) throw new Error(`expected failure but it succeeded:\n${show(r, args)}`);
  return r.stderr;
}

const ids = (rows: any[]) => rows.map((r) => r.ID ?? r.id);
const ipsOf = (port: any): string[] => (port.fixed_ips as Array<{ ip_address: string }>).map((f) => f.ip_address);
const v4 = (ip: string) => /^\d+\.\d+\.\d+\.\d+$/.test(ip);
const inRange = (ip: string, lo: number, hi: number, prefix = '10.0.0.') =>
  ip.startsWith(prefix) && Number(ip.slice(prefix.length)) >= lo && Number(ip.slice(prefix.length)) <= hi;

// State shared by the ordered steps.
const s: Record<string, any> = {};

beforeAll(async () => {
  expect(existsSync(OPENSTACK), 'python3-openstackclient is installed (scripts/system-deps.sh)').toBe(true);
  ctl = await startController({ tokens: [{ token: MEMBER_TOKEN, project_id: MEMBER_PROJECT, roles: ['member'], user_id: 'bob' }] });
  home = join(ctl.dataDir, 'cli-home');
  mkdirSync(home, { recursive: true });
  const tokens = JSON.parse(readFileSync(join(ctl.dataDir, 'tokens.json'), 'utf8')).tokens;
  adminProject = tokens[ctl.adminToken].project_id;
  const cloud = (token: string) => `    auth_type: admin_token\n    auth:\n      endpoint: ${ctl.url}\n      token: ${token}\n`;
  writeFileSync(join(home, 'clouds.yaml'), `clouds:\n  admin:\n${cloud(ctl.adminToken)}  member:\n${cloud(MEMBER_TOKEN)}`);
});

afterAll(async () => {
  if (DEBUG.length && process.env.WEFT_E2E_TRACE) writeFileSync(process.env.WEFT_E2E_TRACE, `${trace.join('\n')}\n`);
  await ctl?.cleanup();
  if (ctl) expect(existsSync(ctl.dataDir)).toBe(false);
});

describe('the openstack CLI against a Weft controller (static tokens, no Keystone)', { timeout: 180_000 }, () => {
  it('creates, lists, shows and updates a network', async () => {
    const net = await json(['network', 'create', '--tag', 'e2e', '--description', 'first network', 'net1']);
    expect(net).toMatchObject({ name: 'net1', description: 'first network', status: 'ACTIVE', admin_state_up: true, project_id: adminProject });
    expect(net.tags).toEqual(['e2e']);
    s.net = net.id;
    const [listed, shown] = await Promise.all([json(['network', 'list', '--tags', 'e2e']), json(['network', 'show', 'net1'])]);
    expect(ids(listed)).toEqual([net.id]);
    expect(shown).toMatchObject({ id: net.id, 'provider:network_type': 'vxlan', mtu: 1450, tags: ['e2e'] });
    expect(await ok(['network', 'set', '--name', 'net-a', '--description', 'tenant network', net.id])).toBeUndefined();
    const renamed = await json(['network', 'show', net.id]);
    expect(renamed).toMatchObject({ name: 'net-a', description: 'tenant network' });
    expect(renamed.revision_number).toBeGreaterThan(net.revision_number);
  });

  it('creates IPv4 and IPv6 subnets and updates one', async () => {
    const [sub4, sub6] = await Promise.all([
      json(['subnet', 'create', '--network', 'net-a', '--subnet-range', '10.0.0.0/24', '--dns-nameserver', '10.0.0.53',
        '--allocation-pool', 'start=10.0.0.10,end=10.0.0.100', '--host-route', 'destination=192.168.0.0/24,gateway=10.0.0.254', 'sub4']),
      json(['subnet', 'create', '--network', 'net-a', '--ip-version', '6', '--subnet-range', 'fd00:1::/64',
        '--ipv6-ra-mode', 'slaac', '--ipv6-address-mode', 'slaac', 'sub6']),
    ]);
    expect(sub4).toMatchObject({ name: 'sub4', network_id: s.net, cidr: '10.0.0.0/24', ip_version: 4, gateway_ip: '10.0.0.1', enable_dhcp: true });
    expect(sub4.allocation_pools).toEqual([{ start: '10.0.0.10', end: '10.0.0.100' }]);
    expect(sub4.dns_nameservers).toEqual(['10.0.0.53']);
    expect(sub4.host_routes).toEqual([{ destination: '192.168.0.0/24', nexthop: '10.0.0.254' }]);
    s.sub4 = sub4.id;
    expect(sub6).toMatchObject({ cidr: 'fd00:1::/64', ip_version: 6, ipv6_ra_mode: 'slaac', ipv6_address_mode: 'slaac', gateway_ip: 'fd00:1::1' });
    s.sub6 = sub6.id;
    expect(await ok(['subnet', 'set', '--name', 'sub4-web', '--dns-nameserver', '10.0.0.54', 'sub4'])).toBeUndefined();
    const [shown, listed] = await Promise.all([json(['subnet', 'show', s.sub4]), json(['subnet', 'list', '--network', 'net-a'])]);
    expect(shown.name).toBe('sub4-web');
    expect(shown.dns_nameservers).toEqual(['10.0.0.54', '10.0.0.53']); // `subnet set` adds (OSC sends new + old, in that order)
    expect(ids(listed).sort()).toEqual([s.sub4, s.sub6].sort());
    const net = await json(['network', 'show', s.net]);
    expect([...net.subnets].sort()).toEqual([s.sub4, s.sub6].sort());
  });

  it('creates ports with a chosen and an automatic address', async () => {
    const p1 = await json(['port', 'create', '--network', 'net-a', '--fixed-ip', 'subnet=sub4-web,ip-address=10.0.0.20', 'p1']);
    expect(p1).toMatchObject({ name: 'p1', network_id: s.net, admin_state_up: true, device_owner: '' });
    expect(p1.mac_address).toMatch(/^fa:16:3e(:[0-9a-f]{2}){3}$/);
    expect(p1.fixed_ips).toContainEqual({ subnet_id: s.sub4, ip_address: '10.0.0.20' });
    s.p1 = p1.id;
    const p2 = await json(['port', 'create', '--network', 'net-a', 'p2']);
    const p2v4 = ipsOf(p2).filter(v4);
    expect(p2v4).toHaveLength(1);
    expect(inRange(p2v4[0], 10, 100)).toBe(true); // inside the allocation pool
    expect(ipsOf(p2).some((ip) => ip.startsWith('fd00:1:'))).toBe(true); // SLAAC address from sub6
    expect(p2.security_group_ids).toHaveLength(1); // the project's default group
    s.p2 = p2.id;
    s.p2ip = p2v4[0];
    s.defaultSg = p2.security_group_ids[0];
    const listed = await json(['port', 'list', '--network', 'net-a']);
    expect(ids(listed)).toEqual(expect.arrayContaining([s.p1, s.p2]));
    expect(listed.find((r: any) => r.ID === s.p1)?.['Fixed IP Addresses']).toContainEqual({ subnet_id: s.sub4, ip_address: '10.0.0.20' });
    expect(await ok(['port', 'set', '--name', 'p1-web', 'p1'])).toBeUndefined();
    const shown = await json(['port', 'show', 'p1-web']);
    expect(shown).toMatchObject({ id: s.p1, name: 'p1-web' });
  });

  it('manages a security group and its rules and attaches it to a port', async () => {
    const sg = await json(['security', 'group', 'create', '--description', 'web servers', 'web']);
    expect(sg).toMatchObject({ name: 'web', description: 'web servers', project_id: adminProject });
    expect(sg.rules.filter((r: any) => r.direction === 'egress').map((r: any) => r.ethertype).sort()).toEqual(['IPv4', 'IPv6']);
    s.sg = sg.id;
    const [ssh, icmp, peers] = await Promise.all([
      json(['security', 'group', 'rule', 'create', '--protocol', 'tcp', '--dst-port', '22', '--remote-ip', '10.1.0.0/16', 'web']),
      json(['security', 'group', 'rule', 'create', '--protocol', 'icmp', 'web']),
      json(['security', 'group', 'rule', 'create', '--protocol', 'tcp', '--dst-port', '8000:8080', '--remote-group', 'web', 'web']),
    ]);
    expect(ssh).toMatchObject({ security_group_id: sg.id, direction: 'ingress', ether_type: 'IPv4', protocol: 'tcp',
      port_range_min: 22, port_range_max: 22, remote_ip_prefix: '10.1.0.0/16', remote_group_id: null });
    expect(icmp).toMatchObject({ protocol: 'icmp', direction: 'ingress', port_range_min: null, port_range_max: null });
    expect(peers).toMatchObject({ remote_group_id: sg.id, port_range_min: 8000, port_range_max: 8080, remote_ip_prefix: null });
    const rules = await json(['security', 'group', 'rule', 'list', 'web']);
    expect(ids(rules)).toEqual(expect.arrayContaining([ssh.id, icmp.id, peers.id]));
    expect(rules).toHaveLength(5); // + the two default egress rules
    const [deleted, attached] = await Promise.all([
      ok(['security', 'group', 'rule', 'delete', icmp.id]),
      ok(['port', 'set', '--security-group', 'web', 'p1-web']),
    ]);
    expect([deleted, attached]).toEqual([undefined, undefined]);
    const after = await json(['security', 'group', 'rule', 'list', 'web']);
    expect(ids(after)).not.toContain(icmp.id);
    expect(after).toHaveLength(4);
    const port = await json(['port', 'show', s.p1]);
    expect([...port.security_group_ids].sort()).toEqual([s.defaultSg, sg.id].sort()); // `port set` adds
  });

  it('routes to an external network and moves a floating IP between ports', async () => {
    const ext = await json(['network', 'create', '--external', '--provider-network-type', 'flat', '--provider-physical-network', 'ext', 'ext-net']);
    expect(ext).toMatchObject({ 'router:external': true, 'provider:network_type': 'flat', 'provider:physical_network': 'ext', 'provider:segmentation_id': null });
    s.ext = ext.id;
    const extSub = await json(['subnet', 'create', '--network', 'ext-net', '--subnet-range', '203.0.113.0/24', '--no-dhcp',
      '--allocation-pool', 'start=203.0.113.10,end=203.0.113.200', 'ext-sub']);
    expect(extSub).toMatchObject({ enable_dhcp: false, gateway_ip: '203.0.113.1' });
    const router = await json(['router', 'create', 'r1']);
    expect(router).toMatchObject({ name: 'r1', admin_state_up: true, external_gateway_info: null });
    s.router = router.id;
    expect(await ok(['router', 'set', '--external-gateway', 'ext-net', 'r1'])).toBeUndefined();
    expect(await ok(['router', 'add', 'subnet', 'r1', 'sub4-web'])).toBeUndefined();
    const shown = await json(['router', 'show', 'r1']);
    expect(shown.external_gateway_info).toMatchObject({ network_id: ext.id, enable_snat: true });
    const gwIps = shown.external_gateway_info.external_fixed_ips as any[];
    expect(gwIps).toHaveLength(1);
    expect(gwIps[0]).toMatchObject({ subnet_id: extSub.id });
    expect(inRange(gwIps[0].ip_address, 10, 200, '203.0.113.')).toBe(true);
    expect(shown.interfaces_info).toContainEqual(expect.objectContaining({ subnet_id: s.sub4, ip_address: '10.0.0.1' }));

    const fip = await json(['floating', 'ip', 'create', 'ext-net']);
    expect(fip).toMatchObject({ floating_network_id: ext.id, port_id: null, fixed_ip_address: null, router_id: null });
    expect(inRange(fip.floating_ip_address, 10, 200, '203.0.113.')).toBe(true);
    expect(fip.floating_ip_address).not.toBe(gwIps[0].ip_address);
    expect(await ok(['floating', 'ip', 'set', '--port', 'p1-web', fip.id])).toBeUndefined();
    expect(await json(['floating', 'ip', 'show', fip.id])).toMatchObject({ port_id: s.p1, fixed_ip_address: '10.0.0.20', router_id: router.id });
    expect(await ok(['floating', 'ip', 'set', '--port', 'p2', fip.id])).toBeUndefined();
    expect(await json(['floating', 'ip', 'show', fip.floating_ip_address])).toMatchObject({ port_id: s.p2, fixed_ip_address: s.p2ip, router_id: router.id });
    expect(await ok(['floating', 'ip', 'unset', '--port', fip.id])).toBeUndefined();
    expect(await json(['floating', 'ip', 'show', fip.id])).toMatchObject({ port_id: null, fixed_ip_address: null, router_id: null });
    expect(await ok(['floating', 'ip', 'delete', fip.id])).toBeUndefined();
    expect(ids(await json(['floating', 'ip', 'list']))).not.toContain(fip.id);

    expect(await ok(['router', 'remove', 'subnet', 'r1', 'sub4-web'])).toBeUndefined();
    expect(await ok(['router', 'unset', '--external-gateway', 'r1'])).toBeUndefined();
    const bare = await json(['router', 'show', 'r1']);
    expect(bare.external_gateway_info).toBeNull();
    expect(bare.interfaces_info).toEqual([]);
    expect(await ok(['router', 'delete', 'r1'])).toBeUndefined();
    expect(ids(await json(['router', 'list']))).not.toContain(router.id);
  });

  it('shows and sets network quotas (admin)', async () => {
    // `openstack quota show|set` (OSC 6.0) resolve the project through Keystone and also call
    // Nova and Cinder, which a Keystone-less setup cannot serve; python-neutronclient's CLI
    // (a dependency of python3-openstackclient) drives the same /v2.0/quotas API directly.
    const neutron = async (args: string[]) => {
      const r = await exec(NEUTRON, ['--os-cloud', 'admin', ...args, '-f', 'json']);
      if (r.code !== 0) throw new Error(show(r, ['(neutron)', ...args]));
      return JSON.parse(r.stdout);
    };
    const before = await neutron(['quota-show', '--tenant-id', adminProject]);
    expect(before).toMatchObject({ network: 100, subnet: 100, port: 500, router: 10, floatingip: 50, security_group: 10, security_group_rule: 100 });
    expect(await neutron(['quota-update', '--tenant-id', adminProject, '--network', '5'])).toMatchObject({ network: 5, subnet: 100 });
    expect(await neutron(['quota-show', '--tenant-id', adminProject])).toMatchObject({ network: 5, subnet: 100, port: 500 });
  });

  it('refuses to delete a network with ports, then deletes it', async () => {
    const err = await fails(['network', 'delete', s.net]);
    expect(err).toMatch(/ports still in use|in use/i);
    expect(err).toContain('409');
    expect((await json(['network', 'show', s.net])).id).toBe(s.net);
    expect(await ok(['port', 'delete', s.p1, s.p2])).toBeUndefined();
    expect(await ok(['network', 'delete', s.net])).toBeUndefined();
    const gone = await fails(['network', 'show', s.net]);
    expect(gone).toMatch(/No Network found|could not be found/i);
  });

  it("keeps a member from seeing the admin's network", async () => {
    const hidden = await json(['network', 'create', 'admin-only']);
    const [listed, showErr, deleteErr, mine] = await Promise.all([
      json(['network', 'list'], 'member'),
      fails(['network', 'show', hidden.id], 'member'),
      fails(['network', 'delete', hidden.id], 'member'),
      json(['network', 'create', 'bobs-net'], 'member'),
    ]);
    expect(ids(listed)).not.toContain(hidden.id);
    if (s.ext) expect(ids(listed)).toContain(s.ext); // external networks are visible to everyone
    expect(showErr).toMatch(/No Network found for/);
    expect(deleteErr).toMatch(/No Network found for|1 of 1 networks failed to delete/);
    expect(mine.project_id).toBe(MEMBER_PROJECT);
    expect(ids(await json(['network', 'list']))).toEqual(expect.arrayContaining([hidden.id, mine.id])); // admin sees all
  });

  it('still answers the same CLI after the controller is killed with SIGKILL and restarted', async () => {
    const before = ids(await json(['network', 'list']));
    const pid = ctl.pid;
    expect(await ctl.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    expect(ctl.running).toBe(false);
    expect((await cli(['network', 'list'])).code).not.toBe(0); // nobody listening
    await ctl.restart();
    expect(ctl.pid).not.toBe(pid);
    expect(ids(await json(['network', 'list'])).sort()).toEqual(before.sort());
  });
});
