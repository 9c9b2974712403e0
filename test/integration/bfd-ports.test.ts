// The BFD ports (agent/underlay) against a real private Open vSwitch: written in one transaction
// with their options, bfd settings, marks and ofports, idempotent, corrected and removed as the
// peers change, never touching other ports; the BFD monitor reads their sessions' states. The
// agent's underlay health plans them from its view of the agents: a compute host runs sessions to
// the gateway hosts only, a gateway host to every other host, and a host that becomes a gateway
// host (or stops being one) gains (or loses) the sessions of the compute hosts.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTEGRATION_BRIDGE, TUNNEL_OFPORT, TUNNEL_PORT, prepareBridges } from '../../agent/host/bridges.ts';
import { startLocalOvs, type LocalOvs } from '../../agent/host/local-ovs.ts';
import { createNetns, deleteNetns } from '../../agent/host/netns.ts';
import { OvsdbConnection } from '../../agent/ovsdb/connection.ts';
import { BFD_OFPORT_FIRST, bfdPeers } from '../../agent/underlay/bfd-plan.ts';
import { syncBfdPorts } from '../../agent/underlay/bfd-ports.ts';
import { BfdWatch } from '../../agent/underlay/bfd-watch.ts';
import { UnderlayHealth } from '../../agent/underlay/underlay-health.ts';
import type { AgentView } from '../../schemas/agent/view.ts';

const H = `wt${randomBytes(3).toString('hex')}-bfd`;
const runRoot = mkdtempSync('/tmp/wt-');
const LOCAL = '172.31.251.1';
let ovs: LocalOvs;
let conn: OvsdbConnection;
let watch: BfdWatch | undefined;
let health: UnderlayHealth | undefined;

const vs = (...a: string[]) => ovs.vsctl(...a);
/** The BFD peers of this host as a gateway host: every other host. */
const peers = (...hosts: Array<[string, string]>) =>
  bfdPeers(LOCAL, [{ host: 'me', tunnel_ip: LOCAL, gateway_capable: true }, ...hosts.map(([host, ip]) => ({ host, tunnel_ip: ip }))], 'me');

beforeAll(async () => {
  await createNetns(H);
  ovs = await startLocalOvs({ runDir: join(runRoot, 'h'), netns: H });
  conn = await OvsdbConnection.connect(ovs.dbTarget);
  await prepareBridges(conn, { datapath: 'netdev', tunnelIp: LOCAL, bridgeMappings: {} });
});

afterAll(async () => {
  await health?.close().catch(() => undefined);
  await watch?.stop().catch(() => undefined);
  await conn?.close().catch(() => undefined);
  await ovs?.stop().catch(() => undefined);
  await deleteNetns(H).catch(() => undefined);
  rmSync(runRoot, { recursive: true, force: true });
});

describe('BFD ports', () => {
  it('one per peer, key 0, BFD at 100 ms, in the reserved ofport band; idempotent; vxlan0 untouched', async () => {
    const states: string[] = [];
    watch = await BfdWatch.start(conn, { onReach: (h, r) => states.push(`${h}:${r}`), onGone: (h) => states.push(`${h}:gone`) });
    const two = peers(['a', '172.31.251.2'], ['b', '172.31.251.3']);
    expect(await syncBfdPorts(conn, INTEGRATION_BRIDGE, LOCAL, two)).toEqual({ added: 2, changed: 0, removed: 0 });
    expect(await syncBfdPorts(conn, INTEGRATION_BRIDGE, LOCAL, two)).toEqual({ added: 0, changed: 0, removed: 0 });
    expect((await vs('list-ports', INTEGRATION_BRIDGE)).split('\n')).toEqual(['bfd-ac1ffb02', 'bfd-ac1ffb03', TUNNEL_PORT]);
    const get = (name: string, col: string) => vs('get', 'interface', name, col);
    expect(await get('bfd-ac1ffb02', 'type')).toBe('vxlan');
    expect(await get('bfd-ac1ffb02', 'options')).toBe('{key="0", local_ip="172.31.251.1", remote_ip="172.31.251.2"}');
    expect(await get('bfd-ac1ffb02', 'bfd')).toBe('{check_tnl_key="true", enable="true", min_rx="100", min_tx="100"}');
    expect(await get('bfd-ac1ffb02', 'external_ids')).toBe('{weft-peer-host=a, weft-role=bfd}');
    expect(Number(await get('bfd-ac1ffb02', 'ofport'))).toBe(BFD_OFPORT_FIRST);
    expect(Number(await get('bfd-ac1ffb03', 'ofport'))).toBe(BFD_OFPORT_FIRST + 1);
    expect(Number(await get(TUNNEL_PORT, 'ofport'))).toBe(TUNNEL_OFPORT);
    expect(await get(TUNNEL_PORT, 'options')).toMatch(/key=flow.*remote_ip=flow/);
    // No peer answers here: OVS runs the sessions and says they are down; a peer never up is no news.
    await new Promise((r) => setTimeout(r, 300));
    expect(await get('bfd-ac1ffb02', 'bfd_status')).toMatch(/state=down/);
    expect(states.sort()).toEqual(['a:down', 'b:down']);

    // A peer goes, another gets a new host name: removed, corrected; the new one gets a number not
    // freed in the same step (OVS would not hand that one out yet).
    const next = peers(['b2', '172.31.251.3'], ['c', '172.31.251.4']);
    expect(await syncBfdPorts(conn, INTEGRATION_BRIDGE, LOCAL, next)).toEqual({ added: 1, changed: 1, removed: 1 });
    expect((await vs('list-ports', INTEGRATION_BRIDGE)).split('\n')).toEqual(['bfd-ac1ffb03', 'bfd-ac1ffb04', TUNNEL_PORT]);
    expect(await get('bfd-ac1ffb03', 'external_ids')).toBe('{weft-peer-host=b2, weft-role=bfd}');
    expect(Number(await get('bfd-ac1ffb04', 'ofport'))).toBe(BFD_OFPORT_FIRST + 2);
    await new Promise((r) => setTimeout(r, 200));
    expect(states).toContain('a:gone');
    expect(await syncBfdPorts(conn, INTEGRATION_BRIDGE, LOCAL, [])).toEqual({ added: 0, changed: 0, removed: 2 });
    expect((await vs('list-ports', INTEGRATION_BRIDGE)).split('\n')).toEqual([TUNNEL_PORT]);
  });

  it('from the view of the agents: a compute host to the gateway hosts only; sessions follow the gateway flags', async () => {
    const silentLog = { info: () => undefined, warn: () => undefined, error: () => undefined };
    health = await UnderlayHealth.start({
      conn, host: 'me', tunnelIp: LOCAL, bridge: INTEGRATION_BRIDGE, report: () => true, setIsolated: async () => undefined, holdMs: 1000, log: silentLog,
    });
    const agent = (host: string, last: number, gateway: boolean): AgentView =>
      ({ id: `id-${host}`, host, tunnel_ip: `172.31.251.${last}`, gateway_capable: gateway });
    /** The peers the BFD ports on br-int go to, by their weft-peer-host mark. */
    const bfdHosts = async () => {
      const out = await vs('--format=json', '--columns=external_ids', 'find', 'Interface', 'external_ids:weft-role=bfd');
      const rows = JSON.parse(out).data as Array<[['map', [string, string][]]]>;
      return rows.map(([ids]) => Object.fromEntries(ids[1])['weft-peer-host']!).sort();
    };
    const expectPorts = async (want: string[]) => {
      for (let i = 0; i < 100 && JSON.stringify(await bfdHosts()) !== JSON.stringify(want); i++) await new Promise((r) => setTimeout(r, 50));
      expect(await bfdHosts()).toEqual(want);
    };
    const view = (me: boolean, c2: boolean, g2: boolean) =>
      [agent('me', 1, me), agent('c2', 2, c2), agent('c3', 3, false), agent('g1', 5, true), agent('g2', 6, g2)];

    // A compute host: sessions to g1 and g2, none to the compute hosts c2 and c3.
    health.agentsChanged(view(false, false, true));
    await expectPorts(['g1', 'g2']);
    // c2 becomes a gateway host: a session to it is added; g2 stops being one: its session goes.
    health.agentsChanged(view(false, true, true));
    await expectPorts(['c2', 'g1', 'g2']);
    health.agentsChanged(view(false, true, false));
    await expectPorts(['c2', 'g1']);
    // This host becomes a gateway host itself: sessions to every other host; and back.
    health.agentsChanged(view(true, true, false));
    await expectPorts(['c2', 'c3', 'g1', 'g2']);
    health.agentsChanged(view(false, false, true));
    await expectPorts(['g1', 'g2']);
    // A new compute host changes nothing here: the same two ports, the same rows.
    const rows = () => vs('--format=json', '--columns=_uuid,name,options,external_ids', 'find', 'Interface', 'external_ids:weft-role=bfd');
    const before = await rows();
    health.agentsChanged([...view(false, false, true), agent('c4', 7, false)]);
    await new Promise((r) => setTimeout(r, 200));
    expect(await rows()).toBe(before);
    // A new gateway host: a session to it.
    health.agentsChanged([...view(false, false, true), agent('c4', 7, false), agent('g3', 8, true)]);
    await expectPorts(['g1', 'g2', 'g3']);
  });
});
