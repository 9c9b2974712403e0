// ofproto/trace answers of Open vSwitch 3.1 for packets through Weft's br-int pipeline, recorded
// from a two-host lab (port a on h1 to c on h1, to b on h2 over VXLAN, from a forged source, and a
// broadcast flooded to the other host while the copy for the sender's own port is skipped).

export const LOCAL_TRACE = `Flow: icmp,in_port=1,vlan_tci=0x0000,dl_src=fa:16:3e:51:fc:99,dl_dst=fa:16:3e:f0:e6:63,nw_src=10.9.0.2,nw_dst=10.9.0.4,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,icmp_type=8,icmp_code=0

bridge("br-int")
----------------
 0. in_port=1,dl_src=fa:16:3e:51:fc:99, priority 1000, cookie 0x1585d6c4c04e06d
    set_field:0x10003e8->metadata
    set_field:0x1->reg5
    goto_table:10
10. ip,reg5=0x1,dl_src=fa:16:3e:51:fc:99,nw_src=10.9.0.2, priority 1000, cookie 0x2585d6c4c04e06d
    goto_table:20
20. ip, priority 10, cookie 0x3585d96aff7d4d2
    ct(table=21,zone=NXM_NX_REG5[0..15])
    drop
     -> A clone of the packet is forked to recirculate. The forked pipeline will be resumed at table 21.
     -> Sets the packet to an untracked state, and clears all the conntrack fields.

Final flow: icmp,reg5=0x1,metadata=0x10003e8,in_port=1,vlan_tci=0x0000,dl_src=fa:16:3e:51:fc:99,dl_dst=fa:16:3e:f0:e6:63,nw_src=10.9.0.2,nw_dst=10.9.0.4,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,icmp_type=8,icmp_code=0
Megaflow: recirc_id=0,eth,icmp,in_port=1,dl_src=fa:16:3e:51:fc:99,nw_src=10.9.0.2,nw_frag=no
Datapath actions: ct(zone=1),recirc(0x4)

===============================================================================
recirc(0x4) - resume conntrack with default ct_state=trk|new (use --ct-next to customize)
===============================================================================

Flow: recirc_id=0x4,ct_state=new|trk,ct_zone=1,eth,icmp,reg5=0x1,metadata=0x10003e8,in_port=1,vlan_tci=0x0000,dl_src=fa:16:3e:51:fc:99,dl_dst=fa:16:3e:f0:e6:63,nw_src=10.9.0.2,nw_dst=10.9.0.4,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,icmp_type=8,icmp_code=0

bridge("br-int")
----------------
    thaw
        Resuming from table 21
21. conj_id=1830144582,ip, priority 500, cookie 0x3585dbe92f719e6
    ct(commit,zone=NXM_NX_REG5[0..15],exec(set_field:0->ct_mark))
    set_field:0->ct_mark
     -> Sets the packet to an untracked state, and clears all the conntrack fields.
    goto_table:30
30. metadata=0x10003e8,dl_dst=fa:16:3e:f0:e6:63, priority 1000, cookie 0x4585da5f9d1e0bd
    set_field:0x2->reg7
    goto_table:40
40. ip, priority 10, cookie 0x3585d96aff7d4d2
    ct(table=41,zone=NXM_NX_REG7[0..15])
    drop
     -> A clone of the packet is forked to recirculate. The forked pipeline will be resumed at table 41.
     -> Sets the packet to an untracked state, and clears all the conntrack fields.

Final flow: recirc_id=0x4,eth,icmp,reg5=0x1,reg7=0x2,metadata=0x10003e8,in_port=1,vlan_tci=0x0000,dl_src=fa:16:3e:51:fc:99,dl_dst=fa:16:3e:f0:e6:63,nw_src=10.9.0.2,nw_dst=10.9.0.4,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,icmp_type=8,icmp_code=0
Megaflow: recirc_id=0x4,ct_state=-est-rel-rpl-inv+trk,ct_mark=0,eth,icmp,in_port=1,dl_dst=fa:16:3e:f0:e6:63,nw_frag=no
Datapath actions: ct(commit,zone=1,mark=0/0xffffffff),ct(zone=2),recirc(0x5)

===============================================================================
recirc(0x5) - resume conntrack with default ct_state=trk|new (use --ct-next to customize)
===============================================================================

Flow: recirc_id=0x5,ct_state=new|trk,ct_zone=2,eth,icmp,reg5=0x1,reg7=0x2,metadata=0x10003e8,in_port=1,vlan_tci=0x0000,dl_src=fa:16:3e:51:fc:99,dl_dst=fa:16:3e:f0:e6:63,nw_src=10.9.0.2,nw_dst=10.9.0.4,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,icmp_type=8,icmp_code=0

bridge("br-int")
----------------
    thaw
        Resuming from table 41
41. conj_id=407569715,ip, priority 500, cookie 0x3585d8234827ef3
    ct(commit,zone=NXM_NX_REG7[0..15],exec(set_field:0->ct_mark))
    set_field:0->ct_mark
     -> Sets the packet to an untracked state, and clears all the conntrack fields.
    goto_table:50
50. reg7=0x2, priority 1000, cookie 0x8585da5f9d1e0bd
    output:2

Final flow: recirc_id=0x5,eth,icmp,reg5=0x1,reg7=0x2,metadata=0x10003e8,in_port=1,vlan_tci=0x0000,dl_src=fa:16:3e:51:fc:99,dl_dst=fa:16:3e:f0:e6:63,nw_src=10.9.0.2,nw_dst=10.9.0.4,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,icmp_type=8,icmp_code=0
Megaflow: recirc_id=0x5,ct_state=-est-rel-rpl-inv+trk,ct_mark=0,eth,ip,in_port=1,nw_src=10.9.0.2,nw_frag=no
Datapath actions: ct(commit,zone=2,mark=0/0xffffffff),6
`;

export const TUNNEL_TRACE = `Flow: tcp,in_port=1,vlan_tci=0x0000,dl_src=fa:16:3e:51:fc:99,dl_dst=fa:16:3e:c7:d6:77,nw_src=10.9.0.2,nw_dst=10.9.0.3,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,tp_src=40000,tp_dst=22,tcp_flags=0

bridge("br-int")
----------------
 0. in_port=1,dl_src=fa:16:3e:51:fc:99, priority 1000, cookie 0x1585d6c4c04e06d
    set_field:0x10003e8->metadata
    set_field:0x1->reg5
    goto_table:10
10. ip,reg5=0x1,dl_src=fa:16:3e:51:fc:99,nw_src=10.9.0.2, priority 1000, cookie 0x2585d6c4c04e06d
    goto_table:20
20. ip, priority 10, cookie 0x3585d96aff7d4d2
    ct(table=21,zone=NXM_NX_REG5[0..15])
    drop
     -> A clone of the packet is forked to recirculate. The forked pipeline will be resumed at table 21.
     -> Sets the packet to an untracked state, and clears all the conntrack fields.

Final flow: tcp,reg5=0x1,metadata=0x10003e8,in_port=1,vlan_tci=0x0000,dl_src=fa:16:3e:51:fc:99,dl_dst=fa:16:3e:c7:d6:77,nw_src=10.9.0.2,nw_dst=10.9.0.3,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,tp_src=40000,tp_dst=22,tcp_flags=0
Megaflow: recirc_id=0,eth,tcp,in_port=1,dl_src=fa:16:3e:51:fc:99,nw_src=10.9.0.2,nw_frag=no
Datapath actions: ct(zone=1),recirc(0x6)

===============================================================================
recirc(0x6) - resume conntrack with default ct_state=trk|new (use --ct-next to customize)
===============================================================================

Flow: recirc_id=0x6,ct_state=new|trk,ct_zone=1,eth,tcp,reg5=0x1,metadata=0x10003e8,in_port=1,vlan_tci=0x0000,dl_src=fa:16:3e:51:fc:99,dl_dst=fa:16:3e:c7:d6:77,nw_src=10.9.0.2,nw_dst=10.9.0.3,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,tp_src=40000,tp_dst=22,tcp_flags=0

bridge("br-int")
----------------
    thaw
        Resuming from table 21
21. conj_id=1830144582,ip, priority 500, cookie 0x3585dbe92f719e6
    ct(commit,zone=NXM_NX_REG5[0..15],exec(set_field:0->ct_mark))
    set_field:0->ct_mark
     -> Sets the packet to an untracked state, and clears all the conntrack fields.
    goto_table:30
30. metadata=0x10003e8,dl_dst=fa:16:3e:c7:d6:77, priority 1000, cookie 0x4585de32916b303
    set_field:0x3e8->tun_id
    set_field:172.31.107.12->tun_dst
    output:60000
     -> output to native tunnel
     -> tunneling to 172.31.107.12 via br-phy
     -> tunneling from 02:77:6b:00:ff:01 172.31.107.11 to 02:77:6b:00:ff:02 172.31.107.12

bridge("br-phy")
----------------
 0. priority 0
    NORMAL
     -> no learned MAC for destination, flooding

Final flow: recirc_id=0x6,eth,tcp,reg5=0x1,tun_src=0.0.0.0,tun_dst=172.31.107.12,tun_ipv6_src=::,tun_ipv6_dst=::,tun_gbp_id=0,tun_gbp_flags=0,tun_tos=0,tun_ttl=0,tun_erspan_ver=0,gtpu_flags=0,gtpu_msgtype=0,tun_flags=0,metadata=0x10003e8,in_port=1,vlan_tci=0x0000,dl_src=fa:16:3e:51:fc:99,dl_dst=fa:16:3e:c7:d6:77,nw_src=10.9.0.2,nw_dst=10.9.0.3,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,tp_src=40000,tp_dst=22,tcp_flags=0
Megaflow: recirc_id=0x6,ct_state=-est-rel-rpl-inv+trk,ct_mark=0,eth,ip,in_port=1,dl_dst=fa:16:3e:c7:d6:77,nw_ecn=0,nw_frag=no
Datapath actions: ct(commit,zone=1,mark=0/0xffffffff),tnl_push(tnl_port(2),header(size=50,type=4,eth(dst=02:77:6b:00:ff:02,src=02:77:6b:00:ff:01,dl_type=0x0800),ipv4(src=172.31.107.11,dst=172.31.107.12,proto=17,tos=0,ttl=64,frag=0x4000),udp(src=0,dst=4789,csum=0x0),vxlan(flags=0x8000000,vni=0x3e8)),out_port(4)),3
`;

export const SPOOFED_TRACE = `Flow: icmp,in_port=1,vlan_tci=0x0000,dl_src=fa:16:3e:51:fc:99,dl_dst=fa:16:3e:c7:d6:77,nw_src=10.9.0.99,nw_dst=10.9.0.3,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,icmp_type=8,icmp_code=0

bridge("br-int")
----------------
 0. in_port=1,dl_src=fa:16:3e:51:fc:99, priority 1000, cookie 0x1585d6c4c04e06d
    set_field:0x10003e8->metadata
    set_field:0x1->reg5
    goto_table:10
10. No match.
    drop

Final flow: icmp,reg5=0x1,metadata=0x10003e8,in_port=1,vlan_tci=0x0000,dl_src=fa:16:3e:51:fc:99,dl_dst=fa:16:3e:c7:d6:77,nw_src=10.9.0.99,nw_dst=10.9.0.3,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,icmp_type=8,icmp_code=0
Megaflow: recirc_id=0,eth,ip,in_port=1,dl_src=fa:16:3e:51:fc:99,nw_src=10.9.0.64/26,nw_frag=no
Datapath actions: drop
`;

export const FLOOD_TRACE = `Flow: icmp,in_port=1,vlan_tci=0x0000,dl_src=fa:16:3e:49:73:e0,dl_dst=ff:ff:ff:ff:ff:ff,nw_src=10.0.0.2,nw_dst=8.8.8.8,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,icmp_type=8,icmp_code=0

bridge("br-int")
----------------
 0. in_port=1,dl_src=fa:16:3e:49:73:e0, priority 1000, cookie 0x15ad17b81e9d33b
    set_field:0x10003e8->metadata
    set_field:0x1->reg5
    goto_table:10
10. ip,reg5=0x1,dl_src=fa:16:3e:49:73:e0,nw_src=10.0.0.2, priority 1000, cookie 0x25ad17b81e9d33b
    goto_table:20
20. ip, priority 10, cookie 0x35ad196aff7d4d2
    ct(table=21,zone=NXM_NX_REG5[0..15])
    drop
     -> A clone of the packet is forked to recirculate. The forked pipeline will be resumed at table 21.
     -> Sets the packet to an untracked state, and clears all the conntrack fields.

Final flow: icmp,reg5=0x1,metadata=0x10003e8,in_port=1,vlan_tci=0x0000,dl_src=fa:16:3e:49:73:e0,dl_dst=ff:ff:ff:ff:ff:ff,nw_src=10.0.0.2,nw_dst=8.8.8.8,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,icmp_type=8,icmp_code=0
Megaflow: recirc_id=0,eth,icmp,in_port=1,dl_src=fa:16:3e:49:73:e0,nw_src=10.0.0.2,nw_frag=no
Datapath actions: ct(zone=1),recirc(0x6)

===============================================================================
recirc(0x6) - resume conntrack with default ct_state=trk|new (use --ct-next to customize)
===============================================================================

Flow: recirc_id=0x6,ct_state=new|trk,ct_zone=1,eth,icmp,reg5=0x1,metadata=0x10003e8,in_port=1,vlan_tci=0x0000,dl_src=fa:16:3e:49:73:e0,dl_dst=ff:ff:ff:ff:ff:ff,nw_src=10.0.0.2,nw_dst=8.8.8.8,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,icmp_type=8,icmp_code=0

bridge("br-int")
----------------
    thaw
        Resuming from table 21
21. conj_id=475151886,ip, priority 500, cookie 0x35ad10228f57c6e
    ct(commit,zone=NXM_NX_REG5[0..15],exec(set_field:0->ct_mark))
    set_field:0->ct_mark
     -> Sets the packet to an untracked state, and clears all the conntrack fields.
    goto_table:30
30. reg0=0/0x1,metadata=0x10003e8, priority 10, cookie 0x45ad164b5424088
    set_field:0x1->reg7
    resubmit(,40)
    40. ip, priority 10, cookie 0x35ad196aff7d4d2
            ct(table=41,zone=NXM_NX_REG7[0..15])
            drop
             -> A clone of the packet is forked to recirculate. The forked pipeline will be resumed at table 41.
             -> Sets the packet to an untracked state, and clears all the conntrack fields.
    set_field:0x3e8->tun_id
    set_field:172.31.165.12->tun_dst
    output:60000
     -> output to native tunnel
     -> tunneling to 172.31.165.12 via br-phy
     -> tunneling from 02:77:a5:00:ff:01 172.31.165.11 to 02:77:a5:00:ff:02 172.31.165.12

bridge("br-phy")
----------------
 0. priority 0
    NORMAL
     -> forwarding to learned port

Final flow: recirc_id=0x6,eth,icmp,reg5=0x1,reg7=0x1,tun_src=0.0.0.0,tun_dst=172.31.165.12,tun_ipv6_src=::,tun_ipv6_dst=::,tun_gbp_id=0,tun_gbp_flags=0,tun_tos=0,tun_ttl=0,tun_erspan_ver=0,gtpu_flags=0,gtpu_msgtype=0,tun_flags=0,metadata=0x10003e8,in_port=1,vlan_tci=0x0000,dl_src=fa:16:3e:49:73:e0,dl_dst=ff:ff:ff:ff:ff:ff,nw_src=10.0.0.2,nw_dst=8.8.8.8,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,icmp_type=8,icmp_code=0
Megaflow: recirc_id=0x6,ct_state=-est-rel-rpl-inv+trk,ct_mark=0,eth,icmp,in_port=1,dl_dst=ff:ff:ff:ff:ff:ff,nw_ecn=0,nw_frag=no
Datapath actions: ct(commit,zone=1,mark=0/0xffffffff),ct(zone=1),recirc(0x1),tnl_push(tnl_port(2),header(size=50,type=4,eth(dst=02:77:a5:00:ff:02,src=02:77:a5:00:ff:01,dl_type=0x0800),ipv4(src=172.31.165.11,dst=172.31.165.12,proto=17,tos=0,ttl=64,frag=0x4000),udp(src=0,dst=4789,csum=0x0),vxlan(flags=0x8000000,vni=0x3e8)),out_port(5)),4

===============================================================================
recirc(0x1) - resume conntrack with default ct_state=trk|new (use --ct-next to customize)
===============================================================================

Flow: recirc_id=0x1,ct_state=new|trk,ct_zone=1,eth,icmp,reg5=0x1,reg7=0x1,metadata=0x10003e8,in_port=1,vlan_tci=0x0000,dl_src=fa:16:3e:49:73:e0,dl_dst=ff:ff:ff:ff:ff:ff,nw_src=10.0.0.2,nw_dst=8.8.8.8,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,icmp_type=8,icmp_code=0

bridge("br-int")
----------------
    thaw
        Resuming from table 41
41. conj_id=546474969,ip, priority 500, cookie 0x35ad17b404e7ab9
    ct(commit,zone=NXM_NX_REG7[0..15],exec(set_field:0->ct_mark))
    set_field:0->ct_mark
     -> Sets the packet to an untracked state, and clears all the conntrack fields.
    goto_table:50
50. reg7=0x1, priority 1000, cookie 0x85ad17b81e9d33b
    output:1
     >> skipping output to input port

Final flow: recirc_id=0x1,eth,icmp,reg5=0x1,reg7=0x1,metadata=0x10003e8,in_port=1,vlan_tci=0x0000,dl_src=fa:16:3e:49:73:e0,dl_dst=ff:ff:ff:ff:ff:ff,nw_src=10.0.0.2,nw_dst=8.8.8.8,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,icmp_type=8,icmp_code=0
Megaflow: recirc_id=0x1,ct_state=-est-rel-rpl-inv+trk,ct_mark=0,eth,ip,in_port=1,nw_src=10.0.0.2,nw_frag=no
Datapath actions: ct(commit,zone=1,mark=0/0xffffffff)
`;
