// What the forwarding features promise, case by case: flows per port, admin state, which
// networks a host carries, trusted ports, flood order, provider keys, address normalisation, and
// the cost of a change (units recompiled).
import { describe, expect, it } from 'vitest';
import { networkKey } from '../../../agent/features/common.ts';
import { DesiredFlows } from '../../../agent/features/engine.ts';
import { FORWARDING_FEATURES } from '../../../agent/features/index.ts';
import type { NetworkView } from '../../../schemas/agent/view.ts';
import { renderFlow, type Flow } from '../../../agent/pipeline/flow.ts';
import { agentDoc, HOST_CONFIG, ip4, networkDoc, portDoc, Scenario } from '../../helpers/host-scenarios.ts';

function compile(s: Scenario): DesiredFlows {
  const d = new DesiredFlows(FORWARDING_FEATURES);
  d.full(s);
  expect([...d.conflicts]).toEqual([]);
  return d;
}
const texts = (flows: Iterable<Flow>) => [...flows].map(renderFlow);
const ofObject = (d: DesiredFlows, object: string) => [...d.flows()].filter((f) => f.object === object);
const byTable = (flows: Flow[]) => {
  const out: Record<string, number> = {};
  for (const f of flows) out[f.table] = (out[f.table] ?? 0) + 1;
  return out;
};

function vxlanHost(): Scenario {
  const s = new Scenario();
  s.doc('agent', 'a1', agentDoc('a1', 'h1', '192.168.0.11'));
  s.doc('network', 'n1', networkDoc('n1', { 'provider:segmentation_id': 1001 }));
  s.doc('port', 'p1', portDoc('p1', 'n1', 'fa:16:3e:00:00:01', { fixed_ips: [ip4('10.0.0.11')] }));
  s.doc('port', 'r1', portDoc('r1', 'n1', 'fa:16:3e:00:01:01', { fixed_ips: [ip4('10.0.0.21')], 'binding:host_id': 'h1' }));
  s.plug('p1', 1);
  return s;
}

describe('forwarding features', () => {
  it('a port with one IPv4 address has 5 flows of its own: classify 1, spoof_guard 2, l2_lookup 1, output 1', () => {
    const d = compile(vxlanHost());
    expect(byTable(ofObject(d, 'p1'))).toEqual({ classify: 1, spoof_guard: 2, l2_lookup: 1, output: 1 });
    expect(byTable(ofObject(d, 'r1'))).toEqual({ l2_lookup: 1 });
  });

  it('an admin-down port, or one in an admin-down network, has no flows; a network nobody here serves has none either', () => {
    const s = vxlanHost();
    s.doc('port', 'p1', portDoc('p1', 'n1', 'fa:16:3e:00:00:01', { fixed_ips: [ip4('10.0.0.11')], admin_state_up: false }));
    expect(texts(compile(s).flows()).filter((t) => !t.includes('spoof_guard'))).toEqual([]);
    s.doc('port', 'p1', portDoc('p1', 'n1', 'fa:16:3e:00:00:01', { fixed_ips: [ip4('10.0.0.11')] }));
    expect(compile(s).size).toBeGreaterThan(8);
    s.doc('network', 'n1', networkDoc('n1', { 'provider:segmentation_id': 1001, admin_state_up: false }));
    expect(texts(compile(s).flows()).filter((t) => !t.includes('spoof_guard'))).toEqual([]);
    s.doc('network', 'n1', networkDoc('n1', { 'provider:segmentation_id': 1001 }));
    s.plug('p1', undefined);
    expect(texts(compile(s).flows()).filter((t) => !t.includes('spoof_guard'))).toEqual([]);
  });

  it('trusted ports (port security off, network-owned) skip spoof_guard and mark SKIP_EGRESS_SG', () => {
    const s = vxlanHost();
    s.doc('port', 'rtr', portDoc('rtr', 'n1', 'fa:16:3e:00:00:fe', { fixed_ips: [ip4('10.0.0.1')], device_owner: 'network:router_interface' }));
    s.plug('rtr', 7);
    const d = compile(s);
    expect(texts(ofObject(d, 'rtr').filter((f) => f.table === 'classify'))).toEqual([
      'table=classify, priority=1000,in_port=7 actions=set_field:0x10003e9->metadata,set_field:0x7->reg5,set_field:0x2/0x2->reg0,goto_table:egress_ct',
    ]);
    expect(ofObject(d, 'rtr').filter((f) => f.table === 'spoof_guard')).toEqual([]);
  });

  it('floods to local ports by ofport and to each other host once, sorted, skipping hosts without a tunnel endpoint', () => {
    const s = vxlanHost();
    s.doc('agent', 'a2', agentDoc('a2', 'h2', '192.168.0.9'));
    s.doc('agent', 'a3', agentDoc('a3', 'h3', null));
    s.doc('agent', 'a0', agentDoc('a0', 'h0', '192.168.0.10'));
    s.doc('port', 'r2', portDoc('r2', 'n1', 'fa:16:3e:00:01:02', { 'binding:host_id': 'h1' }));
    s.doc('port', 'r3', portDoc('r3', 'n1', 'fa:16:3e:00:01:03', { 'binding:host_id': 'h2' }));
    s.doc('port', 'r4', portDoc('r4', 'n1', 'fa:16:3e:00:01:04', { 'binding:host_id': 'h3' }));
    s.doc('port', 'p0', portDoc('p0', 'n1', 'fa:16:3e:00:00:00'));
    s.plug('p0', 12);
    const flood = texts(ofObject(compile(s), 'n1').filter((f) => f.table === 'l2_lookup'));
    expect(flood).toEqual([
      'table=l2_lookup, priority=10,reg0=0/0x1,metadata=0x10003e9 actions=set_field:0x1->reg7,resubmit(,ingress_ct),'
        + 'set_field:0xc->reg7,resubmit(,ingress_ct),set_field:0x3e9->tun_id,set_field:192.168.0.9->tun_dst,output:100,'
        + 'set_field:192.168.0.11->tun_dst,output:100',
      'table=l2_lookup, priority=10,reg0=0x1/0x1,metadata=0x10003e9 actions=set_field:0x1->reg7,resubmit(,ingress_ct),'
        + 'set_field:0xc->reg7,resubmit(,ingress_ct)',
    ]);
    // r4's host has no tunnel endpoint: no unicast entry either (its MAC floods).
    expect(ofObject(compile(s), 'r4')).toEqual([]);
  });

  it('provider networks: the same VLAN id on two physical networks are two networks; an unmapped one is not carried', () => {
    const net = (physnet: string) => networkDoc('x', {
      'provider:network_type': 'vlan', 'provider:physical_network': physnet, 'provider:segmentation_id': 100,
    }) as unknown as NetworkView;
    const k1 = networkKey(net('physnet1'), HOST_CONFIG);
    const k2 = networkKey(net('physnet2'), HOST_CONFIG);
    expect(k1).toBeDefined();
    expect(k2).toBeDefined();
    expect(k1).not.toBe(k2);
    expect(networkKey(net('physnet3'), HOST_CONFIG)).toBeUndefined();

    const s = new Scenario();
    s.doc('network', 'v', networkDoc('v', { 'provider:network_type': 'vlan', 'provider:physical_network': 'physnet3', 'provider:segmentation_id': 7 }));
    s.doc('port', 'p1', portDoc('p1', 'v', 'fa:16:3e:00:00:01', { fixed_ips: [ip4('10.0.0.11')] }));
    s.plug('p1', 1);
    expect(texts(compile(s).flows()).filter((t) => !t.includes('spoof_guard'))).toEqual([]);
  });

  it('normalises MACs, skips addresses it cannot parse, and takes a /0 pair as any source', () => {
    const s = new Scenario();
    s.doc('network', 'n1', networkDoc('n1', { 'provider:segmentation_id': 1001 }));
    s.doc('port', 'p1', portDoc('p1', 'n1', 'FA-16-3E-00-00-0A', {
      fixed_ips: [ip4('10.0.0.11'), ip4('not-an-ip')],
      allowed_address_pairs: [
        { ip_address: '0.0.0.0/0', mac_address: 'fa:16:3e:00:00:0a' },
        { ip_address: '10.0.0.0/33', mac_address: 'fa:16:3e:00:00:0a' },
        { ip_address: '10.1.1.1', mac_address: 'bogus' },
      ],
    }));
    s.plug('p1', 1);
    const mine = texts(ofObject(compile(s), 'p1'));
    expect(mine).toEqual([
      'table=classify, priority=1000,in_port=1,dl_src=fa:16:3e:00:00:0a actions=set_field:0x10003e9->metadata,set_field:0x1->reg5,goto_table:spoof_guard',
      'table=spoof_guard, priority=1000,ip,reg5=0x1,dl_src=fa:16:3e:00:00:0a,nw_src=10.0.0.11 actions=goto_table:egress_ct',
      'table=spoof_guard, priority=1000,arp,reg5=0x1,dl_src=fa:16:3e:00:00:0a,arp_spa=10.0.0.11,arp_sha=fa:16:3e:00:00:0a actions=goto_table:egress_ct',
      'table=spoof_guard, priority=1000,ip,reg5=0x1,dl_src=fa:16:3e:00:00:0a actions=goto_table:egress_ct',
      'table=spoof_guard, priority=1000,arp,reg5=0x1,dl_src=fa:16:3e:00:00:0a,arp_sha=fa:16:3e:00:00:0a actions=goto_table:egress_ct',
      'table=l2_lookup, priority=1000,metadata=0x10003e9,dl_dst=fa:16:3e:00:00:0a actions=set_field:0x1->reg7,goto_table:ingress_ct',
      'table=output, priority=1000,reg7=0x1 actions=output:1',
    ]);
  });

  it('a pair MAC that is another port\'s own MAC stays that port\'s (one priority lower)', () => {
    const s = vxlanHost();
    s.doc('port', 'p2', portDoc('p2', 'n1', 'fa:16:3e:00:00:02', {
      allowed_address_pairs: [{ ip_address: '10.0.0.50', mac_address: 'fa:16:3e:00:01:01' }],
    }));
    s.plug('p2', 2);
    const l2 = texts([...compile(s).flows()].filter((f) => f.table === 'l2_lookup' && renderFlow(f).includes('dl_dst=fa:16:3e:00:01:01')));
    expect(l2).toEqual([
      'table=l2_lookup, priority=1000,metadata=0x10003e9,dl_dst=fa:16:3e:00:01:01 actions=set_field:0x3e9->tun_id,set_field:192.168.0.11->tun_dst,output:100',
      'table=l2_lookup, priority=999,metadata=0x10003e9,dl_dst=fa:16:3e:00:01:01 actions=set_field:0x2->reg7,resubmit(,ingress_ct)',
    ]);
  });

  describe('cost of a change in a network this host already carries (1000 remote ports)', () => {
    function bigHost() {
      const s = vxlanHost();
      for (let i = 0; i < 1000; i++) {
        const mac = `fa:16:3e:10:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
        s.doc('port', `q${i}`, portDoc(`q${i}`, 'n1', mac, { fixed_ips: [ip4(`10.1.${i >> 8}.${i & 0xff}`)], 'binding:host_id': 'h1' }));
      }
      s.doc('port', 'p2', portDoc('p2', 'n1', 'fa:16:3e:00:00:02', { fixed_ips: [ip4('10.0.0.12')] }));
      const d = new DesiredFlows(FORWARDING_FEATURES);
      d.full(s);
      d.takeChanges();
      return { s, d };
    }

    it('a remote port update recompiles its own unit only', () => {
      const { s, d } = bigHost();
      const units = d.update(s, s.doc('port', 'q5', portDoc('q5', 'n1', 'fa:16:3e:10:00:05', { fixed_ips: [ip4('10.1.0.99')], 'binding:host_id': 'h1' })));
      expect(units).toBeLessThanOrEqual(4);
    });

    it('a remote port moving host, or a new one, recompiles its units and the network ones (flood, tunnel, uplink)', () => {
      const { s, d } = bigHost();
      expect(d.update(s, s.doc('port', 'q5', portDoc('q5', 'n1', 'fa:16:3e:10:00:05', { 'binding:host_id': 'h2' })))).toBeLessThanOrEqual(8);
      expect(d.update(s, s.doc('port', 'new', portDoc('new', 'n1', 'fa:16:3e:20:00:05', { 'binding:host_id': 'h1' })))).toBeLessThanOrEqual(8);
    });

    it('plugging a second local port recompiles a handful of units; unplugging the last one removes the network', () => {
      const { s, d } = bigHost();
      expect(d.update(s, s.plug('p2', 2))).toBeLessThanOrEqual(8);
      expect(d.size).toBeGreaterThan(1000);
      d.update(s, [...s.plug('p1', undefined), ...s.plug('p2', undefined)]);
      expect(texts(d.flows()).filter((t) => !t.includes('spoof_guard'))).toEqual([]);
    });
  });
});
