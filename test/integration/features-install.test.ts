// The compiled flows against a real Open vSwitch (private ovsdb-server + ovs-vswitchd in a fresh
// network namespace, userspace datapath): every flow of a rich host, as FLOW_MODs, is accepted,
// and `ovs-ofctl dump-flows` prints exactly toOfctlText of what was sent. Then ofproto/trace on
// the forwarding pipeline checks the behaviour the compilers rely on: a port's broadcast reaches
// the other local port and the tunnel but not the sender (OVS skips output to the in_port), a
// spoofed source is dropped, and a fabric packet for a MAC that is not local is dropped, never
// sent back.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DesiredFlows, type HostConfig } from '../../agent/features/engine.ts';
import { ALL_FEATURES, FORWARDING_FEATURES } from '../../agent/features/index.ts';
import type { Feature } from '../../agent/features/engine.ts';
import { startLocalOvs, type LocalOvs } from '../../agent/host/local-ovs.ts';
import { createNetns, deleteNetns, ip } from '../../agent/host/netns.ts';
import { sendFlowMods } from '../../agent/openflow/batch.ts';
import { OpenFlowConnection } from '../../agent/openflow/connection.ts';
import { parseDumpFlows, toOfctlText } from '../../agent/openflow/render.ts';
import { flow, toFlowMod, type Flow } from '../../agent/pipeline/flow.ts';
import { agentDoc, ip4, networkDoc, portDoc, Scenario } from '../helpers/host-scenarios.ts';

const BRIDGE = 'br-int';
const GENERATION = 7;
const HAVE_OVS = (process.env.PATH ?? '').split(':').some((d) => existsSync(join(d, 'ovs-vswitchd')));
if (!HAVE_OVS) console.warn('features-install: ovs-vswitchd not found on PATH, suite skipped');

// br-int's ports: VMs 1..6 (internal ports stand in for their taps), the VXLAN port, two uplinks.
const PORTS: [string, number][] = [['vm1', 1], ['vm2', 2], ['vm3', 3], ['vm4', 4], ['vm5', 5], ['vm6', 6]];
const TUNNEL = 10;
const UPLINK1 = 21;
const UPLINK2 = 22;
const HOST: HostConfig = {
  host: 'h0', tunnelIp: '192.168.0.10', bridgeMappings: { physnet1: 'br-p1', physnet2: 'br-p2' },
  tunnelOfport: TUNNEL, uplinks: { physnet1: UPLINK1, physnet2: UPLINK2 },
};
const MAC = { vm1: 'fa:16:3e:00:00:01', vm2: 'fa:16:3e:00:00:02', remote: 'fa:16:3e:00:00:03' };
const VNI = 1001;

/** VXLAN with two local ports and remote ones, VLAN, flat, port security off, pairs, IPv6, groups. */
function richHost(): Scenario {
  const s = new Scenario(HOST);
  s.doc('agent', 'a1', agentDoc('a1', 'h1', '192.168.0.11'));
  s.doc('agent', 'a2', agentDoc('a2', 'h2', '192.168.0.12'));
  s.doc('security_group', 'g1', { id: 'g1', project_id: 'p1' });
  const rules: Record<string, unknown>[] = [
    { direction: 'egress', ethertype: 'IPv4', protocol: null, normalized_cidr: null, remote_group_id: null },
    { direction: 'egress', ethertype: 'IPv6', protocol: null, normalized_cidr: null, remote_group_id: null },
    { direction: 'ingress', ethertype: 'IPv4', protocol: null, normalized_cidr: null, remote_group_id: 'g1' },
    { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 22, port_range_max: 22, normalized_cidr: '0.0.0.0/0', remote_group_id: null },
    { direction: 'ingress', ethertype: 'IPv4', protocol: 'udp', port_range_min: 1000, port_range_max: 1999, normalized_cidr: '10.0.0.0/8', remote_group_id: null },
    { direction: 'ingress', ethertype: 'IPv6', protocol: 'icmp', normalized_cidr: null, remote_group_id: null },
  ];
  rules.forEach((r, i) => s.doc('security_group_rule', `r${i}`, {
    id: `r${i}`, security_group_id: 'g1', port_range_min: null, port_range_max: null, ...r,
  }));
  const sg = { security_groups: ['g1'] };
  s.doc('network', 'n1', networkDoc('n1', { 'provider:segmentation_id': VNI }));
  s.doc('port', 'vm1', portDoc('vm1', 'n1', MAC.vm1, { ...sg, fixed_ips: [ip4('10.0.0.11')] }));
  s.doc('port', 'vm2', portDoc('vm2', 'n1', MAC.vm2, {
    ...sg, fixed_ips: [ip4('10.0.0.12'), { subnet_id: 's6', ip_address: '2001:db8::12' }],
    allowed_address_pairs: [
      { ip_address: '10.0.5.0/24', mac_address: MAC.vm2 }, { ip_address: '10.0.0.100', mac_address: '00:00:5e:00:01:01' },
    ],
  }));
  s.doc('port', 'r1', portDoc('r1', 'n1', MAC.remote, {
    ...sg, fixed_ips: [ip4('10.0.0.13')], 'binding:host_id': 'h1',
    allowed_address_pairs: [{ ip_address: '10.0.0.100', mac_address: '00:00:5e:00:01:01' }],
  }));
  s.doc('port', 'r2', portDoc('r2', 'n1', 'fa:16:3e:00:00:04', { ...sg, fixed_ips: [ip4('10.0.0.14')], 'binding:host_id': 'h2' }));
  s.doc('port', 'dhcp', portDoc('dhcp', 'n1', 'fa:16:3e:00:00:fe', { fixed_ips: [ip4('10.0.0.2')], device_owner: 'network:dhcp' }));
  s.doc('network', 'n2', networkDoc('n2', {
    'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1', 'provider:segmentation_id': 200,
  }));
  s.doc('port', 'vm3', portDoc('vm3', 'n2', 'fa:16:3e:00:02:01', { ...sg, fixed_ips: [ip4('10.2.0.11')] }));
  s.doc('port', 'r3', portDoc('r3', 'n2', 'fa:16:3e:00:02:02', { ...sg, fixed_ips: [ip4('10.2.0.12')], 'binding:host_id': 'h1' }));
  s.doc('network', 'n3', networkDoc('n3', {
    'provider:network_type': 'flat', 'provider:physical_network': 'physnet2', 'provider:segmentation_id': null,
  }));
  s.doc('port', 'vm4', portDoc('vm4', 'n3', 'fa:16:3e:00:03:01', { port_security_enabled: false, fixed_ips: [ip4('10.3.0.11')] }));
  s.doc('port', 'r4', portDoc('r4', 'n3', 'fa:16:3e:00:03:02', { fixed_ips: [ip4('10.3.0.12')], 'binding:host_id': 'h2' }));
  s.doc('network', 'n6', networkDoc('n6', { 'provider:segmentation_id': 1006 }));
  s.doc('port', 'vm5', portDoc('vm5', 'n6', 'fa:16:3e:00:06:01', {
    ...sg, fixed_ips: [{ subnet_id: 's6', ip_address: '2001:db8:6::11' }],
    allowed_address_pairs: [{ ip_address: '2001:db8:7::/64', mac_address: 'fa:16:3e:00:06:01' }],
  }));
  for (const [name, ofport] of [['vm1', 1], ['vm2', 2], ['vm3', 3], ['vm4', 4], ['vm5', 5], ['dhcp', 6]] as const) s.plug(name, ofport);
  return s;
}

function compile(features: readonly Feature[], s: Scenario): Flow[] {
  const d = new DesiredFlows(features);
  d.full(s);
  expect([...d.conflicts]).toEqual([]);
  return [...d.flows()];
}

let runDir = '';
const ns = `labft${randomBytes(4).toString('hex')}`;
let ovs: LocalOvs | undefined;
let conn: OpenFlowConnection | undefined;

async function cleanUp(): Promise<void> {
  conn?.close();
  conn = undefined;
  try {
    await ovs?.stop();
  } finally {
    ovs = undefined;
    await deleteNetns(ns).catch(() => undefined);
    if (runDir) rmSync(runDir, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  if (!HAVE_OVS) return;
  runDir = mkdtempSync(join(tmpdir(), 'ft-'));
  try {
    await createNetns(ns);
    ovs = await startLocalOvs({ runDir, netns: ns });
    const add = PORTS.flatMap(([name, ofport]) => [
      '--', 'add-port', BRIDGE, name, '--', 'set', 'interface', name, 'type=internal', `ofport_request=${ofport}`,
    ]);
    await ovs.vsctl('add-br', BRIDGE, '--', 'set', 'bridge', BRIDGE, 'datapath_type=netdev', 'fail-mode=secure', ...add,
      '--', 'add-port', BRIDGE, 'vxlan0', '--', 'set', 'interface', 'vxlan0', 'type=vxlan', `ofport_request=${TUNNEL}`,
      'options:remote_ip=flow', 'options:key=flow', 'options:local_ip=192.168.0.10',
      '--', 'add-port', BRIDGE, 'up1', '--', 'set', 'interface', 'up1', 'type=internal', `ofport_request=${UPLINK1}`,
      '--', 'add-port', BRIDGE, 'up2', '--', 'set', 'interface', 'up2', 'type=internal', `ofport_request=${UPLINK2}`);
    // The underlay: the VTEP address on br-phy's internal port, peers' MACs pre-seeded (ENVIRONMENT.md §1.3).
    await ovs.vsctl('add-br', 'br-phy', '--', 'set', 'bridge', 'br-phy', 'datapath_type=netdev',
      '--', 'add-port', 'br-phy', 'phy0', '--', 'set', 'interface', 'phy0', 'type=internal');
    await ip(ns, ['addr', 'add', '192.168.0.10/24', 'dev', 'br-phy']);
    await ip(ns, ['link', 'set', 'br-phy', 'up']);
    for (const [peer, mac] of [['192.168.0.11', '02:00:00:00:ff:11'], ['192.168.0.12', '02:00:00:00:ff:12']]) {
      await ovs.appctl('tnl/neigh/set', 'br-phy', peer, mac);
    }
    conn = await OpenFlowConnection.connect({ path: ovs.mgmtSocket(BRIDGE) }, { echoIntervalMs: 0, requestTimeoutMs: 10_000 });
  } catch (e) {
    await cleanUp();
    throw e;
  }
}, 60_000);

afterAll(cleanUp, 60_000);

async function switchFlows(): Promise<string[]> {
  return parseDumpFlows(await ovs!.ofctl('dump-flows', BRIDGE, '--no-names')).sort();
}

async function trace(flowText: string): Promise<string> {
  return ovs!.appctl('ofproto/trace', BRIDGE, flowText);
}
const datapathActions = (t: string) => /Datapath actions: (.*)/.exec(t)?.[1] ?? '';

describe.skipIf(!HAVE_OVS)('compiled flows on a real switch', () => {
  it('every flow of a rich host (ALL_FEATURES) is accepted and dumped exactly as sent', async () => {
    const flows = compile(ALL_FEATURES, richHost());
    expect(flows.length).toBeGreaterThan(50);
    const fms = flows.map((f) => toFlowMod(f, GENERATION));
    await sendFlowMods(conn!, fms);
    expect(await switchFlows()).toEqual(fms.map(toOfctlText).sort());
  });

  describe('forwarding behaviour (ofproto/trace)', () => {
    beforeAll(async () => {
      if (!conn) return;
      await ovs!.ofctl('del-flows', BRIDGE);
      // The security group tables pass everything here: only the forwarding tables are under test.
      const passThrough = [
        flow('base', 'test', 'egress_ct', { priority: 0, goto: 'l2_lookup' }),
        flow('base', 'test', 'ingress_ct', { priority: 0, goto: 'output' }),
      ];
      const flows = [...compile(FORWARDING_FEATURES, richHost()), ...passThrough];
      await sendFlowMods(conn, flows.map((f) => toFlowMod(f, GENERATION)));
    });

    const arpFrom = (inPort: number, mac: string, ip: string) =>
      `in_port=${inPort},arp,dl_src=${mac},dl_dst=ff:ff:ff:ff:ff:ff,arp_op=1,arp_spa=${ip},arp_tpa=10.0.0.99,arp_sha=${mac}`;

    it('a broadcast from vm1 reaches vm2 and both remote hosts, and not vm1 itself', async () => {
      const t = await trace(arpFrom(1, MAC.vm1, '10.0.0.11'));
      expect(t).toMatch(/output:2\b/);
      expect(t).toMatch(/output:6\b/); // the DHCP port of the network
      expect(t).toMatch(/set_field:192\.168\.0\.11->tun_dst/);
      expect(t).toMatch(/set_field:192\.168\.0\.12->tun_dst/);
      expect(t).toMatch(/skipping output to input port/);
      // Both peers really get the VXLAN packet (the underlay route and neighbours are set up in beforeAll).
      const dp = datapathActions(t);
      expect(dp).toMatch(/tnl_push\(.*dst=192\.168\.0\.11.*vni=0x3e9.*tnl_push\(.*dst=192\.168\.0\.12.*vni=0x3e9/);
    });

    it('unicast from vm1 to vm2 goes to vm2 only', async () => {
      const t = await trace(`in_port=1,ip,dl_src=${MAC.vm1},dl_dst=${MAC.vm2},nw_src=10.0.0.11,nw_dst=10.0.0.12`);
      expect(t).toMatch(/output:2\b/);
      expect(datapathActions(t)).not.toMatch(/tnl_push|,/);
    });

    it('a spoofed source IP or MAC from vm1 is dropped', async () => {
      expect(datapathActions(await trace(`in_port=1,ip,dl_src=${MAC.vm1},dl_dst=${MAC.vm2},nw_src=10.0.0.99,nw_dst=10.0.0.12`)))
        .toBe('drop');
      expect(datapathActions(await trace(`in_port=1,ip,dl_src=fa:16:3e:99:99:99,dl_dst=${MAC.vm2},nw_src=10.0.0.11`)))
        .toBe('drop');
      expect(datapathActions(await trace(arpFrom(1, MAC.vm1, '10.0.0.12')))).toBe('drop');
    });

    it('from the fabric: a local MAC is delivered, a remote MAC is dropped (never sent back)', async () => {
      const fabric = `in_port=${TUNNEL},tun_id=${VNI},tun_src=192.168.0.11,tun_dst=192.168.0.10,ip,nw_src=10.0.0.13`;
      const local = await trace(`${fabric},dl_src=${MAC.remote},dl_dst=${MAC.vm2},nw_dst=10.0.0.12`);
      expect(local).toMatch(/output:2\b/);
      expect(datapathActions(local)).not.toBe('drop');
      const remote = await trace(`${fabric},dl_src=${MAC.remote},dl_dst=fa:16:3e:00:00:04,nw_dst=10.0.0.14`);
      expect(datapathActions(remote)).toBe('drop');
      // A fabric broadcast goes to the local ports only.
      const bcast = await trace(`${fabric},dl_src=${MAC.remote},dl_dst=ff:ff:ff:ff:ff:ff,nw_dst=10.0.0.255`);
      expect(bcast).toMatch(/output:1\b/);
      expect(bcast).not.toMatch(/->tun_dst/);
      expect(datapathActions(bcast)).not.toMatch(/tnl_push/);
    });

    it('VLAN: a tagged frame from the uplink reaches vm3 untagged; vm3 to a remote port leaves tagged', async () => {
      const fromUplink = await trace(`in_port=${UPLINK1},dl_vlan=200,dl_src=fa:16:3e:00:02:02,dl_dst=fa:16:3e:00:02:01`);
      expect(fromUplink).toMatch(/pop_vlan/);
      expect(fromUplink).toMatch(/output:3\b/);
      const out = await trace('in_port=3,ip,dl_src=fa:16:3e:00:02:01,dl_dst=fa:16:3e:00:02:02,nw_src=10.2.0.11,nw_dst=10.2.0.12');
      expect(datapathActions(out)).toMatch(/push_vlan\(vid=200/);
    });
  });
});
