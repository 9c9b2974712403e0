// The renderer prints flows like `ovs-ofctl -O OpenFlow13 dump-flows` (Open vSwitch 3.1). The expected
// lines below are what the real switch printed for the catalogue (checked again by the golden suite).
import { describe, expect, it } from 'vitest';
import { makeFlowMod } from '../../../agent/openflow/flowmod.ts';
import { normalizeOfctlLine, parseDumpFlows, toOfctlText } from '../../../agent/openflow/render.ts';
import { catalog } from './catalog.ts';

const SWITCH_PRINTED = [
  'cookie=0x101, table=1, priority=100,tcp,in_port=1,dl_src=fa:16:3e:00:00:01,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,nw_src=10.0.0.0/24,nw_dst=10.0.1.5,tp_src=1000,tp_dst=80 actions=set_field:8080->tcp_dst,set_field:10.0.1.6->ip_dst,set_field:fa:16:3e:00:00:02->eth_dst,output:2',
  'cookie=0x102, table=1, priority=110,udp,tp_src=68,tp_dst=67 actions=CONTROLLER:65535,goto_table:5',
  'cookie=0x103, table=1, priority=120,icmp,icmp_type=8,icmp_code=0 actions=dec_ttl,IN_PORT',
  'cookie=0x104, table=2, priority=100,tcp6,ipv6_src=fe80::/64,ipv6_dst=2001:db8::1,tp_dst=443 actions=set_field:2001:db8::2->ipv6_dst,output:3',
  'cookie=0x105, table=2, priority=110,icmp6,icmp_type=135,icmp_code=0,nd_target=fe80::1 actions=LOCAL',
  'cookie=0x106, table=2, priority=120,udp6,ipv6_src=fe80::f816:3eff:fe00:1,tp_dst=547 actions=CONTROLLER:128',
  'cookie=0x107, table=3, priority=100,arp,arp_spa=10.0.0.1,arp_tpa=10.0.0.0/24,arp_op=1,arp_sha=fa:16:3e:00:00:01,arp_tha=00:00:00:00:00:00 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:fa:16:3e:aa:bb:cc->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],set_field:fa:16:3e:aa:bb:cc->arp_sha,move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:10.0.0.254->arp_spa,IN_PORT',
  'cookie=0x108, table=4, priority=100,in_port=3,dl_vlan=100 actions=pop_vlan,write_metadata:0x5/0xffff,goto_table:20',
  'cookie=0x109, table=4, priority=90,in_port=4,vlan_tci=0x0000/0x1fff actions=push_vlan:0x8100,set_field:4296->vlan_vid,output:5',
  'cookie=0x10a, table=4, priority=80,vlan_tci=0x1000/0x1000 actions=drop',
  'cookie=0x10b, table=5, priority=100,tun_id=0x64,tun_src=192.168.1.0/24,tun_dst=192.168.1.2,in_port=9 actions=set_field:0x5->reg0,resubmit(,30),write_metadata:0x7',
  'cookie=0x10c, table=5, priority=90,reg1=0x7/0xff,metadata=0x5 actions=set_field:0x64->tun_id,set_field:192.168.1.3->tun_dst,output:9',
  'cookie=0x10d, table=6, priority=100,reg0=0,reg2=0x2,reg3=0x3,reg4=0x4,reg5=0x5,reg6=0x6,reg7=0x7,reg8=0x8,reg9=0x9,reg10=0xa,reg11=0xb,reg12=0xc,reg13=0xd,reg14=0xe,reg15=0x100/0xf00,metadata=0x500/0xff00 actions=set_field:0x50/0xf0->reg3,move:NXM_NX_REG0[0..15]->NXM_NX_REG1[16..31],set_field:0x9->metadata,resubmit(5,30)',
  'cookie=0x10e, table=40, priority=300,ct_state=-trk,ip actions=ct(table=41,zone=NXM_NX_REG6[0..15])',
  'cookie=0x10f, table=41, priority=300,ct_state=+new+trk,ct_zone=7,ip actions=ct(commit,zone=7,exec(set_field:0x1->ct_mark,set_field:0x1234->ct_label)),output:10',
  'cookie=0x110, table=41, priority=290,ct_state=+est-inv+trk,ct_mark=0x1,ct_label=0x1234/0xffff,ip actions=output:10',
  'cookie=0x111, table=42, priority=100,ip,nw_dst=172.31.254.50 actions=ct(commit,table=43,zone=9,nat(dst=10.0.0.5))',
  'cookie=0x112, table=42, priority=90,ip,nw_src=10.0.0.0/24 actions=ct(commit,zone=9,nat(src=172.31.254.60-172.31.254.61:1024-65535))',
  'cookie=0x113, table=42, priority=80,ip actions=ct(table=12,zone=9,nat)',
  'cookie=0x114, table=43, priority=100,ct_state=est|trk,ip actions=ct_clear,resubmit(,44)',
  'cookie=0x115, table=44, priority=100,ip,nw_src=10.0.0.1 actions=conjunction(7,1/2)',
  'cookie=0x116, table=44, priority=100,tcp,tp_dst=22 actions=conjunction(7,2/2)',
  'cookie=0x117, table=45, idle_timeout=300, hard_timeout=600, send_flow_rem priority=100,ip,nw_proto=47 actions=note:77.65.66.74.30.31,output:1',
  'cookie=0x118, table=45, priority=0,dl_type=0x88cc actions=clear_actions,write_actions(output:7)',
  'cookie=0x119, table=46, actions=set_field:fa:16:3e:00:00:aa->eth_src,goto_table:47',
  'cookie=0x11a, table=46, priority=7,udp,nw_dst=10.1.0.0/255.255.0.255,tp_dst=4789 actions=set_field:5000->udp_src,set_field:10.0.0.9->ip_src,NORMAL',
  'cookie=0x11b, table=44, priority=100,conj_id=7,ip actions=output:1',
  'cookie=0x11c, table=47, priority=100,tcp,tp_src=0x400/0xfc00,tp_dst=0x3e8/0xfff8 actions=drop',
  'cookie=0x11d, table=47, priority=100,udp6,tp_src=0x0/0xfc00,tp_dst=53 actions=drop',
  'cookie=0x11e, table=47, priority=100,sctp,tp_src=5000,tp_dst=0x1000/0xf000 actions=drop',
  'cookie=0x11f, table=47, priority=100,sctp6,tp_dst=9 actions=drop',
  'cookie=0x120, table=47, priority=100,ip,nw_proto=2 actions=drop',
  'cookie=0x121, table=47, priority=50,conj_id=3735928559,ipv6 actions=ct(commit,zone=NXM_NX_REG5[0..15],exec(set_field:0->ct_mark)),goto_table:48',
];

describe('toOfctlText', () => {
  it('prints the catalogue exactly as ovs-vswitchd 3.1 dumped it', () => {
    expect(catalog().map(toOfctlText)).toEqual(SWITCH_PRINTED);
  });

  it('prints the flows of ENVIRONMENT.md §2.4', () => {
    const ip = { inPort: 1, ethType: 0x0800 };
    const out = (port: number) => ({ type: 'output' as const, port });
    expect(toOfctlText(makeFlowMod({
      cookie: 0xabdn, tableId: 3, priority: 300, match: { ...ip, ctState: { value: 0, mask: 0x20 } },
      instructions: [{ type: 'applyActions', actions: [{ type: 'ct', table: 4, zone: 7 }] }],
    }))).toBe('cookie=0xabd, table=3, priority=300,ct_state=-trk,ip,in_port=1 actions=ct(table=4,zone=7)');
    expect(toOfctlText(makeFlowMod({
      cookie: 0xabcn, tableId: 3, priority: 200, match: ip,
      instructions: [{ type: 'applyActions', actions: [out(10)] }],
    }))).toBe('cookie=0xabc, table=3, priority=200,ip,in_port=1 actions=output:10');
    expect(toOfctlText(makeFlowMod({
      cookie: 0xaben, tableId: 4, priority: 300, match: { ethType: 0x0800, ctState: { value: 0x21, mask: 0x21 } },
      instructions: [{ type: 'applyActions', actions: [{ type: 'ct', commit: true, zone: 7 }, out(10)] }],
    }))).toBe('cookie=0xabe, table=4, priority=300,ct_state=+new+trk,ip actions=ct(commit,zone=7),output:10');
    expect(toOfctlText(makeFlowMod({
      cookie: 0xabfn, tableId: 4, priority: 290,
      match: { ethType: 0x0800, ctState: { value: 0x22, mask: 0x22 }, ctZone: 7 },
      instructions: [{ type: 'applyActions', actions: [out(10)] }],
    }))).toBe('cookie=0xabf, table=4, priority=290,ct_state=+est+trk,ct_zone=7,ip actions=output:10');
  });

  it('omits the default priority and prints an empty flow as drop', () => {
    expect(toOfctlText(makeFlowMod({}))).toBe('cookie=0x0, table=0, actions=drop');
  });
});

describe('normalising ovs-ofctl output', () => {
  it('drops the statistics and the reply header', () => {
    const out = [
      'OFPST_FLOW reply (OF1.3) (xid=0x2):',
      ' cookie=0xabc, duration=0.011s, table=3, n_packets=7, n_bytes=420, priority=200,ip,in_port=1 actions=output:10',
      ' cookie=0x5, duration=12.5s, table=4, n_packets=0, n_bytes=0, idle_timeout=10, idle_age=3, arp actions=drop',
      '',
    ].join('\n');
    expect(parseDumpFlows(out)).toEqual([
      'cookie=0xabc, table=3, priority=200,ip,in_port=1 actions=output:10',
      'cookie=0x5, table=4, idle_timeout=10, arp actions=drop',
    ]);
    expect(normalizeOfctlLine('cookie=0x1, table=0, actions=drop')).toBe('cookie=0x1, table=0, actions=drop');
  });
});
