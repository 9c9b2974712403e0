// prepareBridges against a real private Open vSwitch in a per-run namespace, checked with ovs-vsctl
// and ovs-ofctl: br-int, the VXLAN port, patch uplinks to standalone physical bridges (which carry
// VLAN-tagged frames as they are), fixed ofports, idempotence, and that br-int's flows are never touched.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  INTEGRATION_BRIDGE,
  TUNNEL_OFPORT,
  UPLINK_OFPORT_BASE,
  interfaceName,
  planUplinks,
  prepareBridges,
  uplinkPortNames,
} from '../../agent/host/bridges.ts';
import { startLocalOvs, type LocalOvs } from '../../agent/host/local-ovs.ts';
import { createNetns, createVethPair, deleteNetns } from '../../agent/host/netns.ts';
import { OvsdbConnection } from '../../agent/ovsdb/connection.ts';
import { getOpenVswitch } from '../../agent/ovsdb/open-vswitch.ts';

const tag = `wt${randomBytes(3).toString('hex')}`;
const H = `${tag}-h`;
const B = `${tag}-b`;
const runRoot = mkdtempSync('/tmp/wt-');
let ovs: LocalOvs;
let conn: OvsdbConnection;

const LONG = 'br-ex-very-long'; // 15 characters: int-/phy- names must be shortened
const MAPPINGS = { physnet2: LONG, physnet1: 'br-phys' };
const OPTS = { datapath: 'netdev' as const, tunnelIp: '172.31.250.1', bridgeMappings: MAPPINGS };

const vs = (...a: string[]) => ovs.vsctl(...a);

beforeAll(async () => {
  await createNetns(H);
  await createNetns(B);
  ovs = await startLocalOvs({ runDir: join(runRoot, 'h'), netns: H });
  conn = await OvsdbConnection.connect(ovs.dbTarget);
});

afterAll(async () => {
  await conn?.close().catch(() => undefined);
  await ovs?.stop().catch(() => undefined);
  for (const ns of [B, H]) await deleteNetns(ns).catch(() => undefined);
  rmSync(runRoot, { recursive: true, force: true });
});

describe('port names and the uplink plan', () => {
  it('uses Neutron names, cut with a hash beyond 15 bytes', () => {
    expect(uplinkPortNames('br-phys')).toEqual({ intSide: 'int-br-phys', physSide: 'phy-br-phys' });
    const long = uplinkPortNames(LONG);
    expect(long.intSide).toHaveLength(15);
    expect(long.intSide.startsWith('int-br-ex')).toBe(true);
    expect(long.physSide.startsWith('phy-br-ex')).toBe(true);
    expect(interfaceName('int-', 'br-ex-very-long')).not.toBe(interfaceName('int-', 'br-ex-very-lonG'));
  });

  it('numbers uplinks in sorted physnet order and refuses bad mappings', () => {
    expect(planUplinks(MAPPINGS).map((u) => [u.physnet, u.ofportRequest])).toEqual([
      ['physnet1', UPLINK_OFPORT_BASE],
      ['physnet2', UPLINK_OFPORT_BASE + 1],
    ]);
    expect(() => planUplinks({ a: 'br-x', b: 'br-x' })).toThrow(/both map/);
    expect(() => planUplinks({ a: 'br-int' })).toThrow(/integration/);
    expect(() => planUplinks({ a: 'br-this-is-too-long' })).toThrow(/invalid/);
  });
});

describe('prepareBridges on a real switch', () => {
  it('creates br-int, vxlan0 and the uplinks with fixed ofports', async () => {
    const r = await prepareBridges(conn, OPTS);
    expect(r).toEqual({ tunnelOfport: TUNNEL_OFPORT, uplinks: { physnet1: UPLINK_OFPORT_BASE, physnet2: UPLINK_OFPORT_BASE + 1 } });

    expect(await vs('get', 'bridge', 'br-int', 'fail_mode')).toBe('secure');
    expect(await vs('get', 'bridge', 'br-int', 'datapath_type')).toBe('netdev');
    expect(await vs('get-controller', 'br-int')).toBe('');
    expect(await vs('get', 'interface', 'vxlan0', 'type')).toBe('vxlan');
    expect(await vs('get', 'interface', 'vxlan0', 'options:remote_ip', 'options:local_ip', 'options:key')).toBe('flow\n"172.31.250.1"\nflow');
    expect(await vs('get', 'interface', 'vxlan0', 'ofport')).toBe(String(TUNNEL_OFPORT));
    expect(await vs('port-to-br', 'vxlan0')).toBe('br-int');

    for (const [physnet, bridge] of Object.entries(MAPPINGS)) {
      const { intSide, physSide } = uplinkPortNames(bridge);
      expect(await vs('get', 'bridge', bridge, 'fail_mode')).toBe('standalone');
      expect(await vs('get', 'bridge', bridge, 'datapath_type')).toBe('netdev');
      expect(await vs('get-controller', bridge)).toBe('');
      expect(await vs('port-to-br', intSide)).toBe('br-int');
      expect(await vs('port-to-br', physSide)).toBe(bridge);
      expect(await vs('get', 'interface', intSide, 'type', 'options:peer')).toBe(`patch\n${physSide}`);
      expect(await vs('get', 'interface', physSide, 'type', 'options:peer')).toBe(`patch\n${intSide}`);
      expect(Number(await vs('get', 'interface', intSide, 'ofport'))).toBe(r.uplinks[physnet]);
      expect(await vs('get', 'interface', intSide, 'external_ids:weft-physnet')).toBe(physnet);
    }
  });

  it('is idempotent: a second call returns the same ofports and writes nothing; br-int flows stay', async () => {
    await ovs.ofctl('add-flow', 'br-int', 'table=0,priority=7,cookie=0x77,actions=drop');
    const before = await getOpenVswitch(conn);
    const r = await prepareBridges(conn, OPTS);
    expect(r).toEqual({ tunnelOfport: TUNNEL_OFPORT, uplinks: { physnet1: UPLINK_OFPORT_BASE, physnet2: UPLINK_OFPORT_BASE + 1 } });
    const after = await getOpenVswitch(conn);
    expect(after.nextCfg).toBe(before.nextCfg);
    expect(await ovs.ofctl('dump-flows', 'br-int')).toMatch(/cookie=0x77.*priority=7 actions=drop/);
  });

  it('a standalone physical bridge carries VLAN-tagged frames both ways between br-int and a NIC', async () => {
    // A "NIC" of br-phys: a veth whose other end sits in namespace B.
    await createVethPair({ ns: H, name: 'nic0', peerNs: B, peerName: 'eth0' });
    await vs('add-port', 'br-phys', 'nic0');
    const nicOfport = await vs('wait-until', 'interface', 'nic0', 'ofport>0').then(() => vs('get', 'interface', 'nic0', 'ofport'));
    // Frame: dst ff:ff:ff:ff:ff:ff, src 02:00:00:00:00:aa, 802.1Q vid 100, then an IPv4 ethertype and padding.
    const frame = 'ffffffffffff' + '0200000000aa' + '8100' + '0064' + '0800' + '45'.padEnd(92, '0');

    // br-int -> patch -> br-phys (NORMAL) -> nic0 -> B: tcpdump in B sees the tag.
    const cap = spawn('ip', ['netns', 'exec', B, 'tcpdump', '-l', '-e', '-n', '-i', 'eth0', '-c', '1', 'vlan 100'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    cap.stdout.on('data', (d) => (out += d));
    cap.stderr.on('data', (d) => (err += d));
    const exited = new Promise((r) => cap.once('close', r));
    for (let i = 0; i < 100 && !/listening on/.test(err); i++) await new Promise((r) => setTimeout(r, 50));
    await ovs.ofctl('packet-out', 'br-int', 'CONTROLLER', `output:${UPLINK_OFPORT_BASE}`, frame);
    const t = setTimeout(() => cap.kill('SIGINT'), 5000);
    await exited;
    clearTimeout(t);
    expect(out).toMatch(/02:00:00:00:00:aa > ff:ff:ff:ff:ff:ff, ethertype 802\.1Q \(0x8100\).*vlan 100/);

    // nic0 -> br-phys (NORMAL) -> patch -> br-int: a counting flow on br-int sees the tagged frame.
    await ovs.ofctl('add-flow', 'br-int', `table=0,priority=50,in_port=${UPLINK_OFPORT_BASE},dl_vlan=100,actions=drop`);
    await ovs.ofctl('packet-out', 'br-phys', nicOfport, 'NORMAL', frame.replace('0200000000aa', '0200000000bb'));
    let flows = '';
    for (let i = 0; i < 50; i++) {
      flows = await ovs.ofctl('dump-flows', 'br-int', `in_port=${UPLINK_OFPORT_BASE},dl_vlan=100`);
      if (/n_packets=1/.test(flows)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(flows).toMatch(/n_packets=1,/);
    await vs('del-port', 'br-phys', 'nic0');
  });

  it('follows configuration changes: no tunnel IP removes vxlan0, an unmapped physnet loses its uplink (not its bridge)', async () => {
    const r = await prepareBridges(conn, { datapath: 'netdev', tunnelIp: null, bridgeMappings: { physnet1: 'br-phys' } });
    expect(r).toEqual({ tunnelOfport: null, uplinks: { physnet1: UPLINK_OFPORT_BASE } });
    const { intSide, physSide } = uplinkPortNames(LONG);
    const ports = (await vs('list-ports', 'br-int')).split('\n');
    expect(ports).not.toContain('vxlan0');
    expect(ports).not.toContain(intSide);
    expect(ports).toContain('int-br-phys');
    expect(await vs('list-ports', LONG)).not.toContain(physSide);
    expect((await vs('list-br')).split('\n')).toContain(LONG);
    // ... and back again.
    expect(await prepareBridges(conn, OPTS)).toEqual({
      tunnelOfport: TUNNEL_OFPORT,
      uplinks: { physnet1: UPLINK_OFPORT_BASE, physnet2: UPLINK_OFPORT_BASE + 1 },
    });
    expect(await ovs.ofctl('dump-flows', 'br-int')).toMatch(/cookie=0x77/);
    expect(await vs('get', 'bridge', INTEGRATION_BRIDGE, 'fail_mode')).toBe('secure');
  });

  it('finds the ofports again after ovs-vswitchd restarts (same numbers, nothing rewritten)', async () => {
    await ovs.restartVswitchd();
    const r = await prepareBridges(conn, OPTS);
    expect(r).toEqual({ tunnelOfport: TUNNEL_OFPORT, uplinks: { physnet1: UPLINK_OFPORT_BASE, physnet2: UPLINK_OFPORT_BASE + 1 } });
  });
});
