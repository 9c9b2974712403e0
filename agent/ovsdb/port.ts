// Port and Interface rows (this client always pairs one Port with one Interface of the same name,
// as `ovs-vsctl add-port` does). All ensure* functions read first, write only what differs, and
// guard the write with `wait` operations, so calling them twice changes nothing.
import { asOptional, asSet, mapToRecord, namedUuid, recordToMap, uuid, type Datum } from './datum.ts';
import type { OvsdbConnection } from './connection.ts';
import { OvsdbError } from './errors.ts';
import { op, type Operation, type Row } from './ops.ts';
import { isLostRace } from './bridge.ts';
import { VSWITCH_DB, rowUuid, transactAndWait, type WaitOptions } from './open-vswitch.ts';

export interface PortSpec {
  /** Interface type: '' (a system device, e.g. a veth), 'internal', 'patch', 'vxlan', 'geneve', ... Default ''. */
  type?: string;
  /** ofport_request; when undefined the current value is left alone. */
  ofportRequest?: number;
  /** Interface external_ids (iface-id, attached-mac, ...); set exactly when given, untouched when undefined. */
  externalIds?: Record<string, string>;
  /** Interface options (peer, remote_ip, key, ...); set exactly when given, untouched when undefined. */
  options?: Record<string, string>;
}

export interface PortWriteOptions extends WaitOptions {
  /** Wait until ovs-vswitchd has applied a change (default true). */
  wait?: boolean;
}

export interface InterfaceRow {
  uuid: string;
  name: string;
  type: string;
  ofport: number | undefined;
  ofportRequest: number | undefined;
  externalIds: Record<string, string>;
  options: Record<string, string>;
  error: string | undefined;
  macInUse: string | undefined;
}

export interface EnsurePortResult {
  portUuid: string;
  interfaceUuid: string;
  changed: boolean;
}

const IFACE_COLUMNS = ['_uuid', 'name', 'type', 'ofport', 'ofport_request', 'external_ids', 'options', 'error', 'mac_in_use'];

export function decodeInterface(row: Record<string, Datum>): InterfaceRow {
  const num = (d: Datum | undefined) => {
    const a = asOptional(d);
    return typeof a === 'number' ? a : undefined;
  };
  const str = (d: Datum | undefined) => {
    const a = asOptional(d);
    return typeof a === 'string' ? a : undefined;
  };
  return {
    uuid: rowUuid(row._uuid),
    name: String(row.name),
    type: String(row.type ?? ''),
    ofport: num(row.ofport),
    ofportRequest: num(row.ofport_request),
    externalIds: mapToRecord(row.external_ids),
    options: mapToRecord(row.options),
    error: str(row.error),
    macInUse: str(row.mac_in_use),
  };
}

export async function getInterface(conn: OvsdbConnection, name: string): Promise<InterfaceRow | undefined> {
  const [r] = await conn.transact(VSWITCH_DB, [op.select('Interface', [['name', '==', name]], IFACE_COLUMNS)]);
  const row = r?.rows?.[0];
  return row ? decodeInterface(row) : undefined;
}

interface Snapshot {
  bridges: { uuid: string; name: string; ports: string[] }[];
  port: { uuid: string; interfaces: string[] } | undefined;
  iface: InterfaceRow | undefined;
}

async function snapshot(conn: OvsdbConnection, name: string): Promise<Snapshot> {
  const [b, p, i] = await conn.transact(VSWITCH_DB, [
    op.select('Bridge', [], ['_uuid', 'name', 'ports']),
    op.select('Port', [['name', '==', name]], ['_uuid', 'interfaces']),
    op.select('Interface', [['name', '==', name]], IFACE_COLUMNS),
  ]);
  const prow = p?.rows?.[0];
  const irow = i?.rows?.[0];
  return {
    bridges: (b?.rows ?? []).map((r) => ({ uuid: rowUuid(r._uuid), name: String(r.name), ports: asSet(r.ports).map((x) => rowUuid(x)) })),
    port: prow ? { uuid: rowUuid(prow._uuid), interfaces: asSet(prow.interfaces).map((x) => rowUuid(x)) } : undefined,
    iface: irow ? decodeInterface(irow) : undefined,
  };
}

const sameRecord = (a: Record<string, string>, b: Record<string, string>) => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
};

interface Plan {
  ops: Operation[];
  /** Index in ops of the Port/Interface inserts (new port) or -1. */
  insertPortAt: number;
  insertIfaceAt: number;
  portUuid?: string;
  interfaceUuid?: string;
}

/** Works out the operations that make `name` a port of `bridge` with `spec`; tag keeps named-uuids unique. */
function planPort(s: Snapshot, bridge: string, name: string, spec: PortSpec, tag: string): Plan {
  const br = s.bridges.find((b) => b.name === bridge);
  if (!br) throw new OvsdbError({ error: 'not found', details: `bridge ${bridge} does not exist` });
  const ops: Operation[] = [];
  if (!s.port) {
    const row: Row = { name };
    if (spec.type) row.type = spec.type;
    if (spec.ofportRequest !== undefined) row.ofport_request = spec.ofportRequest;
    if (spec.externalIds) row.external_ids = recordToMap(spec.externalIds);
    if (spec.options) row.options = recordToMap(spec.options);
    ops.push(op.wait('Port', [['name', '==', name]], ['name'], '==', []));
    const insertIfaceAt = ops.push(op.insert('Interface', row, `i${tag}`)) - 1;
    const insertPortAt = ops.push(op.insert('Port', { name, interfaces: [namedUuid(`i${tag}`)] }, `p${tag}`)) - 1;
    ops.push(op.mutate('Bridge', [['_uuid', '==', uuid(br.uuid)]], [['ports', 'insert', [namedUuid(`p${tag}`)]]]));
    return { ops, insertPortAt, insertIfaceAt };
  }
  const port = s.port;
  const iface = s.iface;
  if (!iface || !port.interfaces.includes(iface.uuid)) {
    throw new OvsdbError({ error: 'unexpected layout', details: `port ${name} has no interface named ${name}` });
  }
  // Guard: the port is still the row we looked at.
  const guard = op.wait('Port', [['name', '==', name]], ['_uuid'], '==', [{ _uuid: uuid(port.uuid) }]);
  for (const other of s.bridges) {
    if (other.uuid !== br.uuid && other.ports.includes(port.uuid)) {
      ops.push(op.mutate('Bridge', [['_uuid', '==', uuid(other.uuid)]], [['ports', 'delete', [uuid(port.uuid)]]]));
    }
  }
  if (!br.ports.includes(port.uuid)) {
    ops.push(op.mutate('Bridge', [['_uuid', '==', uuid(br.uuid)]], [['ports', 'insert', [uuid(port.uuid)]]]));
  }
  const update: Row = {};
  if ((spec.type ?? '') !== iface.type) update.type = spec.type ?? '';
  if (spec.ofportRequest !== undefined && spec.ofportRequest !== iface.ofportRequest) update.ofport_request = spec.ofportRequest;
  if (spec.externalIds && !sameRecord(spec.externalIds, iface.externalIds)) update.external_ids = recordToMap(spec.externalIds);
  if (spec.options && !sameRecord(spec.options, iface.options)) update.options = recordToMap(spec.options);
  if (Object.keys(update).length) ops.push(op.update('Interface', [['_uuid', '==', uuid(iface.uuid)]], update));
  if (ops.length) ops.unshift(guard);
  return { ops, insertPortAt: -1, insertIfaceAt: -1, portUuid: port.uuid, interfaceUuid: iface.uuid };
}

async function ensurePorts(
  conn: OvsdbConnection,
  specs: { bridge: string; name: string; spec: PortSpec }[],
  opts: PortWriteOptions,
  comment: string,
): Promise<EnsurePortResult[]> {
  for (let attempt = 0; ; attempt++) {
    try {
      const plans: Plan[] = [];
      const ops: Operation[] = [];
      const offsets: number[] = [];
      for (const [i, s] of specs.entries()) {
        const plan = planPort(await snapshot(conn, s.name), s.bridge, s.name, s.spec, String(i));
        plans.push(plan);
        offsets.push(ops.length);
        ops.push(...plan.ops);
      }
      if (!ops.length) {
        return plans.map((p) => ({ portUuid: p.portUuid!, interfaceUuid: p.interfaceUuid!, changed: false }));
      }
      ops.push(op.comment(comment));
      const res = await transactAndWait(conn, ops, opts);
      return plans.map((p, i) => ({
        portUuid: p.insertPortAt >= 0 ? res[offsets[i]! + p.insertPortAt]!.uuid! : p.portUuid!,
        interfaceUuid: p.insertIfaceAt >= 0 ? res[offsets[i]! + p.insertIfaceAt]!.uuid! : p.interfaceUuid!,
        changed: p.ops.length > 0,
      }));
    } catch (e) {
      if (attempt < 3 && isLostRace(e)) continue;
      throw e;
    }
  }
}

/** Makes `name` a port of `bridge` (one interface of the same name) with the given type, ofport_request, ids, options. */
export async function ensurePort(
  conn: OvsdbConnection,
  bridge: string,
  name: string,
  spec: PortSpec = {},
  opts: PortWriteOptions = {},
): Promise<EnsurePortResult> {
  const [r] = await ensurePorts(conn, [{ bridge, name, spec }], opts, `weft: ensure port ${bridge}/${name}`);
  return r!;
}

export interface TunnelPortSpec {
  type: 'vxlan' | 'geneve' | 'gre';
  /** Local VTEP address (options:local_ip). */
  localIp?: string;
  /** 'flow' (set per packet with tun_dst) or a fixed address. */
  remoteIp: string;
  /** 'flow' (set per packet with tun_id) or a fixed VNI. */
  key: string | number;
  ofportRequest?: number;
  /** UDP destination port (options:dst_port). */
  dstPort?: number;
  /** More options, merged over the ones above. */
  extraOptions?: Record<string, string>;
  externalIds?: Record<string, string>;
}

/** A flow-based (or point-to-point) tunnel port. */
export function ensureTunnelPort(
  conn: OvsdbConnection,
  bridge: string,
  name: string,
  t: TunnelPortSpec,
  opts: PortWriteOptions = {},
): Promise<EnsurePortResult> {
  const options: Record<string, string> = { remote_ip: t.remoteIp, key: String(t.key) };
  if (t.localIp) options.local_ip = t.localIp;
  if (t.dstPort !== undefined) options.dst_port = String(t.dstPort);
  Object.assign(options, t.extraOptions);
  const spec: PortSpec = { type: t.type, options };
  if (t.ofportRequest !== undefined) spec.ofportRequest = t.ofportRequest;
  if (t.externalIds) spec.externalIds = t.externalIds;
  return ensurePort(conn, bridge, name, spec, opts);
}

export interface PatchPortNames {
  /** Port on bridge A. */
  a: string;
  /** Port on bridge B. */
  b: string;
  ofportRequestA?: number;
  ofportRequestB?: number;
}

/** A pair of patch ports joining bridgeA and bridgeB, written in one transaction. */
export async function ensurePatchPorts(
  conn: OvsdbConnection,
  bridgeA: string,
  bridgeB: string,
  names: PatchPortNames,
  opts: PortWriteOptions = {},
): Promise<{ a: EnsurePortResult; b: EnsurePortResult }> {
  const specA: PortSpec = { type: 'patch', options: { peer: names.b } };
  const specB: PortSpec = { type: 'patch', options: { peer: names.a } };
  if (names.ofportRequestA !== undefined) specA.ofportRequest = names.ofportRequestA;
  if (names.ofportRequestB !== undefined) specB.ofportRequest = names.ofportRequestB;
  const [a, b] = await ensurePorts(
    conn,
    [
      { bridge: bridgeA, name: names.a, spec: specA },
      { bridge: bridgeB, name: names.b, spec: specB },
    ],
    opts,
    `weft: ensure patch ${bridgeA}/${names.a} <-> ${bridgeB}/${names.b}`,
  );
  return { a: a!, b: b! };
}

/** Removes port `name` from `bridge` (the Port and Interface rows are garbage-collected). False if it was not there. */
export async function deletePort(conn: OvsdbConnection, bridge: string, name: string, opts: PortWriteOptions = {}): Promise<boolean> {
  const s = await snapshot(conn, name);
  const br = s.bridges.find((b) => b.name === bridge);
  if (!br || !s.port || !br.ports.includes(s.port.uuid)) return false;
  const [r] = await transactAndWait(
    conn,
    [op.mutate('Bridge', [['_uuid', '==', uuid(br.uuid)]], [['ports', 'delete', [uuid(s.port.uuid)]]]), op.comment(`weft: delete port ${bridge}/${name}`)],
    opts,
  );
  return r?.count === 1;
}

/** Names of the ports of a bridge, without the bridge's own local port (like `ovs-vsctl list-ports`). */
export async function listPorts(conn: OvsdbConnection, bridge: string): Promise<string[]> {
  const s = await conn.transact(VSWITCH_DB, [op.select('Bridge', [['name', '==', bridge]], ['ports']), op.select('Port', [], ['_uuid', 'name'])]);
  const ports = new Set(asSet(s[0]?.rows?.[0]?.ports).map((p) => rowUuid(p)));
  return (s[1]?.rows ?? []).filter((r) => ports.has(rowUuid(r._uuid)) && r.name !== bridge).map((r) => String(r.name)).sort();
}
