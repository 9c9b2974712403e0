// The agent's bridges: br-int (every VM port, our flows), its VXLAN tunnel port and one patch-port
// uplink per physical network into that network's bridge. prepareBridges() brings OVSDB to that
// state and is idempotent: a second call with the same settings writes nothing.
//
// What it never does: touch br-int's flows or set a controller on any bridge (setting or removing a
// primary controller flushes every flow; the agent talks to the passive `<rundir>/br-int.mgmt`), or
// delete a physical bridge (the operator's, e.g. with the NIC on it).
//
// Fixed OpenFlow port numbers on br-int (OVS picks small numbers for VM ports, from 1 up; the largest
// usable number is 65279), so that flows survive a re-creation of the ports:
//   TUNNEL_OFPORT      60000  vxlan0 (remote_ip=flow, key=flow, local_ip=<tunnel IP>)
//   UPLINK_OFPORT_BASE 60001  + index of the physnet in sorted order: the br-int end of its patch pair
// The numbers actually assigned are returned (and used by the agent), even if OVS had to pick others.
//
// Port names follow Neutron's OVS agent: `int-<bridge>` is the patch port on br-int, `phy-<bridge>`
// its peer on the physical bridge; names longer than 15 bytes keep a prefix of the bridge name plus
// 6 hex of its SHA-1 (stable and distinct).
//
// Physical bridges get fail-mode=standalone and no flows from us: with no controller they forward as
// a MAC-learning switch, every port a trunk, so 802.1Q-tagged frames from br-int cross them as they are.
import { createHash } from 'node:crypto';
import { ensureBridge } from '../ovsdb/bridge.ts';
import { asSet, mapToRecord, uuid } from '../ovsdb/datum.ts';
import type { OvsdbConnection } from '../ovsdb/connection.ts';
import { OvsdbError } from '../ovsdb/errors.ts';
import { VSWITCH_DB, rowUuid, transactAndWait } from '../ovsdb/open-vswitch.ts';
import { op, type Operation } from '../ovsdb/ops.ts';
import { deletePort, ensurePatchPorts, ensureTunnelPort, getInterface } from '../ovsdb/port.ts';

export const INTEGRATION_BRIDGE = 'br-int';
export const TUNNEL_PORT = 'vxlan0';
export const TUNNEL_OFPORT = 60000;
export const UPLINK_OFPORT_BASE = 60001;
/** OFPP_MAX: the largest physical port number in OpenFlow 1.3. */
export const MAX_OFPORT = 0xfeff;
export const MAX_UPLINKS = MAX_OFPORT - UPLINK_OFPORT_BASE + 1;
/** Interface external_ids that mark the ports prepareBridges() owns. */
export const ROLE_KEY = 'weft-role';
export const PHYSNET_KEY = 'weft-physnet';

const IFNAME_MAX = 15;

export interface PrepareBridgesOptions {
  datapath: 'netdev' | 'system';
  /** Local VTEP address; null = no tunnel port (an existing vxlan0 of ours is removed). */
  tunnelIp: string | null;
  /** physnet -> bridge (WEFT_BRIDGE_MAPPINGS). Uplinks of physnets no longer listed are removed. */
  bridgeMappings: Record<string, string>;
  /** How long to wait for ovs-vswitchd to apply changes and assign ofports. Default 10 s. */
  timeoutMs?: number;
}

export interface PreparedBridges {
  /** br-int ofport of vxlan0, or null without a tunnel IP. */
  tunnelOfport: number | null;
  /** physnet -> br-int ofport of its uplink (patch port). */
  uplinks: Record<string, number>;
}

/** Neutron's get_interface_name(): prefix + name, or prefix + a cut name + 6 hex of sha1(name). */
export function interfaceName(prefix: string, name: string): string {
  const full = `${prefix}${name}`;
  if (Buffer.byteLength(full) <= IFNAME_MAX) return full;
  const hash = createHash('sha1').update(name).digest('hex').slice(0, 6);
  return `${prefix}${name.slice(0, IFNAME_MAX - prefix.length - hash.length)}${hash}`;
}

/** Names of the patch pair between br-int and `bridge`. */
export function uplinkPortNames(bridge: string): { intSide: string; physSide: string } {
  return { intSide: interfaceName('int-', bridge), physSide: interfaceName('phy-', bridge) };
}

/** The planned uplinks, in sorted physnet order, with their requested br-int ofports. */
export function planUplinks(bridgeMappings: Record<string, string>): {
  physnet: string;
  bridge: string;
  intSide: string;
  physSide: string;
  ofportRequest: number;
}[] {
  const physnets = Object.keys(bridgeMappings).sort();
  if (physnets.length > MAX_UPLINKS) throw new Error(`too many bridge mappings (${physnets.length} > ${MAX_UPLINKS})`);
  const seen = new Map<string, string>();
  return physnets.map((physnet, i) => {
    const bridge = bridgeMappings[physnet]!;
    if (!bridge || Buffer.byteLength(bridge) > IFNAME_MAX || /[\s/:]/.test(bridge)) {
      throw new Error(`bridge mapping ${physnet}:${bridge}: invalid bridge name`);
    }
    if (bridge === INTEGRATION_BRIDGE) throw new Error(`bridge mapping ${physnet}:${bridge}: cannot map a physnet to the integration bridge`);
    const other = seen.get(bridge);
    if (other) throw new Error(`physnets ${other} and ${physnet} both map to bridge ${bridge}`);
    seen.set(bridge, physnet);
    return { physnet, bridge, ...uplinkPortNames(bridge), ofportRequest: UPLINK_OFPORT_BASE + i };
  });
}

export async function prepareBridges(conn: OvsdbConnection, opts: PrepareBridgesOptions): Promise<PreparedBridges> {
  const wait = { timeoutMs: opts.timeoutMs ?? 10_000 };
  const uplinks = planUplinks(opts.bridgeMappings);

  await ensureBridge(conn, INTEGRATION_BRIDGE, { datapathType: opts.datapath, failMode: 'secure', ...wait });

  if (opts.tunnelIp) {
    await ensureTunnelPort(
      conn,
      INTEGRATION_BRIDGE,
      TUNNEL_PORT,
      {
        type: 'vxlan',
        remoteIp: 'flow',
        localIp: opts.tunnelIp,
        key: 'flow',
        ofportRequest: TUNNEL_OFPORT,
        externalIds: { [ROLE_KEY]: 'tunnel' },
      },
      wait,
    );
  } else {
    const t = await getInterface(conn, TUNNEL_PORT);
    if (t && t.externalIds[ROLE_KEY] === 'tunnel') await deletePort(conn, INTEGRATION_BRIDGE, TUNNEL_PORT, wait);
  }

  for (const u of uplinks) {
    await ensureBridge(conn, u.bridge, { datapathType: opts.datapath, failMode: 'standalone', ...wait });
    await ensurePatchPorts(conn, INTEGRATION_BRIDGE, u.bridge, { a: u.intSide, b: u.physSide, ofportRequestA: u.ofportRequest }, wait);
    // The br-int end carries the marks that let a later call find uplinks that are no longer mapped.
    await markInterface(conn, u.intSide, { [ROLE_KEY]: 'uplink', [PHYSNET_KEY]: u.physnet }, wait.timeoutMs);
  }
  await removeStaleUplinks(conn, new Set(uplinks.map((u) => u.intSide)), wait.timeoutMs);

  const deadline = Date.now() + wait.timeoutMs;
  const result: PreparedBridges = { tunnelOfport: null, uplinks: {} };
  if (opts.tunnelIp) result.tunnelOfport = await waitForOfport(conn, TUNNEL_PORT, deadline);
  for (const u of uplinks) result.uplinks[u.physnet] = await waitForOfport(conn, u.intSide, deadline);
  return result;
}

/** Sets the given external_ids keys on an interface (other keys kept); writes nothing if they match. */
async function markInterface(conn: OvsdbConnection, name: string, ids: Record<string, string>, timeoutMs: number): Promise<void> {
  const iface = await getInterface(conn, name);
  if (!iface) throw new OvsdbError({ error: 'not found', details: `interface ${name} vanished` });
  const changed = Object.entries(ids).filter(([k, v]) => iface.externalIds[k] !== v);
  if (!changed.length) return;
  const where = [['_uuid', '==', uuid(iface.uuid)]] as const;
  await transactAndWait(
    conn,
    [
      op.mutate('Interface', where, [
        ['external_ids', 'delete', changed.map(([k]) => k)],
        ['external_ids', 'insert', new Map(changed)],
      ]),
      op.comment(`weft: mark ${name}`),
    ],
    { timeoutMs, wait: false },
  );
}

/** Removes br-int uplinks we made for physnets that are no longer mapped, and their peers. */
async function removeStaleUplinks(conn: OvsdbConnection, keep: Set<string>, timeoutMs: number): Promise<void> {
  const [ifs, ports, bridges] = await conn.transact(VSWITCH_DB, [
    op.select('Interface', [['external_ids', 'includes', new Map([[ROLE_KEY, 'uplink']])]], ['name', 'options']),
    op.select('Port', [], ['_uuid', 'name']),
    op.select('Bridge', [], ['_uuid', 'name', 'ports']),
  ]);
  const stale = new Set<string>();
  for (const row of ifs?.rows ?? []) {
    const name = String(row.name);
    if (keep.has(name)) continue;
    stale.add(name);
    const peer = mapToRecord(row.options).peer;
    if (peer) stale.add(peer);
  }
  if (!stale.size) return;
  const portUuid = new Map((ports?.rows ?? []).map((r) => [String(r.name), rowUuid(r._uuid)]));
  const ops: Operation[] = [];
  for (const b of bridges?.rows ?? []) {
    const onBridge = new Set(asSet(b.ports).map((p) => rowUuid(p)));
    const del = [...stale].map((n) => portUuid.get(n)).filter((u): u is string => u !== undefined && onBridge.has(u));
    if (del.length) ops.push(op.mutate('Bridge', [['_uuid', '==', uuid(rowUuid(b._uuid))]], [['ports', 'delete', del.map((u) => uuid(u))]]));
  }
  if (!ops.length) return;
  ops.push(op.comment(`weft: remove stale uplinks ${[...stale].sort().join(' ')}`));
  await transactAndWait(conn, ops, { timeoutMs });
}

/** Waits until ovs-vswitchd has given `name` an OpenFlow port number; throws with OVS's error if it cannot. */
async function waitForOfport(conn: OvsdbConnection, name: string, deadline: number): Promise<number> {
  for (;;) {
    const iface = await getInterface(conn, name);
    if (iface?.ofport !== undefined && iface.ofport > 0) return iface.ofport;
    if (Date.now() > deadline) {
      const why = iface ? (iface.ofport === -1 ? `ofport -1${iface.error ? `: ${iface.error}` : ''}` : 'no ofport yet') : 'no such interface';
      throw new OvsdbError({ error: 'timed out', details: `waiting for an ofport on ${name} (${why}); is ovs-vswitchd running?` });
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
