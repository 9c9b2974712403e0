// The lab helper end to end, without the agent: each host's Open vSwitch is started the way the agent
// does it (ownOpenvswitch + prepareBridges; h1 from a separate node process inside the host namespace,
// exactly like weft-agent, h2 in-process with the netns option), then the underlay, two VMs per host,
// ENVIRONMENT §1.2 flows written with ovs-ofctl, pings over VXLAN and over a VLAN provider network,
// captures on the fabric, and a teardown that must leave nothing behind.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../agent/config.ts';
import { TUNNEL_OFPORT, UPLINK_OFPORT_BASE, prepareBridges } from '../../agent/host/bridges.ts';
import { runOut } from '../../agent/host/exec.ts';
import { processAlive } from '../../agent/host/local-ovs.ts';
import { listNetns } from '../../agent/host/netns.ts';
import { ownOpenvswitch, superviseVswitchd } from '../../agent/host/own-ovs.ts';
import { OvsdbConnection } from '../../agent/ovsdb/connection.ts';
import { addFlows, createLab, type Lab, type LabVm } from '../../lab/lab.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TSX = pathToFileURL(createRequire(join(REPO, 'package.json')).resolve('tsx')).href;
const VNI = 100;
const VLAN = 100;

let lab: Lab;
const vm: Record<string, LabVm> = {};
const daemonPids: number[] = [];

/** What weft-agent does at start, run as its own node process inside the host namespace. */
const AGENT_LIKE = `
const { loadAgentConfig } = await import(${JSON.stringify(join(REPO, 'agent/config.ts'))});
const { ownOpenvswitch } = await import(${JSON.stringify(join(REPO, 'agent/host/own-ovs.ts'))});
const { prepareBridges } = await import(${JSON.stringify(join(REPO, 'agent/host/bridges.ts'))});
const { OvsdbConnection } = await import(${JSON.stringify(join(REPO, 'agent/ovsdb/connection.ts'))});
const c = loadAgentConfig();
const own = await ownOpenvswitch({ runDir: c.runDir, datapath: c.datapath });
const conn = await OvsdbConnection.connect(own.ovs.dbTarget);
const r = await prepareBridges(conn, { datapath: c.datapath, tunnelIp: c.tunnelIp, bridgeMappings: c.bridgeMappings });
await conn.close();
console.log(JSON.stringify({ adopted: own.adopted, ...r }));
`;

/** ENVIRONMENT §1.2 flows: a1<->a2 over VXLAN VNI 100, p1<->p2 on VLAN 100 through br-phys. */
async function installFlows(only?: 'h1' | 'h2'): Promise<void> {
  const vms = { h1: [vm.a1, vm.p1], h2: [vm.a2, vm.p2] } as const;
  for (const [name, other] of [['h1', 'h2'], ['h2', 'h1']] as const) {
    if (only && name !== only) continue;
    const [a, p] = vms[name];
    const [remoteA] = vms[other];
    const [ofA, ofP] = [await a!.ofport(), await p!.ofport()];
    const peerIp = lab.host(other).tunnelIp;
    await addFlows(lab.host(name), 'br-int', [
      `table=0,priority=100,in_port=${ofA} actions=set_field:${VNI}->tun_id,resubmit(,10)`,
      `table=0,priority=100,in_port=${TUNNEL_OFPORT},tun_id=${VNI} actions=output:${ofA}`,
      `table=10,priority=100,tun_id=${VNI},dl_dst=${remoteA!.mac} actions=set_field:${peerIp}->tun_dst,output:${TUNNEL_OFPORT}`,
      `table=10,priority=50,tun_id=${VNI},dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=set_field:${peerIp}->tun_dst,output:${TUNNEL_OFPORT}`,
      `table=0,priority=100,in_port=${ofP} actions=push_vlan:0x8100,set_field:${0x1000 | VLAN}->vlan_vid,output:${UPLINK_OFPORT_BASE}`,
      `table=0,priority=100,in_port=${UPLINK_OFPORT_BASE},dl_vlan=${VLAN} actions=pop_vlan,output:${ofP}`,
    ]);
  }
}

beforeAll(async () => {
  lab = await createLab({ hosts: ['h1', 'h2'], provider: true });
}, 60_000);

afterAll(async () => {
  await lab?.destroy();
}, 60_000);

describe('lab', () => {
  it('names everything with its prefix and gives each host an agent environment', async () => {
    expect(lab.prefix).toMatch(/^wl[0-9a-f]{4}$/);
    expect((await lab.namespaces()).sort()).toEqual([`${lab.prefix}-fabric`, `${lab.prefix}-h1`, `${lab.prefix}-h2`]);
    const h1 = lab.host('h1');
    expect(h1.tunnelIp).toMatch(/^172\.31\.\d+\.11$/);
    expect(lab.host('h2').tunnelIp).toMatch(/^172\.31\.\d+\.12$/);
    expect(h1.runDir.length).toBeLessThan(40);
    const env = h1.agentEnv('http://127.0.0.1:9696', 'tok');
    const c = loadAgentConfig(env);
    expect(c).toMatchObject({
      host: 'h1', runDir: h1.runDir, ovsdb: undefined, datapath: 'netdev', tunnelIp: h1.tunnelIp,
      bridgeMappings: { physnet1: 'br-phys' }, openflow: `unix:${h1.runDir}/br-int.mgmt`,
    });
    expect(() => lab.host('nope')).toThrow(/no host/);
  });

  it('hosts get their switch like the agent does: h1 from a node process in its namespace, h2 in-process', async () => {
    const h1 = lab.host('h1');
    const r1 = await h1.exec([process.execPath, '--import', TSX, '--input-type=module', '-e', AGENT_LIKE], {
      env: h1.agentEnv('http://127.0.0.1:1', 'tok'),
    });
    expect(r1.code, r1.stderr).toBe(0);
    expect(JSON.parse(r1.stdout.trim().split('\n').pop()!)).toEqual({
      adopted: false, tunnelOfport: TUNNEL_OFPORT, uplinks: { physnet1: UPLINK_OFPORT_BASE },
    });
    // The daemons outlive the process that started them, inside the host's namespace.
    expect(h1.ovs.vswitchdRunning()).toBe(true);
    const ns = (await h1.exec(['ip', 'netns', 'identify', String(h1.ovs.vswitchdPid())])).stdout.trim();
    expect(ns).toBe(h1.netns);
    // A second run (an agent restart) adopts them.
    const again = await h1.exec([process.execPath, '--import', TSX, '--input-type=module', '-e', AGENT_LIKE], {
      env: h1.agentEnv('http://127.0.0.1:1', 'tok'),
    });
    expect(JSON.parse(again.stdout.trim().split('\n').pop()!)).toMatchObject({ adopted: true, tunnelOfport: TUNNEL_OFPORT });

    const h2 = lab.host('h2');
    const own = await ownOpenvswitch({ runDir: h2.runDir, datapath: 'netdev', netns: h2.netns });
    const conn = await OvsdbConnection.connect(own.ovs.dbTarget);
    try {
      const r2 = await prepareBridges(conn, { datapath: 'netdev', tunnelIp: h2.tunnelIp, bridgeMappings: { physnet1: 'br-phys' } });
      expect(r2).toEqual({ tunnelOfport: TUNNEL_OFPORT, uplinks: { physnet1: UPLINK_OFPORT_BASE } });
    } finally {
      await conn.close();
    }
    for (const h of [h1, h2]) daemonPids.push(h.ovs.ovsdbPid()!, h.ovs.vswitchdPid()!);
  }, 60_000);

  it('attaches the underlay: br-phy with eth0, the VTEP address, MTU 1600, eth1 on br-phys, pre-seeded neighbours', async () => {
    for (const h of lab.hosts) await lab.attachUnderlay(h);
    await lab.attachUnderlay('h1'); // idempotent
    const h1 = lab.host('h1');
    expect((await h1.ovs.vsctl('list-ports', 'br-phy')).split('\n')).toEqual(['eth0']);
    expect((await h1.ovs.vsctl('list-ports', 'br-phys')).split('\n')).toEqual(['eth1', 'phy-br-phys']);
    expect((await h1.exec(['ip', '-4', '-o', 'addr', 'show', 'dev', 'br-phy'])).stdout).toContain(`${h1.tunnelIp}/24`);
    expect((await h1.exec(['ip', 'link', 'show', 'eth0'])).stdout).toMatch(/NOARP.*mtu 1600/);
    expect(await h1.ovs.vsctl('get', 'interface', 'br-phy', 'mtu')).toBe('1600');
    expect(await h1.ovs.appctl('tnl/neigh/show')).toContain(lab.host('h2').tunnelIp);
  });

  it('plugs VMs like Nova: namespace, veth on br-int with iface-id/attached-mac, tx off, addresses', async () => {
    vm.a1 = await lab.plug('h1', { name: 'a1', portId: '11111111-aaaa-4000-8000-000000000001', mac: '02:00:00:00:00:01', ip: '10.0.0.1/24' });
    vm.a2 = await lab.plug('h2', { name: 'a2', portId: '11111111-aaaa-4000-8000-000000000002', mac: '02:00:00:00:00:02', ip: '10.0.0.2/24', ip6: 'fd00::2/64' });
    vm.p1 = await lab.plug('h1', { name: 'p1', portId: '22222222-bbbb-4000-8000-000000000001', mac: '02:00:00:00:01:01', ip: '10.1.0.1/24', mtu: 1450 });
    vm.p2 = await lab.plug('h2', { name: 'p2', portId: '22222222-bbbb-4000-8000-000000000002', mac: '02:00:00:00:01:02', ip: '10.1.0.2/24', mtu: 1450 });
    await expect(lab.plug('h1', { name: 'a1', portId: 'x', mac: '02:00:00:00:00:09' })).rejects.toThrow(/already/);

    const h1 = lab.host('h1');
    expect(vm.a1.tap).toBe('tap11111111-aa');
    expect(vm.a1.netns).toBe(`${lab.prefix}-vm-a1`);
    expect(await h1.ovs.vsctl('get', 'interface', vm.a1.tap, 'external_ids:iface-id', 'external_ids:attached-mac', 'external_ids:iface-status'))
      .toBe('"11111111-aaaa-4000-8000-000000000001"\n"02:00:00:00:00:01"\nactive');
    expect(await h1.ovs.vsctl('get', 'interface', vm.a1.tap, 'ofport_request')).toBe('[]');
    expect((await vm.a1.exec(['ethtool', '-k', 'eth0'])).stdout).toMatch(/tx-checksumming: off/);
    expect((await vm.a1.exec(['ip', 'link', 'show', 'eth0'])).stdout).toMatch(/mtu 1500 .*\n.*02:00:00:00:00:01/);
    expect((await vm.p1.exec(['ip', 'link', 'show', 'eth0'])).stdout).toMatch(/mtu 1450/);
    expect((await vm.a2.exec(['ip', '-6', 'addr', 'show', 'dev', 'eth0'])).stdout).toContain('fd00::2/64');
    const r = await vm.a1.exec(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  it('pings across hosts over VXLAN with ENVIRONMENT §1.2 flows; full 1500-byte frames and TCP pass', async () => {
    await installFlows();
    // busybox ping: iputils-ping is not among the system packages (scripts/system-deps.sh).
    const first = await vm.a1.exec(['busybox', 'ping', '-c1', '-W2', '10.0.0.2']);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    console.log(`lab: first ping over the tunnel: ${/time=([\d.]+ ms)/.exec(first.stdout)?.[1]}`);
    // 1472 + 28 = a full 1500-byte packet (DF set by default), 1550 on the underlay with VXLAN.
    const full = await vm.a1.exec(['busybox', 'ping', '-c2', '-i0.2', '-W2', '-s', '1472', '10.0.0.2']);
    expect(full.code, full.stdout + full.stderr).toBe(0);

    // TCP checks the checksums (pitfall 2): a busybox nc server in a2, a client in a1.
    const server = vm.a2.spawn(['busybox', 'nc', '-l', '-p', '5001']);
    for (let i = 0; i < 100; i++) {
      if ((await vm.a2.exec(['ss', '-Hltn', 'sport = :5001'])).stdout.includes('5001')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const client = await vm.a1.exec(['sh', '-c', 'echo hello-over-tcp | busybox nc -w 2 10.0.0.2 5001'], { timeoutMs: 10_000 });
    expect(client.code, client.stderr).toBe(0);
    await Promise.race([server.exited, new Promise((r) => setTimeout(r, 3000))]);
    expect(server.output()).toContain('hello-over-tcp');
    await server.stop();

    // Only what h2 sends: a VM's IPv6 duplicate-address probe from h1 may cross the tunnel at any time.
    const vx = await lab.tcpdump('fabric', ['-c', '1', `udp port 4789 and src host ${lab.host('h2').tunnelIp}`], async () => {
      await vm.a2.exec(['busybox', 'ping', '-c2', '-i0.2', '-W2', '10.0.0.1']);
    });
    expect(vx).toMatch(new RegExp(`${lab.host('h2').tunnelIp.replace(/\./g, '\\.')}\\.\\d+ > .*4789: VXLAN.*vni ${VNI}`));
  });

  it('carries the provider network with its VLAN tag across the fabric (br-int -> br-phys -> eth1)', async () => {
    const text = await lab.tcpdump('fabric', ['-c', '2', `vlan ${VLAN} and icmp`], async () => {
      const r = await vm.p1.exec(['busybox', 'ping', '-c3', '-i0.2', '-W2', '10.1.0.2']);
      expect(r.code, r.stdout).toBe(0);
    });
    expect(text).toMatch(new RegExp(`ethertype 802\\.1Q \\(0x8100\\).*vlan ${VLAN}, p 0, ethertype IPv4.*10\\.1\\.0\\.1 > 10\\.1\\.0\\.2: ICMP echo request`));
    // A capture on a VM sees the untagged frames.
    const inVm = await lab.tcpdump(vm.p2, ['-c', '1', 'icmp'], async () => {
      await vm.p1.exec(['busybox', 'ping', '-c2', '-i0.2', '-W2', '10.1.0.2']);
    });
    expect(inVm).toMatch(/02:00:00:00:01:01 > 02:00:00:00:01:02, ethertype IPv4/);
  });

  it('survives an ovs-vswitchd restart: br-phy keeps its address, the supervisor restarts it, traffic resumes', async () => {
    const h2 = lab.host('h2');
    let restarts = 0;
    const stop = superviseVswitchd(h2.ovs, () => void restarts++, { intervalMs: 100 });
    try {
      const pid = h2.ovs.vswitchdPid()!;
      process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 200 && restarts === 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(restarts).toBe(1);
      expect(h2.ovs.vswitchdPid()).not.toBe(pid);
      daemonPids.push(h2.ovs.vswitchdPid()!);
      expect((await h2.exec(['ip', '-4', '-o', 'addr', 'show', 'dev', 'br-phy'])).stdout).toContain(h2.tunnelIp);
      await installFlows('h2'); // a new vswitchd starts with empty tables (the agent replays)
      const r = await vm.a1.exec(['busybox', 'ping', '-c1', '-W3', '10.0.0.2']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    } finally {
      stop();
    }
  });

  it('unplugs a VM (port and namespace gone) and plugs it back', async () => {
    const h2 = lab.host('h2');
    const tap = vm.a2.tap;
    await lab.unplug(vm.a2);
    expect((await h2.ovs.vsctl('list-ports', 'br-int')).split('\n')).not.toContain(tap);
    expect(await lab.namespaces()).not.toContain(vm.a2.netns);
    expect(lab.vms().map((v) => v.name).sort()).toEqual(['a1', 'p1', 'p2']);
    vm.a2 = await lab.plug('h2', { name: 'a2', portId: '11111111-aaaa-4000-8000-000000000002', mac: '02:00:00:00:00:02', ip: '10.0.0.2/24' });
    expect(vm.a2.tap).toBe(tap);
  });

  it('destroy() leaves no namespace, process or folder behind, and is safe to call twice', async () => {
    const bg = vm.a1.spawn(['sleep', '600']);
    // A process the lab did not spawn (daemonised inside a VM namespace) is found by namespace.
    await vm.p1.exec(['sh', '-c', 'sleep 600 </dev/null >/dev/null 2>&1 &']);
    const orphans = (await runOut('ip', ['netns', 'pids', vm.p1.netns])).split('\n').map(Number);
    expect(orphans.length).toBe(1);
    expect(processAlive(orphans[0]!)).toBe(true);
    const runRoot = lab.runRoot;
    await lab.destroy();
    await lab.destroy();
    expect(await listNetns(lab.prefix)).toEqual([]);
    for (const pid of [...daemonPids, bg.pid, ...orphans]) expect(processAlive(pid), `pid ${pid}`).toBe(false);
    expect(bg.running).toBe(false);
    expect(existsSync(runRoot)).toBe(false);
    await expect(lab.plug('h1', { name: 'late', portId: 'x', mac: '02:00:00:00:00:09' })).rejects.toThrow(/destroyed/);
  }, 60_000);
});
