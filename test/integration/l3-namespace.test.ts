// Router namespaces (agent/l3/namespace.ts) against a real private Open vSwitch (userspace datapath)
// in a per-run host namespace: a "VM" and an "external" namespace plugged on br-int (fail-mode
// standalone, so NORMAL switching applies), a router with a qr and a qg veth port, pings through it,
// idempotence, removal of an interface, routes, and cleanup. Every name carries the per-run tag.
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, runOut } from '../../agent/host/exec.ts';
import { startLocalOvs, type LocalOvs } from '../../agent/host/local-ovs.ts';
import { createNetns, createVethPair, deleteNetns, ip, listNetns, netnsExists } from '../../agent/host/netns.ts';
import {
  canonicalPrefix,
  deleteRouterNamespace,
  ensureRouterNamespace,
  hostVethName,
  listRouterNamespaces,
  routerInterfaceName,
  setGatewayAddresses,
  routerNamespaceName,
  type RouterNamespaceOptions,
  type RouterSpec,
} from '../../agent/l3/namespace.ts';
import { OvsdbConnection } from '../../agent/ovsdb/connection.ts';
import { getOpenVswitch } from '../../agent/ovsdb/open-vswitch.ts';

const tag = `wt${randomBytes(3).toString('hex')}`;
const H = `${tag}-h`; // "gateway host": ovs-vswitchd runs here
const VM = `${tag}-vm`;
const EXT = `${tag}-ext`;
const PREFIX = `${tag}-qrouter-`;
const runRoot = mkdtempSync('/tmp/wt-');
let ovs: LocalOvs;
let conn: OvsdbConnection;

const routerId = randomUUID();
const qrPort = randomUUID();
const qgPort = randomUUID();
const qr = routerInterfaceName('qr', qrPort);
const qg = routerInterfaceName('qg', qgPort);
const RNS = routerNamespaceName(routerId, PREFIX);
const OPTS: RouterNamespaceOptions = { namespacePrefix: PREFIX, hostNetns: H };

const SPEC: RouterSpec = {
  routerId,
  interfaces: [{ portId: qrPort, name: qr, mac: 'fa:16:3e:00:77:01', addresses: ['10.77.0.1/24'], mtu: 1450 }],
  gateway: { portId: qgPort, name: qg, mac: 'fa:16:3e:00:77:02', addresses: ['172.31.77.2/24'], defaultGateway: '172.31.77.1' },
  routes: [{ destination: '10.99.0.0/24', nexthop: '10.77.0.5' }],
};

const vs = (...a: string[]) => ovs.vsctl(...a);
const ping = (ns: string, addr: string) =>
  run('ip', ['netns', 'exec', ns, 'ping', '-c', '3', '-i', '0.2', '-W', '2', addr], { allowFail: true, timeoutMs: 20_000 });
async function pingOk(ns: string, addr: string) {
  for (let i = 0; i < 3; i++) {
    const r = await ping(ns, addr);
    if (/ [1-3] received/.test(r.stdout)) return true;
  }
  return false;
}
async function ifindexes(ns: string | undefined): Promise<Record<string, number>> {
  const links = JSON.parse(await runOut('ip', [...(ns ? ['-n', ns] : []), '-j', 'link', 'show'])) as { ifname: string; ifindex: number }[];
  return Object.fromEntries(links.map((l) => [l.ifname, l.ifindex]));
}

beforeAll(async () => {
  for (const ns of [H, VM, EXT]) await createNetns(ns);
  ovs = await startLocalOvs({ runDir: join(runRoot, 'h'), netns: H });
  conn = await OvsdbConnection.connect(ovs.dbTarget);
  await vs('add-br', 'br-int', '--', 'set', 'bridge', 'br-int', 'datapath_type=netdev', 'fail-mode=standalone');
  // A VM-like namespace and an "external network" namespace, both on br-int (same L2, kept simple).
  for (const [ns, port, mac, addr, route] of [
    [VM, 'vm1', '02:00:00:77:00:05', '10.77.0.5/24', ['default', 'via', '10.77.0.1']],
    [EXT, 'ext1', '02:00:00:77:00:01', '172.31.77.1/24', ['10.77.0.0/24', 'via', '172.31.77.2']],
  ] as const) {
    await createVethPair({ ns, name: 'eth0', peerNs: H, peerName: port, peerMac: undefined, mac });
    await run('ip', ['netns', 'exec', ns, 'ethtool', '-K', 'eth0', 'tx', 'off']);
    await ip(ns, ['addr', 'add', addr, 'dev', 'eth0']);
    await ip(ns, ['route', 'add', ...route]);
    await vs('add-port', 'br-int', port);
  }
});

afterAll(async () => {
  await conn?.close().catch(() => undefined);
  await ovs?.stop().catch(() => undefined);
  for (const ns of await listNetns(tag).catch(() => [] as string[])) await deleteNetns(ns).catch(() => undefined);
  for (const ns of [RNS, EXT, VM, H]) await deleteNetns(ns).catch(() => undefined);
  rmSync(runRoot, { recursive: true, force: true });
});

describe('names', () => {
  it('builds namespace, interface and host-side names', () => {
    expect(routerNamespaceName('abc')).toBe('qrouter-abc');
    expect(routerInterfaceName('qr', '0123456789abcdef')).toBe('qr-0123456789a');
    expect(hostVethName('0123456789abcdef')).toBe('tr-0123456789a');
    expect(hostVethName(randomUUID()).length).toBeLessThanOrEqual(15);
    expect(canonicalPrefix('10.1.2.3/24')).toBe('10.1.2.0/24');
    expect(canonicalPrefix('default')).toBe('0.0.0.0/0');
    expect(canonicalPrefix('10.1.2.3')).toBe('10.1.2.3/32');
  });
});

describe('router namespace on a userspace-datapath br-int', () => {
  it('creates the namespace with veth ports on br-int; the VM and the external net reach the router and each other', async () => {
    await ensureRouterNamespace(conn, SPEC, OPTS);
    expect(netnsExists(RNS)).toBe(true);
    expect(await listRouterNamespaces({ namespacePrefix: PREFIX })).toEqual([routerId]);

    const qrHost = hostVethName(qrPort);
    expect(await vs('port-to-br', qrHost)).toBe('br-int');
    expect(await vs('get', 'interface', qrHost, 'external_ids:iface-id', 'external_ids:attached-mac', 'external_ids:weft-router')).toBe(
      `"${qrPort}"\n"fa:16:3e:00:77:01"\n"${routerId}"`,
    );
    expect(await vs('get', 'interface', hostVethName(qgPort), 'external_ids:iface-id')).toBe(`"${qgPort}"`);

    const link = JSON.parse(await runOut('ip', ['-n', RNS, '-j', 'addr', 'show', 'dev', qr]))[0];
    expect(link.address).toBe('fa:16:3e:00:77:01');
    expect(link.mtu).toBe(1450);
    expect(link.addr_info.some((a: { local: string; prefixlen: number }) => a.local === '10.77.0.1' && a.prefixlen === 24)).toBe(true);
    expect(await runOut('ip', ['netns', 'exec', RNS, 'sysctl', '-n', 'net.ipv4.ip_forward'])).toBe('1');
    expect(await runOut('ip', ['netns', 'exec', RNS, 'ethtool', '-k', qr])).toMatch(/tx-checksumming: off/);
    expect(await runOut('ip', ['-n', RNS, 'link', 'show', 'lo'])).toMatch(/UP/);

    expect(await pingOk(VM, '10.77.0.1')).toBe(true);
    expect(await pingOk(EXT, '172.31.77.2')).toBe(true);
    // Routed through the router namespace (qr -> qg).
    expect(await pingOk(VM, '172.31.77.1')).toBe(true);
  });

  it('installs the extra route and the default route via the external gateway', async () => {
    const routes = await runOut('ip', ['-n', RNS, 'route']);
    expect(routes).toMatch(new RegExp(`10\\.99\\.0\\.0/24 via 10\\.77\\.0\\.5 dev ${qr} proto static`));
    expect(routes).toMatch(new RegExp(`default via 172\\.31\\.77\\.1 dev ${qg} proto static`));
  });

  it('is idempotent: a second ensure changes nothing (same ifindexes, no OVSDB write)', async () => {
    const before = { r: await ifindexes(RNS), h: await ifindexes(H), cfg: (await getOpenVswitch(conn)).nextCfg };
    const routesBefore = await runOut('ip', ['-n', RNS, 'route']);
    await ensureRouterNamespace(conn, SPEC, OPTS);
    expect(await ifindexes(RNS)).toEqual(before.r);
    expect(await ifindexes(H)).toEqual(before.h);
    expect((await getOpenVswitch(conn)).nextCfg).toBe(before.cfg);
    expect(await runOut('ip', ['-n', RNS, 'route'])).toBe(routesBefore);
  });

  it('fixes drift: a changed MAC, a foreign address and a missing route are put back', async () => {
    await ip(RNS, ['link', 'set', 'dev', qr, 'address', '02:11:22:33:44:55']);
    await ip(RNS, ['addr', 'add', '10.77.0.200/24', 'dev', qr]);
    await ip(RNS, ['route', 'del', '10.99.0.0/24']);
    await ensureRouterNamespace(conn, SPEC, OPTS);
    const link = JSON.parse(await runOut('ip', ['-n', RNS, '-j', 'addr', 'show', 'dev', qr]))[0];
    expect(link.address).toBe('fa:16:3e:00:77:01');
    expect(link.addr_info.map((a: { local: string }) => a.local)).not.toContain('10.77.0.200');
    expect(await runOut('ip', ['-n', RNS, 'route'])).toMatch(/10\.99\.0\.0\/24 via 10\.77\.0\.5/);
    expect(await pingOk(VM, '10.77.0.1')).toBe(true);
  });

  it("gives the gateway exactly its floating IPs' /32s, hundreds at a time", async () => {
    const floating = (from: number, n: number) => Array.from({ length: n }, (_, i) => `172.31.${80 + ((from + i) >> 8)}.${(from + i) & 255}/32`);
    const withFloating = (list: string[]): RouterSpec => ({ ...SPEC, gateway: { ...SPEC.gateway!, addresses: [...SPEC.gateway!.addresses, ...list] } });
    const held = async () => (JSON.parse(await runOut('ip', ['-n', RNS, '-j', 'addr', 'show', 'dev', qg]))[0].addr_info as { family: string; local: string; prefixlen: number }[])
      .filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`).sort();
    await ensureRouterNamespace(conn, withFloating(floating(0, 300)), OPTS);
    expect(await held()).toEqual(['172.31.77.2/24', ...floating(0, 300)].sort());
    // 150 go, 5 come: the rest stays.
    await ensureRouterNamespace(conn, withFloating([...floating(150, 150), ...floating(1000, 5)]), OPTS);
    expect(await held()).toEqual(['172.31.77.2/24', ...floating(150, 150), ...floating(1000, 5)].sort());
    // The gateway's addresses alone (a floating IP that came or went on a built router): the same result.
    await setGatewayAddresses(withFloating(floating(0, 20)), OPTS);
    expect(await held()).toEqual(['172.31.77.2/24', ...floating(0, 20)].sort());
    await setGatewayAddresses(withFloating(floating(10, 20)), OPTS);
    expect(await held()).toEqual(['172.31.77.2/24', ...floating(10, 20)].sort());
    await ensureRouterNamespace(conn, SPEC, OPTS);
    expect(await held()).toEqual(['172.31.77.2/24']);
    expect(await pingOk(VM, '10.77.0.1')).toBe(true);
  });

  it('carries TCP from the router namespace (TX checksum offload is off on the namespace side)', async () => {
    const server = spawn(
      'ip',
      ['netns', 'exec', RNS, process.execPath, '-e', `require('net').createServer((s) => s.end('hello-from-router')).listen(7777, '10.77.0.1', () => console.log('ready'))`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('server did not start')), 10_000);
        server.stdout.on('data', (d) => String(d).includes('ready') && (clearTimeout(t), resolve()));
      });
      const client = `const s = require('net').connect(7777, '10.77.0.1'); let d = ''; s.on('data', (b) => (d += b)); s.on('end', () => { console.log(d); process.exit(0); }); setTimeout(() => process.exit(1), 5000);`;
      const out = await runOut('ip', ['netns', 'exec', VM, process.execPath, '-e', client]);
      expect(out).toBe('hello-from-router');
    } finally {
      server.kill('SIGKILL');
    }
  });

  it('keeps working after ovs-vswitchd restarts (the reason for veths rather than moved internal ports)', async () => {
    await ovs.restartVswitchd();
    expect(await pingOk(VM, '10.77.0.1')).toBe(true);
    const before = await ifindexes(RNS);
    await ensureRouterNamespace(conn, SPEC, OPTS);
    expect(await ifindexes(RNS)).toEqual(before);
  });

  it('a spec without the gateway removes the qg interface, its OVS port and its host-side veth', async () => {
    const { gateway: _gw, ...noGw } = SPEC;
    await ensureRouterNamespace(conn, { ...noGw, routes: [] }, OPTS);
    const qgHost = hostVethName(qgPort);
    expect(await runOut('ip', ['-n', RNS, 'link', 'show'])).not.toContain(qg);
    expect((await vs('list-ports', 'br-int')).split('\n')).not.toContain(qgHost);
    expect(Object.keys(await ifindexes(H))).not.toContain(qgHost);
    const routes = await runOut('ip', ['-n', RNS, 'route']);
    expect(routes).not.toMatch(/default/);
    expect(routes).not.toMatch(/10\.99\.0\.0/);
    expect(await pingOk(VM, '10.77.0.1')).toBe(true);
  });

  it('a route whose nexthop is on no connected subnet is reported, the rest is applied', async () => {
    await expect(
      ensureRouterNamespace(conn, { ...SPEC, routes: [{ destination: '10.98.0.0/24', nexthop: '192.0.2.1' }] }, OPTS),
    ).rejects.toThrow(/routes not installed: 10\.98\.0\.0\/24 via 192\.0\.2\.1/);
    expect(await runOut('ip', ['-n', RNS, 'link', 'show'])).toContain(qg);
    expect(await runOut('ip', ['-n', RNS, 'route'])).toMatch(/default via 172\.31\.77\.1/);
  });

  it('deleteRouterNamespace removes the namespace, the OVS ports and the host-side veths', async () => {
    await deleteRouterNamespace(conn, routerId, OPTS);
    expect(netnsExists(RNS)).toBe(false);
    expect(await listRouterNamespaces({ namespacePrefix: PREFIX })).toEqual([]);
    const ports = (await vs('list-ports', 'br-int')).split('\n');
    expect(ports.filter((p) => p.startsWith('tr-'))).toEqual([]);
    expect(Object.keys(await ifindexes(H)).filter((n) => n.startsWith('tr-'))).toEqual([]);
    await deleteRouterNamespace(conn, routerId, OPTS); // again: nothing to do, no error
  });
});
