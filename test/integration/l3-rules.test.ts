// The router NAT compilers (agent/l3/rules.ts for iptables, floating-nat.ts for the nft table of
// floating IPs) on real iptables-nft and nft in real namespaces, with real packets (ENVIRONMENT §5):
// ext (the external network) -- rtr (qg-test / qr-test) -- vm. Checks that a whole-table restore is
// idempotent and round-trips through iptables-save, that SNAT, floating IPs, hairpin and port
// forwarding work, that a remap moves an established UDP flow with its next packet, and that
// removing a floating IP stops it.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalSave, routerRulesText, type RouterNat } from '../../agent/l3/rules.ts';
import { applyRouterRules, readRouterRules, RouterRulesApplyError } from '../../agent/l3/rules-apply.ts';
import { floatingNatElements, floatingNatSets, floatingNatTableLine, NFT_TABLE } from '../../agent/l3/floating-nat.ts';
import { NftSetWriter } from '../../agent/l3/nft-set-writer.ts';
import { stalePortForwardingCleanups, staleMappingCleanups } from '../../agent/l3/conntrack-cleanups.ts';
import { NftablesClient } from '../../agent/l3/nftables-client.ts';
import { createNetns, deleteNetns, execInNetns, ip } from '../../agent/host/netns.ts';

const onPath = (b: string): boolean => (process.env.PATH ?? '').split(':').some((d) => existsSync(join(d, b)));
const HAVE_TOOLS = process.getuid?.() === 0 && ['iptables-restore', 'iptables-save', 'conntrack', 'tcpdump', 'nft'].every(onPath);
if (!HAVE_TOOLS) console.warn('l3-rules: needs root, iptables-restore/-save, nft, conntrack and tcpdump; suite skipped');

const TAG = randomBytes(3).toString('hex');
const EXT = `l3e${TAG}`;
const RTR = `l3r${TAG}`;
const VM = `l3v${TAG}`;

const GW_IP = '172.31.254.1';
const EXT_IP = '172.31.254.100';
const FIP = '172.31.254.50';
const PF_IP = '172.31.254.51';
const VM_IP = '10.9.0.5'; // has the floating IP
const VM_IP2 = '10.9.0.6'; // second address on the vm, without a floating IP

const NAT: RouterNat = {
  gatewayInterface: 'qg-test',
  gatewayIp: GW_IP,
  enableSnat: true,
  internalCidrs: ['10.9.0.0/24'],
  floatingIps: [{ floating: FIP, fixed: VM_IP }],
  portForwardings: [{ floating: PF_IP, protocol: 'tcp', externalPort: 2222, internalIp: VM_IP, internalPort: 22 }],
};

const servers: ChildProcess[] = [];
let nft: NftablesClient;
let setWriter: NftSetWriter | undefined;

/** A TCP server in `ns`: on each connection it writes `<label> <local addr:port> from <remote addr>` and closes. */
const SERVER = `
const net = require('net');
const [label, ...ports] = process.argv.slice(1);
let left = ports.length;
for (const p of ports) {
  net.createServer((s) => s.end(label + ' ' + s.localAddress + ':' + s.localPort + ' from ' + s.remoteAddress + '\\n'))
    .listen(Number(p), '0.0.0.0', () => { if (--left === 0) console.log('ready'); });
}`;

/** Connects (optionally from `local`), prints what the server sent; exit 1 on error or after 3 s. */
const CLIENT = `
const net = require('net');
const [host, port, local] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port), localAddress: local || undefined });
let data = '';
s.on('data', (d) => (data += d));
s.on('end', () => { process.stdout.write(data); process.exit(0); });
s.on('error', (e) => { process.stderr.write(e.code || e.message); process.exit(1); });
setTimeout(() => { process.stderr.write('TIMEOUT'); process.exit(1); }, 3000);`;

function startServer(ns: string, label: string, ports: number[]): Promise<void> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', SERVER, label, ...ports.map(String)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  servers.push(child);
  return new Promise((resolve, reject) => {
    let err = '';
    const t = setTimeout(() => reject(new Error(`server in ${ns} did not start: ${err}`)), 10_000);
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(t);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`server in ${ns} exited (${code}): ${err}`));
    });
  });
}

async function connect(ns: string, host: string, port: number, local?: string): Promise<{ ok: boolean; out: string }> {
  const r = await execInNetns(ns, process.execPath, ['-e', CLIENT, host, String(port), local ?? ''], {
    allowFail: true,
    timeoutMs: 10_000,
  });
  return { ok: r.code === 0, out: r.code === 0 ? r.stdout.trim() : r.stderr.trim() };
}

async function ping(ns: string, dst: string, from?: string): Promise<boolean> {
  const r = await execInNetns(ns, 'ping', ['-c1', '-W2', ...(from ? ['-I', from] : []), dst], { allowFail: true, timeoutMs: 10_000 });
  return r.code === 0;
}

async function apply(nat: RouterNat): Promise<string> {
  const text = routerRulesText(nat);
  await applyRouterRules(RTR, text);
  await nft.run(RTR, `${floatingNatTableLine(nat)}; ${floatingNatElements(nat)}`);
  return text;
}

/** Every 20 ms from ext port 40000 to HOST:PORT (a fixed 5-tuple); prints each reply's text. */
const UDP_CLIENT = `
const s = require('dgram').createSocket('udp4');
const [host, port] = process.argv.slice(1);
s.bind(40000, () => setInterval(() => s.send('x', Number(port || 7002), host), 20));
s.on('message', (m) => process.stdout.write(m + '\\n'));`;

/** One UDP socket per address, each answering with its own address. */
const UDP_SERVER = `
const [...addrs] = process.argv.slice(1);
let left = addrs.length;
for (const a of addrs) {
  const s = require('dgram').createSocket('udp4');
  s.on('message', (m, r) => s.send(a, r.port, r.address));
  s.bind(7002, a, () => { if (--left === 0) console.log('ready'); });
}`;

/** UDP_CLIENT from ext to HOST:PORT: the replies it got so far (clear() forgets them), and a wait on them. */
function udpFlow(host: string, port?: string) {
  const child = spawn('ip', ['netns', 'exec', EXT, process.execPath, '-e', UDP_CLIENT, host, ...(port ? [port] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(child);
  let seen = '';
  child.stdout!.on('data', (d: Buffer) => (seen += d.toString()));
  return {
    seen: () => seen,
    clear: () => void (seen = ''),
    async until(what: string, ok: () => boolean): Promise<void> {
      for (let i = 0; i < 250 && !ok(); i++) await new Promise((r) => setTimeout(r, 20));
      if (!ok()) throw new Error(`timed out waiting for ${what}; seen: ${seen.slice(-200)}`);
    },
    kill: () => child.kill('SIGKILL'),
  };
}

async function cleanup(): Promise<void> {
  for (const s of servers) {
    if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
  }
  nft?.close();
  setWriter?.close();
  for (const ns of [EXT, RTR, VM]) await deleteNetns(ns).catch(() => undefined);
}

beforeAll(async () => {
  if (!HAVE_TOOLS) return;
  try {
    for (const ns of [EXT, RTR, VM]) await createNetns(ns);
    nft = new NftablesClient();
    setWriter = new NftSetWriter();
    await ip(EXT, ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'qg-test', 'netns', RTR]);
    await ip(VM, ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'qr-test', 'netns', RTR]);
    await ip(EXT, ['addr', 'add', `${EXT_IP}/24`, 'dev', 'eth0']);
    await ip(EXT, ['link', 'set', 'eth0', 'up']);
    await ip(RTR, ['addr', 'add', `${GW_IP}/24`, 'dev', 'qg-test']);
    // Floating addresses on the gateway port, so the router answers ARP for them.
    await ip(RTR, ['addr', 'add', `${FIP}/32`, 'dev', 'qg-test']);
    await ip(RTR, ['addr', 'add', `${PF_IP}/32`, 'dev', 'qg-test']);
    await ip(RTR, ['link', 'set', 'qg-test', 'up']);
    await ip(RTR, ['addr', 'add', '10.9.0.1/24', 'dev', 'qr-test']);
    await ip(RTR, ['link', 'set', 'qr-test', 'up']);
    await ip(VM, ['addr', 'add', `${VM_IP}/24`, 'dev', 'eth0']);
    await ip(VM, ['addr', 'add', `${VM_IP2}/24`, 'dev', 'eth0']);
    await ip(VM, ['link', 'set', 'eth0', 'up']);
    await ip(VM, ['route', 'add', 'default', 'via', '10.9.0.1']);
    await execInNetns(RTR, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    await startServer(EXT, 'ext', [7000]);
    await startServer(VM, 'vm', [22, 7001]);
    const udp = spawn('ip', ['netns', 'exec', VM, process.execPath, '-e', UDP_SERVER, VM_IP, VM_IP2], { stdio: ['ignore', 'pipe', 'pipe'] });
    servers.push(udp);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('udp server did not start')), 10_000);
      udp.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && (clearTimeout(t), resolve()));
    });
  } catch (e) {
    await cleanup();
    throw e;
  }
});

afterAll(async () => {
  await cleanup();
});

describe.skipIf(!HAVE_TOOLS)('router iptables rules in a namespace', () => {
  it('applies idempotently: iptables-save equals the text, before and after a second apply', async () => {
    const text = await apply(NAT);
    const first = canonicalSave(await readRouterRules(RTR));
    expect(first).toBe(text);
    await apply(NAT);
    const second = canonicalSave(await readRouterRules(RTR));
    expect(second).toBe(first);
    for (const c of ['PREROUTING', 'OUTPUT', 'POSTROUTING', 'FORWARD']) {
      expect(second.split('\n').filter((l) => l.startsWith(`-A ${c} `)), c).toHaveLength(1);
    }
  });

  it('SNAT: the vm reaches ext from the gateway IP, or from its floating IP', async () => {
    expect(await ping(VM, EXT_IP)).toBe(true);
    // tcpdump in ext sees the echo request of a vm address without a floating IP coming from the gateway IP.
    const dump = spawn('ip', ['netns', 'exec', EXT, 'tcpdump', '-l', '-c1', '-n', '-i', 'eth0', 'icmp[icmptype] = icmp-echo'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    servers.push(dump);
    let seen = '';
    dump.stdout!.on('data', (d: Buffer) => (seen += d.toString()));
    const done = new Promise<void>((resolve) => dump.on('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('tcpdump did not start')), 10_000);
      dump.stderr!.on('data', (d: Buffer) => {
        if (d.toString().includes('listening on')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    expect(await ping(VM, EXT_IP, VM_IP2)).toBe(true);
    await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
    expect(seen).toMatch(new RegExp(`IP ${GW_IP.replace(/\./g, '\\.')} > ${EXT_IP.replace(/\./g, '\\.')}: ICMP echo request`));

    expect(await connect(VM, EXT_IP, 7000, VM_IP2)).toEqual({ ok: true, out: `ext ${EXT_IP}:7000 from ${GW_IP}` });
    expect(await connect(VM, EXT_IP, 7000, VM_IP)).toEqual({ ok: true, out: `ext ${EXT_IP}:7000 from ${FIP}` });
  });

  it('floating IP: ext reaches the vm (ICMP and TCP); conntrack sees only the fixed address, marked inbound', async () => {
    expect(await ping(EXT, FIP)).toBe(true);
    const ct = await execInNetns(RTR, 'conntrack', ['-L', '-p', 'icmp', '-s', EXT_IP, '-d', VM_IP], { allowFail: true });
    expect(ct.stdout).toContain(`src=${VM_IP} dst=${EXT_IP}`); // the reply direction: the vm answered
    expect(ct.stdout).toContain('mark=1');
    expect(await connect(EXT, FIP, 7001)).toEqual({ ok: true, out: `vm ${VM_IP}:7001 from ${EXT_IP}` });
  });

  it('a remap moves an established UDP flow with its next packet; the old entries go by their mark', async () => {
    const flow = udpFlow(FIP);
    const { until } = flow;
    try {
      await until('replies from the first address', () => flow.seen().includes(VM_IP + '\n'));
      const moved: RouterNat = { ...NAT, floatingIps: [{ floating: FIP, fixed: VM_IP2 }] };
      // What a remap does: only the sets and maps change, in one netlink transaction from the agent's socket.
      await setWriter!.replace(RTR, NFT_TABLE, floatingNatSets(moved));
      flow.clear();
      await until('replies from the new address', () => flow.seen().includes(VM_IP2));
      // The same 5-tuple now has a second conntrack entry; the first one is orphaned, and its clean-up finds it by mark.
      const list = async (): Promise<string> => (await execInNetns(RTR, 'conntrack', ['-L', '-p', 'udp', '--sport', '40000'], { allowFail: true })).stdout;
      expect(await list()).toContain(`dst=${VM_IP} `);
      for (const args of staleMappingCleanups(NAT, moved)) await execInNetns(RTR, 'conntrack', args, { allowFail: true });
      const after = await list();
      expect(after).not.toContain(`dst=${VM_IP} `);
      expect(after).toContain(`dst=${VM_IP2} `);
      flow.clear();
      await until('the flow still answered by the new address', () => flow.seen().includes(VM_IP2));
      expect(flow.seen()).not.toContain(VM_IP + '\n');
      await apply(NAT);
    } finally {
      flow.kill();
    }
  });

  it('hairpin: an internal address reaches the floating IP through the router', async () => {
    expect(await connect(VM, FIP, 7001, VM_IP2)).toEqual({ ok: true, out: `vm ${VM_IP}:7001 from ${GW_IP}` });
  });

  it('port forwarding tcp 2222 -> vm:22', async () => {
    expect(await connect(EXT, PF_IP, 2222)).toEqual({ ok: true, out: `vm ${VM_IP}:22 from ${EXT_IP}` });
    // Only the forwarded port: 22 on the port-forwarding address is the router's own (nothing listens).
    expect((await connect(EXT, PF_IP, 22)).ok).toBe(false);
  });

  it('a changed port forwarding: its established UDP flow moves once the clean-up removes the old DNAT entry', async () => {
    const pfTo = (internalIp: string): RouterNat => ({
      ...NAT,
      portForwardings: [...NAT.portForwardings, { floating: PF_IP, protocol: 'udp', externalPort: 7003, internalIp, internalPort: 7002 }],
    });
    await apply(pfTo(VM_IP));
    const flow = udpFlow(PF_IP, '7003');
    const { until } = flow;
    try {
      await until('replies from the first address', () => flow.seen().includes(VM_IP + '\n'));
      await apply(pfTo(VM_IP2));
      await new Promise((r) => setTimeout(r, 200));
      flow.clear();
      await until('replies still from the old address (conntrack keeps the old DNAT)', () => flow.seen().includes(VM_IP + '\n'));
      for (const args of stalePortForwardingCleanups(pfTo(VM_IP), pfTo(VM_IP2))) await execInNetns(RTR, 'conntrack', args, { allowFail: true });
      flow.clear();
      await until('replies from the new address', () => flow.seen().includes(VM_IP2));
    } finally {
      flow.kill();
      await apply(NAT);
    }
  });

  it('a bad text is rejected with iptables stderr and leaves the rules unchanged', async () => {
    const before = canonicalSave(await readRouterRules(RTR));
    const err = await applyRouterRules(RTR, '*nat\n-A weft-nonexistent -j ACCEPT\nCOMMIT\n').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RouterRulesApplyError);
    expect((err as RouterRulesApplyError).stderr).not.toBe('');
    expect(canonicalSave(await readRouterRules(RTR))).toBe(before);
  });

  it('removing the floating IP and re-applying stops DNAT (and its SNAT)', async () => {
    const text = await apply({ ...NAT, floatingIps: [] });
    const saved = canonicalSave(await readRouterRules(RTR));
    expect(saved).toBe(text);
    expect((await execInNetns(RTR, 'nft', ['list', 'table', 'ip', 'weft'])).stdout).not.toContain(FIP);
    // The router owns 172.31.254.50 itself: without DNAT, nothing listens there on 7001.
    const r = await connect(EXT, FIP, 7001);
    expect(r.ok).toBe(false);
    expect(r.out).toBe('ECONNREFUSED');
    // The vm now leaves through the general SNAT.
    expect(await connect(VM, EXT_IP, 7000, VM_IP)).toEqual({ ok: true, out: `ext ${EXT_IP}:7000 from ${GW_IP}` });
    // The port forwarding is unaffected.
    expect(await connect(EXT, PF_IP, 2222)).toEqual({ ok: true, out: `vm ${VM_IP}:22 from ${EXT_IP}` });
  });
});
