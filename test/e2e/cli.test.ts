// The `weft` command line end to end: a controller process and a two-host lab with agents
// (test/helpers/fabric.ts), and the real bin/weft.mjs run as a child process, as an operator would:
// status, plug two ports into a host and ping between them, trace with our table names and the
// verdict, move a floating IP and see it answer from outside, clear errors with non-zero exits;
// then `lab up` / `lab down` against a controller of their own. Every namespace carries the lab's
// per-run prefix, and everything is removed even when a test fails.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processAlive } from '../../agent/host/local-ovs.ts';
import { listNetns, netnsExists } from '../../agent/host/netns.ts';
import { attachExternal, type ExternalHost } from '../../lab/lab-external.ts';
import { openLab } from '../../lab/lab.ts';
import { execIn } from '../../lab/lab-process.ts';
import { freePort, startController, type ControllerProcess } from '../helpers/controller-process.ts';
import { createFabric, type Fabric } from '../helpers/fabric.ts';
import { network, port, portStatus, subnet, type Port } from '../helpers/fabric-model.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const WEFT = join(REPO, 'bin/weft.mjs');
const P = 'cli-project';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs bin/weft.mjs with `env` over a clean WEFT_/OS_ environment. */
function weft(args: string[], env: Record<string, string> = {}, timeoutMs = 90_000): Promise<Ran> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(WEFT_|OS_)/.test(k))) as Record<string, string>;
  return new Promise((ok) => {
    const child = spawn(process.execPath, [WEFT, ...args], { env: { ...base, ...env }, cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(t);
      ok({ code, stdout, stderr });
    });
  });
}

const show = (r: Ran) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
const json = (r: Ran) => {
  expect(r.code, show(r)).toBe(0);
  return JSON.parse(r.stdout);
};

let f: Fabric;
let ext: ExternalHost;
let api: Record<string, string>;
/** plug/unplug/trace on h1's switch, as an operator on that host would point the CLI at it. */
let onH1: Record<string, string>;
let onH1Args: string[];
const ports: Record<string, Port> = {};
let gatewayIp: string;

beforeAll(async () => {
  f = await createFabric({ hosts: ['h1', 'h2'], provider: true });
  api = { WEFT_URL: f.controller.url, OS_TOKEN: f.controller.adminToken };
  onH1 = { ...api, WEFT_RUN_DIR: f.lab.host('h1').runDir };
  onH1Args = ['--host-netns', f.lab.host('h1').netns];
  ext = await attachExternal(f.lab, '203.0.113.100/24');
  const extNet = await network(f, 'admin-project', {
    name: 'ext', 'router:external': true, 'provider:network_type': 'flat', 'provider:physical_network': 'physnet1',
  });
  await subnet(f, 'admin-project', extNet, '203.0.113.0/24', { gateway_ip: '203.0.113.100', allocation_pools: [{ start: '203.0.113.10', end: '203.0.113.99' }] });
  const net = await network(f, P);
  const sub = await subnet(f, P, net, '10.70.0.0/24', { gateway_ip: '10.70.0.1' });
  gatewayIp = '10.70.0.1';
  const { router } = await f.api('POST', '/v2.0/routers', { router: { name: 'r1', project_id: P, external_gateway_info: { network_id: extNet } } });
  await f.api('PUT', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: sub });
  const { security_group: locked } = await f.api('POST', '/v2.0/security-groups', { security_group: { name: 'locked', project_id: P } });
  ports.a = await port(f, P, net, 'h1', { name: 'cli-a' });
  ports.b = await port(f, P, net, '', { name: 'cli-b' }); // unbound: `weft plug --host h1` binds it, as Nova would
  ports.c = await port(f, P, net, 'h1', { name: 'cli-c', security_groups: [locked.id] });
  ports.d = await port(f, P, net, 'h2', { name: 'cli-d' });
  // Pings from outside reach the VMs (Neutron's default group admits nothing from outside).
  await f.api('POST', '/v2.0/security-group-rules', { security_group_rule: {
    security_group_id: ports.a.security_groups[0], direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp', remote_ip_prefix: '0.0.0.0/0',
  } });
}, 180_000);
afterAll(async () => f?.destroy(), 90_000);

describe('weft against a fabric', () => {
  it('status --json: agents alive with their lag, ports not ACTIVE', async () => {
    const s = json(await weft(['status', '--json'], api));
    expect(s.controller).toBe(f.controller.url);
    expect(s.revision).toEqual(expect.any(Number));
    expect(s.agents.map((a: any) => a.host)).toEqual(['h1', 'h2']);
    for (const a of s.agents) {
      expect(a.alive).toBe(true);
      expect(a.lag).toBeGreaterThanOrEqual(0);
      expect(a.applied_revision).toBeLessThanOrEqual(s.revision);
    }
    const down = s.ports_not_active.map((p: any) => p.name);
    expect(down).toEqual(expect.arrayContaining(['cli-a', 'cli-b', 'cli-c', 'cli-d']));
    expect(s.ports_not_active.find((p: any) => p.name === 'cli-a')).toMatchObject({ id: ports.a!.id, status: 'DOWN', host: 'h1' });
    const text = await weft(['status'], api);
    expect(text.code, show(text)).toBe(0);
    expect(text.stdout).toMatch(/agents: 2 \(2 alive\)/);
    expect(text.stdout).toMatch(/^\s+h1\s+yes\s+\d+\s+\d+/m);
  }, 60_000);

  it('plugs two ports into h1 as VM namespaces that ping each other', async () => {
    const a = json(await weft(['plug', 'cli-a', '--name', `${f.lab.prefix}-vm-a`, ...onH1Args, '--json'], onH1));
    expect(a).toMatchObject({ port_id: ports.a!.id, netns: `${f.lab.prefix}-vm-a`, status: 'ACTIVE', ip: `${ports.a!.fixed_ips[0]!.ip_address}/24`, gateway: gatewayIp, host: 'h1' });
    const b = json(await weft(['plug', ports.b!.id, '--host', 'h1', '--name', `${f.lab.prefix}-vm-b`, ...onH1Args, '--json'], onH1));
    expect(b).toMatchObject({ port_id: ports.b!.id, status: 'ACTIVE', host: 'h1' });
    const c = await weft(['plug', 'cli-c', '--name', `${f.lab.prefix}-vm-c`, ...onH1Args], onH1);
    expect(c.code, show(c)).toBe(0);
    expect(c.stdout).toContain(`plugged port cli-c (${ports.c!.id}) into namespace ${f.lab.prefix}-vm-c`);
    expect(c.stderr).toContain('waiting for port'); // progress goes to stderr
    // The OVS port is wired like Nova's.
    const tap = b.tap as string;
    expect(await f.lab.host('h1').ovs.vsctl('get', 'interface', tap, 'external_ids:iface-id')).toBe(`"${ports.b!.id}"`);
    const r = await execIn(a.netns, ['ping', '-c', '2', '-W', '2', '-i', '0.2', ports.b!.fixed_ips[0]!.ip_address]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // Plugging it again is refused, clearly.
    const again = await weft(['plug', 'cli-a', ...onH1Args], onH1);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/is plugged already/);
  }, 120_000);

  it('traces a packet through our tables to its output port, a tunnel, or a drop', async () => {
    const local = await weft(['trace', 'cli-a', ports.b!.fixed_ips[0]!.ip_address], onH1);
    expect(local.code, show(local)).toBe(0);
    for (const t of ['classify', 'spoof_guard', 'egress_ct', 'egress_acl', 'l2_lookup', 'ingress_ct', 'ingress_acl', 'output']) {
      expect(local.stdout).toMatch(new RegExp(`^  ${t}\\s`, 'm'));
    }
    expect(local.stdout).toMatch(/goto_table:spoof_guard/);
    expect(local.stdout).toMatch(new RegExp(`verdict: OUTPUT to tap\\S+ \\(ofport \\d+\\): port cli-b \\(${ports.b!.id}\\).*VM namespace ${f.lab.prefix}-vm-b`));

    const remote = json(await weft(['trace', 'cli-a', 'cli-d', '--proto', 'tcp', '--dport', '22', '--json'], onH1));
    expect(remote.flow).toContain('tcp_dst=22');
    expect(remote.verdict.kind).toBe('output');
    expect(remote.verdict.outputs[0]).toMatchObject({ kind: 'tunnel', tunnel_to: f.lab.host('h2').tunnelIp, host: 'h2' });

    const blocked = await weft(['trace', 'cli-a', 'cli-c', '--proto', 'tcp', '--dport', '22'], onH1);
    expect(blocked.code, show(blocked)).toBe(0);
    expect(blocked.stdout).toMatch(/verdict: DROP in table ingress_acl/);

    const out = json(await weft(['trace', 'cli-a', '198.51.100.7', '--json'], onH1));
    expect(out.destination.via).toMatch(/gateway 10\.70\.0\.1.*network:router_interface/);
    expect(out.verdict.kind).toBe('output');
  }, 120_000);

  it('moves a floating IP with --wait and says how long it took', async () => {
    const extNet = (await f.api('GET', '/v2.0/networks?name=ext')).networks[0].id;
    const { floatingip: fip } = await f.api('POST', '/v2.0/floatingips', { floatingip: { floating_network_id: extNet, project_id: P, port_id: ports.a!.id } });
    await f.until('the floating IP answers (on a)', async () => (await ext.exec(['ping', '-c1', '-W1', fip.floating_ip_address])).code === 0, 60_000);
    const moved = json(await weft(['fip', 'move', fip.floating_ip_address, 'cli-b', '--wait', '--json'], api));
    expect(moved).toMatchObject({ floatingip_id: fip.id, from_port_id: ports.a!.id, to_port_id: ports.b!.id, dataplane: 'applied' });
    expect(moved.elapsed_ms).toBeGreaterThan(0);
    expect((await f.api('GET', `/v2.0/floatingips/${fip.id}`)).floatingip.port_id).toBe(ports.b!.id);
    // Seen from outside: b answers now (its address is the one the floating IP maps to).
    await f.until('the floating IP answers (on b)', async () => (await ext.exec(['ping', '-c1', '-W1', fip.floating_ip_address])).code === 0, 30_000);
    const text = await weft(['fip', 'move', fip.id, ports.a!.id], api);
    expect(text.code, show(text)).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^moved ${fip.floating_ip_address.replace(/\./g, '\\.')} to port cli-a .* in \\d+(\\.\\d+)? m?s: accepted by the API`, 'm'));
  }, 120_000);

  it('fails with clear messages and non-zero exits', async () => {
    const unknown = await weft(['trace', 'no-such-port', '10.70.0.9'], onH1);
    expect([unknown.code, unknown.stderr.trim()]).toEqual([1, "weft trace: no port with id or name 'no-such-port'"]);
    const badToken = await weft(['status'], { ...api, OS_TOKEN: 'not-a-token' });
    expect(badToken.code).toBe(1);
    expect(badToken.stderr).toMatch(/refused the token \(401 Unauthorized\)/);
    const down = await weft(['status', '--url', `http://127.0.0.1:${await freePort()}`], api);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach the controller at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    const usage = await weft(['trace', 'cli-a', '--proto', 'sctp'], onH1);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--proto must be one of icmp, tcp, udp/);
    const elsewhere = await weft(['trace', 'cli-d', '10.70.0.9'], onH1);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toMatch(/not plugged into the switch .* bound to host h2/);
    const noSwitch = await weft(['plug', 'cli-d', '--json'], { ...api, WEFT_RUN_DIR: '/tmp/weft-cli-nothing-here' });
    expect(noSwitch.code).toBe(1);
    expect(noSwitch.stderr).toMatch(/no Open vSwitch at unix:\/tmp\/weft-cli-nothing-here\/db\.sock/);
    const missingFip = await weft(['fip', 'move', '203.0.113.250', 'cli-a'], api);
    expect(missingFip.stderr).toMatch(/no floating IP with id or address '203\.0\.113\.250'/);
    expect(missingFip.code).toBe(1);
  }, 120_000);

  it('unplugs by namespace name: the VM is gone and the port goes DOWN', async () => {
    const ns = `${f.lab.prefix}-vm-c`;
    const r = json(await weft(['unplug', ns, ...onH1Args, '--json'], onH1));
    expect(r).toMatchObject({ port_id: ports.c!.id, netns: ns });
    expect(netnsExists(ns)).toBe(false);
    await f.until('cli-c DOWN', async () => (await portStatus(f, ports.c!.id)) === 'DOWN');
    const twice = await weft(['unplug', ns, ...onH1Args], onH1);
    expect(twice.code).toBe(1);
  }, 60_000);
});

/** Polls until fn() is true (20 s). */
async function poll(fn: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('weft lab up / lab down', () => {
  it('brings up hosts with agents on a controller, plugs into one, and removes everything', async () => {
    let controller: ControllerProcess | undefined;
    const dir = mkdtempSync('/tmp/wcl-');
    rmSync(dir, { recursive: true }); // lab up wants to make it
    const prefix = `wc${process.pid.toString(16).slice(-4)}`;
    let env: Record<string, string> = {};
    try {
      controller = await startController({ env: { WEFT_LOG_LEVEL: 'warn' } });
      env = { WEFT_URL: controller.url, OS_TOKEN: controller.adminToken, WEFT_LAB_DIR: dir };
      const up = await weft(['lab', 'up', '--hosts', '2', '--prefix', prefix, '--json'], env, 120_000);
      const lab = json(up);
      expect(lab).toMatchObject({ prefix, hosts: ['h1', 'h2'], runRoot: dir });
      expect(up.stderr).toMatch(/waiting for 2 agent\(s\)/);
      expect((await listNetns(`${prefix}-`)).sort()).toEqual([`${prefix}-fabric`, `${prefix}-h1`, `${prefix}-h2`]);
      const again = await weft(['lab', 'up'], env);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/a lab is up in .* already/);

      const s = json(await weft(['status', '--json'], env));
      expect(s.agents.map((a: any) => [a.host, a.alive])).toEqual([['h1', true], ['h2', true]]);
      const call = (path: string, body: unknown) => fetch(`${controller!.url}${path}`, {
        method: 'POST', headers: { 'x-auth-token': controller!.adminToken, 'content-type': 'application/json' }, body: JSON.stringify(body),
      }).then((r) => r.json());
      const { network: n } = await call('/v2.0/networks', { network: { name: 'labnet' } });
      await call('/v2.0/subnets', { subnet: { network_id: n.id, cidr: '10.80.0.0/24', ip_version: 4 } });
      const { port: p } = await call('/v2.0/ports', { port: { network_id: n.id, name: 'lp' } });
      const plugged = json(await weft(['plug', 'lp', '--lab-host', 'h1', '--json'], env));
      expect(plugged).toMatchObject({ netns: `${prefix}-vm-${p.id.slice(0, 8)}`, status: 'ACTIVE', host: 'h1' });

      // Each lab agent enrolled with its own one-time token; revoking h2's credential cuts its agent off.
      const enrolments = (await fetch(`${controller.url}/v2.0/weft/agent-enrolments`, { headers: { 'x-auth-token': controller.adminToken } }).then((r) => r.json())).agent_enrolments;
      expect(enrolments.map((e: any) => [e.host, e.used]).sort()).toEqual([['h1', true], ['h2', true]]);
      const made = await weft(['agent', 'enrol', 'h3', '--expires', '600'], env);
      expect(made.code, made.stderr).toBe(0);
      expect(made.stdout).toMatch(/^weft-enrol-\S+\n\na one-time enrolment token for host h3, good until \S+ \(it is not shown again\)/);
      const revoked = await weft(['agent', 'revoke', 'h2'], env);
      expect([revoked.code, revoked.stdout.trim()]).toEqual([0, 'revoked the credential of host h2: its agent is disconnected until the host is enrolled again']);
      await poll(async () => json(await weft(['status', '--json'], env)).agents.find((a: any) => a.host === 'h2')?.alive === false);
      expect((await weft(['agent', 'revoke', 'h2'], env)).code).toBe(1);

      const agentPids = Object.values(lab.agents) as number[];
      const down = json(await weft(['lab', 'down', '--json'], env, 120_000));
      expect(down).toMatchObject({ removed: true, prefix });
      expect(await listNetns(`${prefix}-`)).toEqual([]);
      expect(existsSync(dir)).toBe(false);
      for (const pid of agentPids) expect(processAlive(pid)).toBe(false);
      const twice = json(await weft(['lab', 'down', '--json'], env));
      expect(twice.removed).toBe(false);
    } finally {
      // Whatever failed above: nothing of this lab may stay (lab down also stops the root relay).
      if (existsSync(join(dir, 'lab.json'))) await weft(['lab', 'down'], env, 120_000);
      await openLab({ prefix, hosts: ['h1', 'h2'], provider: false, runRoot: dir }).destroy().catch(() => undefined);
      await controller?.cleanup();
    }
  }, 240_000);
});
