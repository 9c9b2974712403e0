// Our RFC 7047 client against a real ovsdb-server/ovs-vswitchd in a per-run namespace. Every result
// is checked independently with ovs-vsctl.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalOvs, type LocalOvs } from '../../agent/host/local-ovs.ts';
import { createNetns, createVethPair, deleteLink, deleteNetns } from '../../agent/host/netns.ts';
import { ensureBridge, getBridge } from '../../agent/ovsdb/bridge.ts';
import { OvsdbConnection } from '../../agent/ovsdb/connection.ts';
import { datumEquals, encodeDatum, type Datum } from '../../agent/ovsdb/datum.ts';
import { OvsdbError } from '../../agent/ovsdb/errors.ts';
import { watchInterfaces, type InterfaceWatcher, type PortBinding } from '../../agent/ovsdb/interface-watch.ts';
import { OvsdbMonitor } from '../../agent/ovsdb/monitor.ts';
import { VSWITCH_DB, getOpenVswitch, waitForVswitchd } from '../../agent/ovsdb/open-vswitch.ts';
import { op } from '../../agent/ovsdb/ops.ts';
import { deletePort, ensurePatchPorts, ensurePort, ensureTunnelPort, getInterface, listPorts } from '../../agent/ovsdb/port.ts';
import { decodeRow } from '../../agent/ovsdb/schema.ts';

const tag = `wt${randomBytes(6).toString('hex').slice(0, 6)}`;
const H1 = `${tag}h1`;
const V1 = `${tag}v1`;
const runRoot = mkdtempSync(join(tmpdir(), 'wt-'));
let ovs: LocalOvs | undefined;
let conn: OvsdbConnection;
let watcher: InterfaceWatcher | undefined;
let mirror: OvsdbMonitor | undefined;
const events: { kind: string; b: PortBinding }[] = [];

const vs = (...a: string[]) => ovs!.vsctl(...a);

async function eventually(check: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  await createNetns(H1);
  await createNetns(V1);
  ovs = await startLocalOvs({ runDir: join(runRoot, 'h1'), netns: H1 });
  conn = await OvsdbConnection.connect(ovs.dbTarget);
  watcher = await watchInterfaces(conn, {
    added: (b) => events.push({ kind: 'added', b }),
    updated: (b) => events.push({ kind: 'updated', b }),
    removed: (b) => events.push({ kind: 'removed', b }),
  });
  // A full mirror of Bridge/Port/Interface, compared with fresh selects at the end (update2 diffs).
  mirror = await OvsdbMonitor.start(conn, VSWITCH_DB, { Bridge: {}, Port: {}, Interface: {}, Open_vSwitch: {} });
});

afterAll(async () => {
  await watcher?.stop().catch(() => undefined);
  await mirror?.cancel().catch(() => undefined);
  await conn?.close().catch(() => undefined);
  await ovs?.stop().catch(() => undefined);
  for (const ns of [V1, H1]) await deleteNetns(ns).catch(() => undefined);
  rmSync(runRoot, { recursive: true, force: true });
});

describe('OVSDB client against a real ovsdb-server', () => {
  it('list_dbs and the Open_vSwitch row', async () => {
    expect(await conn.listDbs()).toContain('Open_vSwitch');
    const root = await getOpenVswitch(conn);
    expect(root.uuid).toBe(await vs('get', 'Open_vSwitch', '.', '_uuid'));
    const target = await waitForVswitchd(conn);
    expect(Number(await vs('get', 'Open_vSwitch', '.', 'cur_cfg'))).toBeGreaterThanOrEqual(target);
  });

  it('ensureBridge creates br-int (netdev, secure) once; a second call changes nothing', async () => {
    const opts = { datapathType: 'netdev', failMode: 'secure' as const, protocols: ['OpenFlow13'], otherConfig: { hwaddr: '02:00:00:00:aa:01' } };
    const first = await ensureBridge(conn, 'br-int', opts);
    expect(first.changed).toBe(true);
    const nextCfg = (await getOpenVswitch(conn)).nextCfg;
    const second = await ensureBridge(conn, 'br-int', opts);
    expect(second).toEqual({ uuid: first.uuid, changed: false });
    expect((await getOpenVswitch(conn)).nextCfg).toBe(nextCfg); // nothing was written
    expect((await vs('list-br')).split('\n')).toEqual(['br-int']);
    expect(await vs('get', 'bridge', 'br-int', '_uuid')).toBe(first.uuid);
    expect(await vs('get', 'bridge', 'br-int', 'datapath_type')).toBe('netdev');
    expect(await vs('get', 'bridge', 'br-int', 'fail_mode')).toBe('secure');
    expect(await vs('get', 'bridge', 'br-int', 'protocols')).toBe('[OpenFlow13]');
    expect(await vs('get', 'bridge', 'br-int', 'other_config:hwaddr')).toBe('"02:00:00:00:aa:01"');
    expect(await vs('list-ports', 'br-int')).toBe('');
    expect(await vs('get', 'interface', 'br-int', 'type')).toBe('internal');
    // vswitchd applied it: the mgmt socket answers OpenFlow 1.3
    expect(await ovs!.ofctl('dump-flows', 'br-int')).toMatch(/OFPST_FLOW reply \(OF1\.3\)/);
  });

  it('ensureBridge updates only what differs and keeps foreign other_config keys', async () => {
    await vs('set', 'bridge', 'br-int', 'other_config:foo=bar');
    const r = await ensureBridge(conn, 'br-int', { otherConfig: { hwaddr: '02:00:00:00:aa:02' }, protocols: ['OpenFlow13'] });
    expect(r.changed).toBe(true);
    expect(await vs('get', 'bridge', 'br-int', 'other_config')).toBe('{foo=bar, hwaddr="02:00:00:00:aa:02"}');
    expect((await getBridge(conn, 'br-int'))!.otherConfig).toEqual({ foo: 'bar', hwaddr: '02:00:00:00:aa:02' });
  });

  it('a veth with iface-id: the watcher reports its ofport, then its changes, then its removal', async () => {
    await createVethPair({ ns: V1, name: 'eth0', peerNs: H1, peerName: 'vm1', mac: '02:00:00:00:00:01' });
    const spec = { ofportRequest: 5, externalIds: { 'iface-id': 'lsp-vm1', 'attached-mac': '02:00:00:00:00:01' } };
    const r1 = await ensurePort(conn, 'br-int', 'vm1', spec);
    expect(r1.changed).toBe(true);
    await eventually(() => watcher!.lookup('lsp-vm1') !== undefined, 'binding of lsp-vm1');
    expect(watcher!.lookup('lsp-vm1')).toMatchObject({ ifaceId: 'lsp-vm1', name: 'vm1', ofport: 5, attachedMac: '02:00:00:00:00:01', interfaceUuid: r1.interfaceUuid });
    expect(events.filter((e) => e.kind === 'added').map((e) => e.b.ifaceId)).toEqual(['lsp-vm1']);
    expect(await vs('get', 'interface', 'vm1', 'ofport')).toBe('5');
    expect(await vs('get', 'interface', 'vm1', 'external_ids:iface-id')).toBe('lsp-vm1');
    expect(await vs('port-to-br', 'vm1')).toBe('br-int');

    const r2 = await ensurePort(conn, 'br-int', 'vm1', spec);
    expect(r2).toEqual({ ...r1, changed: false });

    await ensurePort(conn, 'br-int', 'vm1', { ...spec, externalIds: { ...spec.externalIds, 'attached-mac': '02:00:00:00:00:11' } });
    await eventually(() => events.some((e) => e.kind === 'updated'), 'updated event');
    expect(events.find((e) => e.kind === 'updated')!.b).toMatchObject({ ofport: 5, attachedMac: '02:00:00:00:00:11' });
    expect(await vs('get', 'interface', 'vm1', 'external_ids:attached-mac')).toBe('"02:00:00:00:00:11"');

    expect(await deletePort(conn, 'br-int', 'vm1')).toBe(true);
    expect(await deletePort(conn, 'br-int', 'vm1')).toBe(false);
    await eventually(() => events.some((e) => e.kind === 'removed'), 'removed event');
    expect(events.find((e) => e.kind === 'removed')!.b).toMatchObject({ ifaceId: 'lsp-vm1', ofport: 5 });
    expect(watcher!.lookup('lsp-vm1')).toBeUndefined();
    expect(await vs('list-ports', 'br-int')).toBe('');
    expect(await getInterface(conn, 'vm1')).toBeUndefined();
  });

  it('a port whose device does not exist yet is pending (ofport -1), and binds when the device appears', async () => {
    await ensurePort(conn, 'br-int', 'vm2', { ofportRequest: 6, externalIds: { 'iface-id': 'lsp-vm2' } });
    await eventually(async () => (await getInterface(conn, 'vm2'))?.ofport === -1, 'ofport -1');
    await eventually(() => watcher!.pending().some((p) => p.ifaceId === 'lsp-vm2' && p.ofport === -1), 'pending lsp-vm2');
    expect(watcher!.pending().find((p) => p.ifaceId === 'lsp-vm2')!.error).toMatch(/could not open network device vm2/);
    expect(watcher!.lookup('lsp-vm2')).toBeUndefined();
    expect(await vs('get', 'interface', 'vm2', 'ofport')).toBe('-1');
    await createVethPair({ ns: V1, name: 'eth1', peerNs: H1, peerName: 'vm2' });
    await eventually(() => watcher!.lookup('lsp-vm2')?.ofport === 6, 'lsp-vm2 on ofport 6', 10_000);
    expect(watcher!.pending()).toEqual([]);
    // the device goes away; the row stays (OVS keeps ofport), removing the port unbinds it
    await deleteLink(V1, 'eth1');
    await deletePort(conn, 'br-int', 'vm2');
    await eventually(() => watcher!.lookup('lsp-vm2') === undefined, 'lsp-vm2 unbound');
  });

  it('a flow-based VXLAN tunnel port, idempotently', async () => {
    const t = { type: 'vxlan' as const, localIp: '172.31.255.11', remoteIp: 'flow', key: 'flow', ofportRequest: 10 };
    expect((await ensureTunnelPort(conn, 'br-int', 'vxlan0', t)).changed).toBe(true);
    expect((await ensureTunnelPort(conn, 'br-int', 'vxlan0', t)).changed).toBe(false);
    expect(await vs('get', 'interface', 'vxlan0', 'type')).toBe('vxlan');
    expect(await vs('get', 'interface', 'vxlan0', 'options')).toBe('{key=flow, local_ip="172.31.255.11", remote_ip=flow}');
    await eventually(async () => (await vs('get', 'interface', 'vxlan0', 'ofport')) === '10', 'vxlan0 ofport 10');
    expect(await ovs!.ofctl('show', 'br-int')).toMatch(/10\(vxlan0\)/);
  });

  it('patch ports between two bridges, in one transaction, idempotently', async () => {
    await ensureBridge(conn, 'br-phy', { datapathType: 'netdev', otherConfig: { hwaddr: '02:00:00:00:ff:01' } });
    const names = { a: 'patch-phy', b: 'patch-int', ofportRequestA: 20, ofportRequestB: 2 };
    const r = await ensurePatchPorts(conn, 'br-int', 'br-phy', names);
    expect(r.a.changed && r.b.changed).toBe(true);
    const again = await ensurePatchPorts(conn, 'br-int', 'br-phy', names);
    expect(again.a.changed || again.b.changed).toBe(false);
    expect(await vs('port-to-br', 'patch-phy')).toBe('br-int');
    expect(await vs('port-to-br', 'patch-int')).toBe('br-phy');
    expect(await vs('get', 'interface', 'patch-phy', 'options:peer')).toBe('patch-int');
    expect(await vs('get', 'interface', 'patch-int', 'options:peer')).toBe('patch-phy');
    await eventually(async () => (await vs('get', 'interface', 'patch-phy', 'ofport')) === '20', 'patch ofport');
    expect(await listPorts(conn, 'br-int')).toEqual(['patch-phy', 'vxlan0']);
  });

  it('an OVSDB error surfaces as OvsdbError naming the failing operation', async () => {
    const err = await conn
      .transact(VSWITCH_DB, [op.select('Bridge', [], ['name']), op.update('Port', [['name', '==', 'vxlan0']], { nosuch: 1 })])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OvsdbError);
    expect(err).toMatchObject({ error: 'unknown column', opIndex: 1, op: 'update Port' });
    expect((err as OvsdbError).details).toMatch(/nosuch/);
    // a JSON-RPC level error too
    await expect(conn.transact('NoSuchDb', [op.select('Bridge', [], [])])).rejects.toBeInstanceOf(OvsdbError);
    // and ensurePort on a missing bridge
    await expect(ensurePort(conn, 'br-nope', 'x1')).rejects.toThrow(/bridge br-nope does not exist/);
  });

  it('the update2 replica equals what the server says', async () => {
    // exercise optional -> empty, set toggles and map replace/removal through ovs-vsctl
    await vs('set', 'bridge', 'br-phy', 'fail_mode=secure', 'protocols=OpenFlow10,OpenFlow13', 'external_ids:a=1', 'external_ids:b=2');
    await vs('clear', 'bridge', 'br-phy', 'fail_mode', '--', 'set', 'bridge', 'br-phy', 'protocols=OpenFlow13,OpenFlow15', 'external_ids:b=3');
    await vs('remove', 'bridge', 'br-phy', 'external_ids', 'a');
    expect(await vs('get', 'bridge', 'br-phy', 'external_ids')).toBe('{b="3"}');
    await new Promise((r) => setTimeout(r, 100));
    const phy = [...mirror!.replica.table('Bridge').values()].find((b) => b.name === 'br-phy')!;
    expect(phy.fail_mode).toEqual([]);
    expect(new Set(phy.protocols as string[])).toEqual(new Set(['OpenFlow13', 'OpenFlow15']));
    expect(phy.external_ids).toEqual(new Map([['b', '3']]));
    const schema = await conn.getSchema(VSWITCH_DB);
    for (const table of ['Bridge', 'Port', 'Interface', 'Open_vSwitch']) {
      const [res] = await conn.transact(VSWITCH_DB, [op.select(table, [])]);
      const rows = res!.rows!;
      const local = mirror!.replica.table(table);
      expect(local.size, table).toBe(rows.length);
      const ts = schema.tables.get(table)!;
      for (const raw of rows) {
        const row = decodeRow(ts, Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, encodeBack(v)])));
        const id = (row._uuid as { uuid: string }).uuid;
        const mine = local.get(id);
        expect(mine, `${table} ${id}`).toBeDefined();
        for (const [c, v] of Object.entries(row)) {
          if (c === '_uuid' || c === '_version' || c === 'statistics') continue; // statistics race the select
          expect(datumEquals(mine![c]!, v), `${table}.${c}: ${String(JSON.stringify([...toPlain(mine![c])]))} vs ${JSON.stringify([...toPlain(v)])}`).toBe(true);
        }
      }
    }
  });

  it('restartVswitchd keeps the database and the bridges; vswitchd catches up again', async () => {
    const before = await getBridge(conn, 'br-int');
    await ovs!.restartVswitchd();
    expect(conn.closed).toBe(false); // ovsdb-server untouched
    await waitForVswitchd(conn);
    expect(await getBridge(conn, 'br-int')).toEqual(before);
    expect((await ensureBridge(conn, 'br-int', { datapathType: 'netdev', failMode: 'secure' })).changed).toBe(false);
    expect((await vs('list-br')).split('\n')).toEqual(['br-int', 'br-phy']);
    await eventually(async () => /10\(vxlan0\)/.test(await ovs!.ofctl('show', 'br-int').catch(() => '')), 'br-int back');
  });
});

// select results are decoded loosely; re-encode them so decodeRow can normalise by column kind
function encodeBack(d: Datum): unknown {
  return encodeDatum(d);
}
function toPlain(d: Datum | undefined): unknown[] {
  if (d instanceof Map) return [...d];
  if (Array.isArray(d)) return d;
  return [d];
}
