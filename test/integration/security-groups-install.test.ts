// Security group flows on a real Open vSwitch (private daemons in a fresh netns, userspace datapath):
// every flow of a rich scenario installs, `ovs-ofctl dump-flows` prints exactly what we sent, and
// ofproto/trace (with --ct-next for the conntrack results) shows the tables deciding as intended.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalOvs, type LocalOvs } from '../../agent/host/local-ovs.ts';
import { createNetns, deleteNetns } from '../../agent/host/netns.ts';
import { sendFlowMods } from '../../agent/openflow/batch.ts';
import { OpenFlowConnection } from '../../agent/openflow/connection.ts';
import { makeFlowMod } from '../../agent/openflow/flowmod.ts';
import { parseDumpFlows, toOfctlText } from '../../agent/openflow/render.ts';
import { toFlowMod, type Flow } from '../../agent/pipeline/flow.ts';
import { tableId } from '../../agent/pipeline/tables.ts';
import { compileAll, richScenario } from '../unit/features/sg-scenarios.ts';

const BRIDGE = 'br-int';
const GENERATION = 7;
const HAVE_OVS = (process.env.PATH ?? '').split(':').some((d) => existsSync(join(d, 'ovs-vswitchd')));
if (!HAVE_OVS) console.warn('security-groups-install: ovs-vswitchd not found on PATH, suite skipped');

let ovs: LocalOvs | undefined;
let conn: OpenFlowConnection | undefined;
let cleanup: () => Promise<void> = async () => undefined;
let flows: Flow[] = [];

/** Rejects after `ms`, so a hung step fails inside the test and the cleanup still runs. */
function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => {
    t = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

beforeAll(async () => {
  if (!HAVE_OVS) return;
  const dir = mkdtempSync(join(tmpdir(), 'sgi-'));
  const ns = `labsg${randomBytes(4).toString('hex')}`;
  cleanup = async () => {
    try {
      conn?.close();
      await ovs?.stop();
    } finally {
      await deleteNetns(ns).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    await createNetns(ns);
    ovs = await within(30_000, startLocalOvs({ runDir: dir, netns: ns }), 'starting the private switch');
    await within(30_000, ovs.vsctl('add-br', BRIDGE, '--', 'set', 'bridge', BRIDGE, 'datapath_type=netdev', 'fail-mode=secure'),
      'ovs-vsctl add-br');
    conn = await within(15_000, OpenFlowConnection.connect({ path: ovs.mgmtSocket(BRIDGE) }, { echoIntervalMs: 0, requestTimeoutMs: 10_000 }),
      'connecting to the management socket');
  } catch (e) {
    await cleanup();
    throw e;
  }
  const compiled = compileAll(richScenario());
  expect(compiled.conflicts).toEqual([]);
  flows = compiled.flows;
});

afterAll(async () => {
  await within(40_000, cleanup(), 'stopping the private switch');
});

describe.skipIf(!HAVE_OVS)('security group flows on a real switch', () => {
  it('every flow installs, and dump-flows prints exactly what was sent', async () => {
    const fms = flows.map((f) => toFlowMod(f, GENERATION));
    expect(fms.length).toBeGreaterThan(100);
    await within(20_000, sendFlowMods(conn!, fms), 'sending the flows');
    const dumped = parseDumpFlows(await ovs!.ofctl('dump-flows', BRIDGE, '--no-names')).sort();
    expect(dumped).toEqual(fms.map(toOfctlText).sort());
  });

  describe('ofproto/trace through the installed tables', () => {
    // Stand-ins for the other features' tables: classify -> egress_ct; l2_lookup -> ingress_ct for a
    // local destination (reg7 set), straight out for a remote one (reg7=0; the real l2_lookup sends
    // those to the tunnel itself); output ends the trace at a flow we can see ("50. priority 0").
    beforeAll(async () => {
      if (!conn) return;
      type T = Parameters<typeof tableId>[0];
      const stub = (table: T, cookie: bigint, goto?: T, priority = 0, match = {}) => makeFlowMod({
        tableId: tableId(table), priority, cookie, match, instructions: goto ? [{ type: 'gotoTable', tableId: tableId(goto) }] : [],
      });
      await sendFlowMods(conn, [
        stub('classify', 0xf0n, 'egress_ct'),
        stub('l2_lookup', 0xf3n, 'ingress_ct'),
        stub('l2_lookup', 0xf4n, 'output', 1, { reg7: { value: 0 } }),
        stub('output', 0xf5n),
      ]);
    });

    const trace = async (flow: string, ...ct: string[]) =>
      ovs!.appctl('ofproto/trace', BRIDGE, `in_port=LOCAL,${flow}`, ...ct.flatMap((c) => ['--ct-next', c]));
    const OUTPUT = `\n${tableId('output')}. priority 0`;
    const delivered = async (flow: string, ...ct: string[]) => (await trace(flow, ...ct)).includes(OUTPUT);
    // Packets from another host skip egress (classify sets the skip bit for them in this stand-in).
    const fromRemote = (reg7: number, rest: string) => `reg0=0x2,reg7=${reg7},${rest}`;

    it('ingress: new connections only where a rule allows them', async () => {
      // web (reg7=5): tcp/22 from members of sg-admin (10.0.0.20, pair 10.0.0.100, pair 10.1.0.0/16).
      expect(await delivered(fromRemote(5, 'tcp,nw_src=10.0.0.20,nw_dst=10.0.0.10,tcp_dst=22'), 'trk,new')).toBe(true);
      expect(await delivered(fromRemote(5, 'tcp,nw_src=10.1.2.3,nw_dst=10.0.0.10,tcp_dst=22'), 'trk,new')).toBe(true);
      expect(await delivered(fromRemote(5, 'tcp,nw_src=10.0.0.21,nw_dst=10.0.0.10,tcp_dst=22'), 'trk,new')).toBe(false);
      expect(await delivered(fromRemote(5, 'tcp,nw_src=10.0.0.20,nw_dst=10.0.0.10,tcp_dst=23'), 'trk,new')).toBe(false);
      // app1 (reg7=6): udp 1000-1999 from anywhere.
      expect(await delivered(fromRemote(6, 'udp,nw_src=172.16.0.1,nw_dst=10.0.0.31,udp_dst=1999'), 'trk,new')).toBe(true);
      expect(await delivered(fromRemote(6, 'udp,nw_src=172.16.0.1,nw_dst=10.0.0.31,udp_dst=2000'), 'trk,new')).toBe(false);
      // A filtered port without groups: only control traffic (DHCP replies, ND) gets in.
      expect(await delivered(fromRemote(12, 'tcp,nw_src=10.0.0.20,nw_dst=10.0.0.71,tcp_dst=22'), 'trk,new')).toBe(false);
      expect(await delivered(fromRemote(12, 'udp,nw_src=10.0.0.2,nw_dst=10.0.0.71,udp_src=67,udp_dst=68'))).toBe(true);
      // A port we do not filter (port security off, reg7=10): no conntrack, delivered.
      expect(await delivered(fromRemote(10, 'tcp,nw_src=10.9.9.9,nw_dst=10.0.0.70,tcp_dst=9'))).toBe(true);
    });

    it('the commit marks allowed connections 0; a removed rule cuts an established one with mark 1', async () => {
      const allowed = await trace(fromRemote(5, 'tcp,nw_src=10.0.0.20,nw_dst=10.0.0.10,tcp_dst=22'), 'trk,new');
      expect(allowed).toContain('ct(commit,zone=NXM_NX_REG7[0..15],exec(set_field:0->ct_mark))');
      // Original direction of an established connection that no rule allows any more.
      const cut = await trace(fromRemote(5, 'ct_mark=0,tcp,nw_src=10.0.0.21,nw_dst=10.0.0.10,tcp_dst=22'), 'trk,est');
      expect(cut).toContain('exec(set_field:0x1->ct_mark)');
      expect(cut.includes(OUTPUT)).toBe(false);
      // Its replies (and related packets) are dropped from then on; replies of live connections pass.
      expect(await delivered(fromRemote(5, 'ct_mark=1,tcp,nw_src=10.0.0.21,nw_dst=10.0.0.10,tcp_src=22'), 'trk,est,rpl')).toBe(false);
      expect(await delivered(fromRemote(5, 'ct_mark=0,tcp,nw_src=8.8.8.8,nw_dst=10.0.0.10,tcp_src=443'), 'trk,est,rpl')).toBe(true);
      // Still allowed: an established connection is checked again and passes (re-committed with mark 0).
      const again = await trace(fromRemote(5, 'ct_mark=1,tcp,nw_src=10.0.0.20,nw_dst=10.0.0.10,tcp_dst=22'), 'trk,est');
      expect(again).toContain('exec(set_field:0->ct_mark)');
      expect(again.includes(OUTPUT)).toBe(true);
      expect(await delivered(fromRemote(5, 'tcp,nw_src=10.0.0.20,nw_dst=10.0.0.10,tcp_dst=22'), 'trk,inv')).toBe(false);
    });

    it('egress: rules of the source port, three-clause remote groups, control traffic, skip bit', async () => {
      // vm1 (reg5=3), default group: anything out.
      expect(await delivered('reg5=3,udp,nw_src=10.0.0.5,nw_dst=8.8.8.8,udp_dst=53', 'trk,new')).toBe(true);
      expect(await delivered('reg5=3,udp6,ipv6_src=fd00::5,ipv6_dst=2001:db8::1,udp_dst=53', 'trk,new')).toBe(true);
      // web (reg5=5) has no egress rule.
      expect(await delivered('reg5=5,udp,nw_src=10.0.0.10,nw_dst=8.8.8.8,udp_dst=53', 'trk,new')).toBe(false);
      // ...but DHCP and neighbour discovery always pass.
      expect(await delivered('reg5=5,udp,nw_src=0.0.0.0,nw_dst=255.255.255.255,udp_src=68,udp_dst=67')).toBe(true);
      expect(await delivered('reg5=5,icmp6,ipv6_src=fe80::1,ipv6_dst=ff02::1:ff00:1,icmpv6_type=135,icmpv6_code=0')).toBe(true);
      // app1 (reg5=6): tcp 1000-1999 to members of sg-app (10.0.0.31, 10.0.0.32), three clauses.
      expect(await delivered('reg5=6,tcp,nw_src=10.0.0.31,nw_dst=10.0.0.32,tcp_dst=1500', 'trk,new')).toBe(true);
      expect(await delivered('reg5=6,tcp,nw_src=10.0.0.31,nw_dst=10.0.0.33,tcp_dst=1500', 'trk,new')).toBe(false);
      expect(await delivered('reg5=6,tcp,nw_src=10.0.0.31,nw_dst=10.0.0.32,tcp_dst=999', 'trk,new')).toBe(false);
      // Trusted source ports (skip bit set by classify) bypass egress filtering.
      expect(await delivered('reg0=0x2,reg5=10,tcp,nw_src=10.0.0.70,nw_dst=8.8.8.8,tcp_dst=25')).toBe(true);
      // Between two local ports: egress in the source's zone, then ingress in the destination's.
      // vm1 -> vm2 (both in sg-default, which admits its own members); vm1 -> web (not from sg-admin).
      const both = await trace('reg5=3,reg7=4,tcp,nw_src=10.0.0.5,nw_dst=10.0.0.6,tcp_dst=80', 'trk,new', 'trk,new');
      expect(both).toContain('ct(commit,zone=NXM_NX_REG5[0..15]');
      expect(both).toContain('ct(commit,zone=NXM_NX_REG7[0..15]');
      expect(both.includes(OUTPUT)).toBe(true);
      expect(await delivered('reg5=3,reg7=5,tcp,nw_src=10.0.0.5,nw_dst=10.0.0.10,tcp_dst=22', 'trk,new', 'trk,new')).toBe(false);
      // ARP is never filtered here.
      expect(await delivered('reg5=5,arp,arp_spa=10.0.0.10,arp_tpa=10.0.0.1,arp_op=1')).toBe(true);
    });
  });
});
