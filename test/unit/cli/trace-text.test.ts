import { describe, expect, it } from 'vitest';
import { nameBrIntTables, parseTrace, renderTrace, traceFlow, traceVerdict } from '../../../cli/trace-text.ts';
import { FLOOD_TRACE, LOCAL_TRACE, SPOOFED_TRACE, TUNNEL_TRACE } from './trace-fixtures.ts';

// Reading ofproto/trace: the flow we ask for, the sections and steps, table names, the verdict.

describe('traceFlow', () => {
  const base = { inPort: 3, srcMac: 'fa:16:3e:00:00:01', dstMac: 'fa:16:3e:00:00:02', src: '10.0.0.5', dst: '10.0.0.6' };
  it('asks for an echo request by default', () => {
    expect(traceFlow({ ...base, proto: 'icmp' })).toBe(
      'in_port=3,dl_src=fa:16:3e:00:00:01,dl_dst=fa:16:3e:00:00:02,icmp,nw_src=10.0.0.5,nw_dst=10.0.0.6,nw_ttl=64,icmp_type=8,icmp_code=0');
  });
  it('asks for a TCP SYN or a UDP datagram with ports', () => {
    expect(traceFlow({ ...base, proto: 'tcp', dport: 22 })).toMatch(/,tcp,nw_src=10\.0\.0\.5,nw_dst=10\.0\.0\.6,nw_ttl=64,tcp_src=40000,tcp_dst=22,tcp_flags=0x002$/);
    expect(traceFlow({ ...base, proto: 'udp', dport: 53, sport: 5353 })).toMatch(/,udp,.*,udp_src=5353,udp_dst=53$/);
  });
  it('speaks IPv6 to an IPv6 address', () => {
    expect(traceFlow({ ...base, src: 'fd00::5', dst: 'fd00::6', proto: 'icmp' })).toMatch(/,icmp6,ipv6_src=fd00::5,ipv6_dst=fd00::6,nw_ttl=64,icmp_type=128,/);
    expect(traceFlow({ ...base, src: 'fd00::5', dst: 'fd00::6', proto: 'tcp' })).toContain(',tcp6,');
  });
});

describe('parseTrace', () => {
  it('splits the first pass and each conntrack recirculation, with their steps', () => {
    const s = parseTrace(LOCAL_TRACE);
    expect(s.map((x) => x.resumedWith)).toEqual([undefined, 'trk|new', 'trk|new']);
    expect(s.map((x) => x.blocks[0]!.steps.map((st) => st.table))).toEqual([[0, 10, 20], [undefined, 21, 30, 40], [undefined, 41, 50]]);
    expect(s[0]!.datapathActions).toBe('ct(zone=1),recirc(0x4)');
    expect(s[2]!.blocks[0]!.steps.at(-1)).toEqual({ table: 50, head: 'reg7=0x2, priority 1000, cookie 0x8585da5f9d1e0bd', lines: ['output:2'] });
  });

  it('keeps other bridges apart (br-phy after a tunnel output)', () => {
    const last = parseTrace(TUNNEL_TRACE).at(-1)!;
    expect(last.blocks.map((b) => b.bridge)).toEqual(['br-int', 'br-phy']);
    expect(last.blocks[1]!.steps).toEqual([{ table: 0, head: 'priority 0', lines: ['NORMAL', ' -> no learned MAC for destination, flooding'] }]);
  });
});

describe('renderTrace', () => {
  it("names br-int's tables in step labels and actions, never another bridge's", () => {
    const text = renderTrace(parseTrace(TUNNEL_TRACE)).join('\n');
    expect(text).toMatch(/^  classify {5}in_port=1,dl_src=fa:16:3e:51:fc:99, priority 1000/m);
    expect(text).toContain('goto_table:spoof_guard');
    expect(text).toContain('ct(table=egress_acl,zone=NXM_NX_REG5[0..15])');
    expect(text).toContain('resumed at table egress_acl');
    expect(text).toMatch(/^  l2_lookup {4}metadata=0x10003e8,dl_dst=fa:16:3e:c7:d6:77/m);
    expect(text).toMatch(/^br-phy\n  table 0 {6}priority 0$/m);
    expect(text).not.toMatch(/Final flow|Megaflow|thaw/);
    expect(text.match(/^br-int$/gm)).toHaveLength(1);
    expect(text.match(/~~ conntrack answered ct_state=trk\|new/g)).toHaveLength(1);
  });

  it('shows a step reached by resubmit inside the step that resubmitted', () => {
    const lines = renderTrace(parseTrace(FLOOD_TRACE));
    const at = lines.findIndex((l) => /^  l2_lookup /.test(l));
    expect(lines.slice(at, at + 6).map((l) => l.trim())).toEqual([
      expect.stringMatching(/^l2_lookup +reg0=0\/0x1,metadata=0x10003e8, priority 10/),
      'set_field:0x1->reg7',
      'resubmit(,ingress_ct)',
      'ingress_ct: ip, priority 10, cookie 0x35ad196aff7d4d2',
      'ct(table=ingress_acl,zone=NXM_NX_REG7[0..15])',
      'drop',
    ]);
    expect(lines.slice(at + 8).find((l) => l.includes('output:60000'))).toMatch(/^ {17}output:60000$/);
  });

  it('leaves numbers of tables we do not own as they are', () => {
    expect(nameBrIntTables('goto_table:99,resubmit(,50),table 40')).toBe('goto_table:99,resubmit(,output),table ingress_ct');
  });
});

describe('traceVerdict', () => {
  it('a local port: the output port of the last pass', () => {
    expect(traceVerdict(parseTrace(LOCAL_TRACE))).toEqual({ kind: 'output', outputs: [{ ofport: 2 }] });
  });
  it('a remote port: the tunnel port, with where it tunnels to', () => {
    expect(traceVerdict(parseTrace(TUNNEL_TRACE))).toEqual({ kind: 'output', outputs: [{ ofport: 60000, tunnelTo: '172.31.107.12' }] });
  });
  it('a flood: the copies of every pass, not the one skipped back to the sender', () => {
    expect(traceVerdict(parseTrace(FLOOD_TRACE))).toEqual({ kind: 'output', outputs: [{ ofport: 60000, tunnelTo: '172.31.165.12' }] });
    const alone = FLOOD_TRACE.replace(/    set_field:0x3e8->tun_id\n[^]*?tunneling from .*\n/, '');
    expect(traceVerdict(parseTrace(alone))).toEqual({ kind: 'drop', table: 'output', reason: 'its only output is the port it came from' });
  });
  it('a drop: the table and why', () => {
    expect(traceVerdict(parseTrace(SPOOFED_TRACE))).toEqual({ kind: 'drop', table: 'spoof_guard', reason: 'no flow matched' });
    const explicit = SPOOFED_TRACE.replace('10. No match.\n    drop', '41. ip,reg7=0x2, priority 1, cookie 0x1\n    drop');
    expect(traceVerdict(parseTrace(explicit))).toEqual({ kind: 'drop', table: 'ingress_acl', reason: 'flow "ip,reg7=0x2, priority 1, cookie 0x1" drops it' });
  });
  it('a punt to the agent', () => {
    const dhcp = SPOOFED_TRACE.replace('10. No match.\n    drop', '    controller(reason=action,max_len=65535)').replace('Datapath actions: drop', 'Datapath actions: userspace(pid=0,controller(reason=1))');
    expect(traceVerdict(parseTrace(dhcp))).toEqual({ kind: 'controller' });
  });
  it('nothing at all', () => {
    expect(traceVerdict([])).toMatchObject({ kind: 'drop', table: undefined });
  });
});
