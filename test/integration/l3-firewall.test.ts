// The router firewall compiler (agent/l3/firewall-rules.ts) on real iptables (nft backend) in
// throwaway namespaces: every golden scenario restores and reads back through iptables-save
// unchanged (twice: the restore is idempotent), and a small router (office -- rtr -- web) shows
// the semantics with real TCP: allow, reject, the default drop, replies only in a direction
// without a policy, an admin-down group, and east-west traffic needing both ports' policies.
// Namespaces are named fw<run tag><role> and deleted after the suite, even when it fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routerFirewallRules, type FirewallPortSpec } from '../../agent/l3/firewall-rules.ts';
import { createNetns, deleteNetns, execInNetns, ip } from '../../agent/host/netns.ts';
import { run } from '../../agent/host/exec.ts';
import { filterTable, fwPort, fwRule, SCENARIOS } from '../helpers/firewall-scenarios.ts';

const onPath = (b: string): boolean => (process.env.PATH ?? '').split(':').some((d) => existsSync(join(d, b)));
const HAVE_TOOLS = process.getuid?.() === 0 && ['iptables-restore', 'iptables-save', 'ip'].every(onPath);
if (!HAVE_TOOLS) console.warn('l3-firewall: needs root, ip, iptables-restore and iptables-save; suite skipped');

const TAG = randomBytes(3).toString('hex');
const RTR = `fw${TAG}r`;
const OFFICE = `fw${TAG}o`;
const WEB = `fw${TAG}w`;
const SAVE_NS = `fw${TAG}s`;
const ALL = [RTR, OFFICE, WEB, SAVE_NS];

const OFFICE_IP = '10.8.1.5';
const WEB_IP = '10.8.2.10';

const servers: ChildProcess[] = [];

async function restore(ns: string, text: string): Promise<void> {
  const r = await run('ip', ['netns', 'exec', ns, 'iptables-restore'], { input: text, allowFail: true, timeoutMs: 15_000 });
  if (r.code !== 0) throw new Error(`iptables-restore in ${ns} failed: ${r.stderr}\n${text}`);
}

/** iptables-save of the filter table without comments and counters. */
async function savedFilter(ns: string): Promise<string> {
  const out = (await run('ip', ['netns', 'exec', ns, 'iptables-save', '-t', 'filter'], { timeoutMs: 15_000 })).stdout;
  return out.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#')).map((l) => l.replace(/^(:\S+ \S+) \[\d+:\d+\]$/, '$1 [0:0]')).join('\n') + '\n';
}

/** A TCP server in `ns` answering `label` on each port, then closing. */
function startServer(ns: string, label: string, ports: number[]): Promise<void> {
  const code = `const net = require('net'); let left = ${ports.length};
for (const p of ${JSON.stringify(ports)}) net.createServer((s) => s.end('${label}')).listen(p, '0.0.0.0', () => { if (--left === 0) console.log('ready'); });`;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(child);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server in ${ns} did not start`)), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(t);
        resolve();
      }
    });
    child.on('exit', (c) => reject(new Error(`server in ${ns} exited (${c})`)));
  });
}

/** What a TCP connection from `ns` gets: the server's label, ECONNREFUSED (a reject) or TIMEOUT (a drop). */
async function tcp(ns: string, host: string, port: number): Promise<string> {
  const code = `const s = require('net').connect({ host: '${host}', port: ${port} }); let d = '';
s.on('data', (x) => (d += x)); s.on('end', () => { process.stdout.write(d); process.exit(0); });
s.on('error', (e) => { process.stdout.write(e.code || e.message); process.exit(0); });
setTimeout(() => { process.stdout.write('TIMEOUT'); process.exit(0); }, 1500);`;
  return (await execInNetns(ns, process.execPath, ['-e', code], { timeoutMs: 10_000 })).stdout.trim();
}

async function applyFirewall(ports: FirewallPortSpec[]): Promise<void> {
  // A fresh table each time, like the router's whole-table restore; old connections are forgotten.
  await restore(RTR, filterTable(routerFirewallRules(ports)));
  await execInNetns(RTR, 'conntrack', ['-F'], { allowFail: true });
}

async function cleanup(): Promise<void> {
  for (const s of servers) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
  for (const ns of ALL) await deleteNetns(ns).catch(() => undefined);
}

beforeAll(async () => {
  if (!HAVE_TOOLS) return;
  try {
    for (const ns of ALL) await createNetns(ns);
    for (const [host, leg, hostIp, routerIp] of [[OFFICE, 'qr-office', OFFICE_IP, '10.8.1.1'], [WEB, 'qr-web', WEB_IP, '10.8.2.1']] as const) {
      await ip(host, ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', leg, 'netns', RTR]);
      await ip(host, ['addr', 'add', `${hostIp}/24`, 'dev', 'eth0']);
      await ip(host, ['link', 'set', 'eth0', 'up']);
      await ip(host, ['route', 'add', 'default', 'via', routerIp]);
      await ip(RTR, ['addr', 'add', `${routerIp}/24`, 'dev', leg]);
      await ip(RTR, ['link', 'set', leg, 'up']);
    }
    await execInNetns(RTR, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    await startServer(OFFICE, 'office', [7000]);
    await startServer(WEB, 'web', [7001, 7002, 7003]);
  } catch (e) {
    await cleanup();
    throw e;
  }
}, 60_000);

afterAll(cleanup);

describe.skipIf(!HAVE_TOOLS)('router firewall rules in a namespace', () => {
  for (const [name, ports] of Object.entries(SCENARIOS)) {
    it(`${name}: iptables-save reads back the text, and restoring it again changes nothing`, async () => {
      const text = filterTable(routerFirewallRules(ports));
      await restore(SAVE_NS, text);
      expect(await savedFilter(SAVE_NS)).toBe(text);
      await restore(SAVE_NS, text);
      expect(await savedFilter(SAVE_NS)).toBe(text);
    });
  }

  const webIngress = [
    fwRule({ protocol: 'tcp', source: '10.8.1.0/24', destinationPort: [7001, 7001] }),
    fwRule({ protocol: 'tcp', destination: WEB_IP, destinationPort: [7002, 7002], action: 'reject' }),
  ];

  it('ingress policy: allowed, rejected, dropped; without an egress policy only replies leave', async () => {
    await applyFirewall([fwPort('qr-web', { ingress: webIngress })]);
    expect(await tcp(OFFICE, WEB_IP, 7001)).toBe('web'); // allowed, and the replies come back
    expect(await tcp(OFFICE, WEB_IP, 7002)).toBe('ECONNREFUSED'); // reject: icmp-port-unreachable
    expect(await tcp(OFFICE, WEB_IP, 7003)).toBe('TIMEOUT'); // the default drop
    expect(await tcp(WEB, OFFICE_IP, 7000)).toBe('TIMEOUT'); // no egress policy: nothing new leaves web
    expect(await tcp(OFFICE, '10.8.1.1', 22)).toBe('ECONNREFUSED'); // the router itself is not FORWARD
  });

  it('a port in no group, or in a group without policies, passes', async () => {
    await applyFirewall([fwPort('qr-web')]);
    expect(await tcp(WEB, OFFICE_IP, 7000)).toBe('office');
    expect(await tcp(OFFICE, WEB_IP, 7003)).toBe('web');
  });

  it('an admin-down group blocks everything of its port', async () => {
    await applyFirewall([fwPort('qr-web', { adminStateUp: false, ingress: webIngress, egress: [fwRule()] })]);
    expect(await tcp(OFFICE, WEB_IP, 7001)).toBe('TIMEOUT');
    expect(await tcp(WEB, OFFICE_IP, 7000)).toBe('TIMEOUT');
  });

  it('between two filtered ports a connection needs the source\'s egress and the destination\'s ingress', async () => {
    const officeEgress = (port: number) => [fwRule({ protocol: 'tcp', destinationPort: [port, port] })];
    await applyFirewall([fwPort('qr-web', { ingress: webIngress }), fwPort('qr-office', { groupId: 'g2', egress: officeEgress(7001) })]);
    expect(await tcp(OFFICE, WEB_IP, 7001)).toBe('web');
    await applyFirewall([fwPort('qr-web', { ingress: webIngress }), fwPort('qr-office', { groupId: 'g2', egress: officeEgress(7003) })]);
    expect(await tcp(OFFICE, WEB_IP, 7001)).toBe('TIMEOUT'); // web allows it, office's egress does not
    expect(await tcp(OFFICE, WEB_IP, 7003)).toBe('TIMEOUT'); // office allows it, web's ingress does not
  });
});
