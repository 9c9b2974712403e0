// A catalogue of flows that together use every match field and every action/instruction kind the
// codec supports. The unit tests round-trip them; the golden suite installs them on a real switch and
// compares `ovs-ofctl dump-flows` with toOfctlText().
import { OFPP, type Action, type Instruction } from '../../../agent/openflow/actions.ts';
import { OFPFF, makeFlowMod, type FlowMod, type FlowModInit } from '../../../agent/openflow/flowmod.ts';

const apply = (...actions: Action[]): Instruction => ({ type: 'applyActions', actions });

/** Flows for tables 1..49; `base` is added to every cookie so two copies can coexist. */
export function catalog(base = 0n): FlowMod[] {
  const f = (cookie: number, init: FlowModInit): FlowMod => makeFlowMod({ ...init, cookie: base + BigInt(cookie) });
  return [
    f(0x101, {
      tableId: 1, priority: 100,
      match: {
        inPort: 1, ethSrc: 'fa:16:3e:00:00:01', ethDst: '01:00:00:00:00:00/01:00:00:00:00:00', ethType: 0x0800,
        ipv4Src: '10.0.0.0/24', ipv4Dst: '10.0.1.5', ipProto: 6, tcpSrc: 1000, tcpDst: 80,
      },
      instructions: [apply(
        { type: 'setField', field: 'tcpDst', value: 8080 },
        { type: 'setField', field: 'ipv4Dst', value: '10.0.1.6' },
        { type: 'setField', field: 'ethDst', value: 'fa:16:3e:00:00:02' },
        { type: 'output', port: 2 },
      )],
    }),
    f(0x102, {
      tableId: 1, priority: 110,
      match: { ethType: 0x0800, ipProto: 17, udpSrc: 68, udpDst: 67 },
      instructions: [apply({ type: 'output', port: OFPP.CONTROLLER }), { type: 'gotoTable', tableId: 5 }],
    }),
    f(0x103, {
      tableId: 1, priority: 120,
      match: { ethType: 0x0800, ipProto: 1, icmpv4Type: 8, icmpv4Code: 0 },
      instructions: [apply({ type: 'decTtl' }, { type: 'output', port: OFPP.IN_PORT })],
    }),
    f(0x104, {
      tableId: 2, priority: 100,
      match: { ethType: 0x86dd, ipv6Src: 'fe80::/64', ipv6Dst: '2001:db8::1', ipProto: 6, tcpDst: 443 },
      instructions: [apply({ type: 'setField', field: 'ipv6Dst', value: '2001:db8::2' }, { type: 'output', port: 3 })],
    }),
    f(0x105, {
      tableId: 2, priority: 110,
      match: { ethType: 0x86dd, ipProto: 58, icmpv6Type: 135, icmpv6Code: 0, ipv6NdTarget: 'fe80::1' },
      instructions: [apply({ type: 'output', port: OFPP.LOCAL })],
    }),
    f(0x106, {
      tableId: 2, priority: 120,
      match: { ethType: 0x86dd, ipProto: 17, udpDst: 547, ipv6Src: 'fe80::f816:3eff:fe00:1' },
      instructions: [apply({ type: 'output', port: OFPP.CONTROLLER, maxLen: 128 })],
    }),
    f(0x107, {
      tableId: 3, priority: 100,
      match: {
        ethType: 0x0806, arpOp: 1, arpSpa: '10.0.0.1', arpTpa: '10.0.0.0/24', arpSha: 'fa:16:3e:00:00:01',
        arpTha: '00:00:00:00:00:00',
      },
      instructions: [apply(
        { type: 'move', src: { field: 'ethSrc' }, dst: { field: 'ethDst' } },
        { type: 'setField', field: 'ethSrc', value: 'fa:16:3e:aa:bb:cc' },
        { type: 'setField', field: 'arpOp', value: 2 },
        { type: 'move', src: { field: 'arpSha' }, dst: { field: 'arpTha' } },
        { type: 'setField', field: 'arpSha', value: 'fa:16:3e:aa:bb:cc' },
        { type: 'move', src: { field: 'arpSpa' }, dst: { field: 'arpTpa' } },
        { type: 'setField', field: 'arpSpa', value: '10.0.0.254' },
        { type: 'output', port: OFPP.IN_PORT },
      )],
    }),
    f(0x108, {
      tableId: 4, priority: 100,
      match: { inPort: 3, vlanVid: { value: 0x1000 | 100 } },
      instructions: [apply({ type: 'popVlan' }), { type: 'writeMetadata', value: 5n, mask: 0xffffn },
        { type: 'gotoTable', tableId: 20 }],
    }),
    f(0x109, {
      tableId: 4, priority: 90,
      match: { inPort: 4, vlanVid: { value: 0 } },
      instructions: [apply({ type: 'pushVlan' }, { type: 'setField', field: 'vlanVid', value: { value: 0x1000 | 200 } },
        { type: 'output', port: 5 })],
    }),
    f(0x10a, {
      tableId: 4, priority: 80,
      match: { vlanVid: { value: 0x1000, mask: 0x1000 } },
      instructions: [],
    }),
    f(0x10b, {
      tableId: 5, priority: 100,
      match: { inPort: 9, tunnelId: { value: 0x64n }, tunDst: '192.168.1.2', tunSrc: '192.168.1.0/24' },
      instructions: [apply({ type: 'setField', field: 'reg0', value: { value: 5 } }, { type: 'resubmit', table: 30 }),
        { type: 'writeMetadata', value: 0x7n }],
    }),
    f(0x10c, {
      tableId: 5, priority: 90,
      match: { metadata: { value: 5n }, reg1: { value: 7, mask: 0xff } },
      instructions: [apply(
        { type: 'setField', field: 'tunnelId', value: { value: 0x64n } },
        { type: 'setField', field: 'tunDst', value: '192.168.1.3' },
        { type: 'output', port: 9 },
      )],
    }),
    f(0x10d, {
      tableId: 6, priority: 100,
      match: {
        metadata: { value: 0x500n, mask: 0xff00n },
        reg0: { value: 0 }, reg2: { value: 2 }, reg3: { value: 3 }, reg4: { value: 4 }, reg5: { value: 5 }, reg6: { value: 6 },
        reg7: { value: 7 }, reg8: { value: 8 }, reg9: { value: 9 }, reg10: { value: 10 }, reg11: { value: 11 },
        reg12: { value: 12 }, reg13: { value: 13 }, reg14: { value: 14 }, reg15: { value: 0x100, mask: 0xf00 },
      },
      instructions: [apply(
        { type: 'setField', field: 'reg3', value: { value: 0x50, mask: 0xf0 } },
        { type: 'move', src: { field: 'reg0', ofs: 0, nBits: 16 }, dst: { field: 'reg1', ofs: 16 } },
        { type: 'setField', field: 'metadata', value: { value: 0x9n } },
        { type: 'resubmit', inPort: 5, table: 30 },
      )],
    }),
    f(0x10e, {
      tableId: 40, priority: 300,
      match: { ethType: 0x0800, ctState: { value: 0, mask: 0x20 } },
      instructions: [apply({ type: 'ct', table: 41, zone: { field: 'reg6', ofs: 0, nBits: 16 } })],
    }),
    f(0x10f, {
      tableId: 41, priority: 300,
      match: { ethType: 0x0800, ctState: { value: 0x21, mask: 0x21 }, ctZone: 7 },
      instructions: [apply(
        {
          type: 'ct', commit: true, zone: 7,
          exec: [
            { type: 'setField', field: 'ctMark', value: { value: 1 } },
            { type: 'setField', field: 'ctLabel', value: { value: 0x1234n } },
          ],
        },
        { type: 'output', port: 10 },
      )],
    }),
    f(0x110, {
      tableId: 41, priority: 290,
      match: { ethType: 0x0800, ctState: { value: 0x22, mask: 0x32 }, ctMark: { value: 1 }, ctLabel: { value: 0x1234n, mask: 0xffffn } },
      instructions: [apply({ type: 'output', port: 10 })],
    }),
    f(0x111, {
      tableId: 42, priority: 100,
      match: { ethType: 0x0800, ipv4Dst: '172.31.254.50' },
      instructions: [apply({ type: 'ct', commit: true, zone: 9, table: 43, nat: { type: 'dst', ipMin: '10.0.0.5' } })],
    }),
    f(0x112, {
      tableId: 42, priority: 90,
      match: { ethType: 0x0800, ipv4Src: '10.0.0.0/24' },
      instructions: [apply({
        type: 'ct', commit: true, zone: 9,
        nat: { type: 'src', ipMin: '172.31.254.60', ipMax: '172.31.254.61', portMin: 1024, portMax: 65535 },
      })],
    }),
    f(0x113, {
      tableId: 42, priority: 80,
      match: { ethType: 0x0800 },
      instructions: [apply({ type: 'ct', table: 12, zone: 9, nat: {} })],
    }),
    f(0x114, {
      tableId: 43, priority: 100,
      match: { ethType: 0x0800, ctState: { value: 0x22 } },
      instructions: [apply({ type: 'ctClear' }, { type: 'resubmit', table: 44 })],
    }),
    f(0x115, {
      tableId: 44, priority: 100,
      match: { ethType: 0x0800, ipv4Src: '10.0.0.1' },
      instructions: [apply({ type: 'conjunction', id: 7, clause: 1, nClauses: 2 })],
    }),
    f(0x116, {
      tableId: 44, priority: 100,
      match: { ethType: 0x0800, ipProto: 6, tcpDst: 22 },
      instructions: [apply({ type: 'conjunction', id: 7, clause: 2, nClauses: 2 })],
    }),
    f(0x117, {
      tableId: 45, priority: 100, idleTimeout: 300, hardTimeout: 600, flags: OFPFF.SEND_FLOW_REM,
      match: { ethType: 0x0800, ipProto: 47 },
      instructions: [apply({ type: 'note', data: Buffer.from('weft01', 'latin1') }, { type: 'output', port: 1 })],
    }),
    f(0x118, {
      tableId: 45, priority: 0,
      match: { ethType: 0x88cc },
      instructions: [{ type: 'clearActions' }, { type: 'writeActions', actions: [{ type: 'output', port: 7 }] }],
    }),
    f(0x119, {
      tableId: 46,
      match: {},
      instructions: [apply({ type: 'setField', field: 'ethSrc', value: 'fa:16:3e:00:00:aa' }),
        { type: 'gotoTable', tableId: 47 }],
    }),
    f(0x11a, {
      tableId: 46, priority: 7,
      match: { ethType: 0x0800, ipProto: 17, udpDst: 4789, ipv4Dst: '10.1.0.0/255.255.0.255' },
      instructions: [apply({ type: 'setField', field: 'udpSrc', value: 5000 },
        { type: 'setField', field: 'ipv4Src', value: '10.0.0.9' }, { type: 'output', port: OFPP.NORMAL })],
    }),
    f(0x11b, {
      tableId: 44, priority: 100,
      match: { ethType: 0x0800, conjId: 7 },
      instructions: [apply({ type: 'output', port: 1 })],
    }),
    f(0x11c, {
      tableId: 47, priority: 100,
      match: { ethType: 0x0800, ipProto: 6, tcpSrc: { value: 0x400, mask: 0xfc00 }, tcpDst: { value: 0x3e8, mask: 0xfff8 } },
      instructions: [],
    }),
    f(0x11d, {
      tableId: 47, priority: 100,
      match: { ethType: 0x86dd, ipProto: 17, udpSrc: { value: 0, mask: 0xfc00 }, udpDst: 53 },
      instructions: [],
    }),
    f(0x11e, {
      tableId: 47, priority: 100,
      match: { ethType: 0x0800, ipProto: 132, sctpSrc: 5000, sctpDst: { value: 0x1000, mask: 0xf000 } },
      instructions: [],
    }),
    f(0x11f, {
      tableId: 47, priority: 100,
      match: { ethType: 0x86dd, ipProto: 132, sctpDst: 9 },
      instructions: [],
    }),
    f(0x120, {
      tableId: 47, priority: 100,
      match: { ethType: 0x0800, ipProto: 2 },
      instructions: [],
    }),
    f(0x121, {
      tableId: 47, priority: 50,
      match: { ethType: 0x86dd, conjId: 0xdeadbeef },
      instructions: [apply({
        type: 'ct', commit: true, zone: { field: 'reg5', ofs: 0, nBits: 16 },
        exec: [{ type: 'setField', field: 'ctMark', value: { value: 0 } }],
      }), { type: 'gotoTable', tableId: 48 }],
    }),
  ];
}
