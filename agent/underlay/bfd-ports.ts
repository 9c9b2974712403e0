// Brings br-int's BFD ports (bfd-plan.ts) to the planned peers in one OVSDB transaction: a port per
// new peer, settings corrected, ports of peers gone removed. Only ports marked weft-role=bfd are ever
// touched. Does not wait for ovs-vswitchd: the sessions' states come through the monitor (bfd-watch.ts).
import { asSet, mapToRecord, namedUuid, recordToMap, uuid } from '../ovsdb/datum.ts';
import type { OvsdbConnection } from '../ovsdb/connection.ts';
import { VSWITCH_DB, rowUuid, transactAndWait } from '../ovsdb/open-vswitch.ts';
import { op, type Operation } from '../ovsdb/ops.ts';
import { ROLE_KEY } from '../host/bridges.ts';
import { BFD_PEER_HOST_KEY, BFD_ROLE, bfdInterface, freeBfdOfport, type BfdPeer } from './bfd-plan.ts';

const same = (a: Record<string, string>, b: Record<string, string>) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

/** Returns how many ports were added, changed and removed. */
export async function syncBfdPorts(
  conn: OvsdbConnection, bridge: string, localIp: string, peers: readonly BfdPeer[],
): Promise<{ added: number; changed: number; removed: number }> {
  const [br, ifs, ports] = await conn.transact(VSWITCH_DB, [
    op.select('Bridge', [['name', '==', bridge]], ['_uuid', 'ports']),
    op.select('Interface', [['external_ids', 'includes', new Map([[ROLE_KEY, BFD_ROLE]])]], ['_uuid', 'name', 'options', 'bfd', 'external_ids', 'ofport_request']),
    op.select('Port', [], ['_uuid', 'name']),
  ]);
  const bridgeRow = br?.rows?.[0];
  if (!bridgeRow) throw new Error(`bridge ${bridge} does not exist`);
  const bridgeUuid = rowUuid(bridgeRow._uuid);
  const onBridge = new Set(asSet(bridgeRow.ports).map((p) => rowUuid(p)));
  const portUuid = new Map((ports?.rows ?? []).map((r) => [String(r.name), rowUuid(r._uuid)]));
  const want = new Map(peers.map((p) => [p.name, p]));
  // Every BFD port's ofport is taken, also of ports removed here: OVS would not hand it to a port added in the same step.
  const used = new Set<number>();
  const have = new Map<string, { uuid: string; options: Record<string, string>; bfd: Record<string, string>; ids: Record<string, string> }>();
  for (const r of ifs?.rows ?? []) {
    const name = String(r.name);
    const req = asSet(r.ofport_request)[0];
    if (typeof req === 'number') used.add(req);
    have.set(name, { uuid: rowUuid(r._uuid), options: mapToRecord(r.options), bfd: mapToRecord(r.bfd), ids: mapToRecord(r.external_ids) });
  }
  const ops: Operation[] = [];
  const addPorts: ReturnType<typeof namedUuid>[] = [];
  const delPorts: ReturnType<typeof uuid>[] = [];
  let added = 0;
  let changed = 0;
  for (const p of peers) {
    const spec = bfdInterface(localIp, p.ip);
    const ids = { [ROLE_KEY]: BFD_ROLE, [BFD_PEER_HOST_KEY]: p.host };
    const cur = have.get(p.name);
    if (cur && portUuid.has(p.name) && onBridge.has(portUuid.get(p.name)!)) {
      if (same(cur.options, spec.options) && same(cur.bfd, spec.bfd) && same(cur.ids, ids)) continue;
      ops.push(op.update('Interface', [['_uuid', '==', uuid(cur.uuid)]], {
        options: recordToMap(spec.options), bfd: recordToMap(spec.bfd), external_ids: recordToMap(ids),
      }));
      changed++;
      continue;
    }
    const ofport = freeBfdOfport(used);
    if (ofport !== undefined) used.add(ofport);
    const tag = `${added}`;
    ops.push(op.insert('Interface', {
      name: p.name, type: 'vxlan', options: recordToMap(spec.options), bfd: recordToMap(spec.bfd), external_ids: recordToMap(ids),
      ...(ofport !== undefined ? { ofport_request: ofport } : {}),
    }, `bi${tag}`));
    ops.push(op.insert('Port', { name: p.name, interfaces: [namedUuid(`bi${tag}`)] }, `bp${tag}`));
    addPorts.push(namedUuid(`bp${tag}`));
    added++;
  }
  for (const name of have.keys()) {
    if (want.has(name)) continue;
    const u = portUuid.get(name);
    if (u && onBridge.has(u)) delPorts.push(uuid(u));
  }
  if (addPorts.length || delPorts.length) {
    const mutations: Array<readonly ['ports', 'insert' | 'delete', typeof addPorts | typeof delPorts]> = [];
    if (delPorts.length) mutations.push(['ports', 'delete', delPorts]);
    if (addPorts.length) mutations.push(['ports', 'insert', addPorts]);
    ops.push(op.mutate('Bridge', [['_uuid', '==', uuid(bridgeUuid)]], mutations));
  }
  if (!ops.length) return { added: 0, changed: 0, removed: 0 };
  ops.push(op.comment(`weft: BFD ports to ${peers.map((p) => p.host).join(' ') || 'nobody'}`));
  await transactAndWait(conn, ops, { wait: false });
  return { added, changed, removed: delPorts.length };
}
