// br-int's pipeline, declared once. Code and tests name tables; only this file knows numbers.
// Each table states what its flows may match and set and where they may go next; a unit test
// checks every compiled flow against its table's contract (test/unit/pipeline/contracts.test.ts).
import type { FieldName } from '../openflow/fields.ts';

export const TABLE_NAMES = [
  'classify', 'spoof_guard', 'egress_ct', 'egress_acl', 'l2_lookup', 'ingress_ct', 'ingress_acl', 'output',
] as const;
export type TableName = (typeof TABLE_NAMES)[number];

export interface TableContract {
  readonly name: TableName;
  readonly id: number;
  readonly purpose: string;
  /** Fields a flow in this table may match (ethType/ipProto prerequisites are always allowed). */
  readonly matches: readonly FieldName[];
  /** Fields a flow in this table may set (set_field, or a move into them). */
  readonly sets: readonly FieldName[];
  /** Tables a flow may continue in: goto_table, resubmit, ct(table=). */
  readonly next: readonly TableName[];
  /** What happens to a packet no flow matches. */
  readonly miss: 'drop';
}

const L3 = ['ethType', 'ipProto', 'ipv4Src', 'ipv4Dst', 'ipv6Src', 'ipv6Dst'] as const;
const L4 = [
  'tcpSrc', 'tcpDst', 'udpSrc', 'udpDst', 'sctpSrc', 'sctpDst', 'icmpv4Type', 'icmpv4Code', 'icmpv6Type', 'icmpv6Code',
] as const;

export const TABLES: readonly TableContract[] = [
  {
    name: 'classify', id: 0, miss: 'drop',
    purpose: 'in_port -> network (metadata) and source port (reg5); tunnel id / provider VLAN -> network; DHCP requests -> the agent',
    matches: ['inPort', 'ethSrc', 'tunnelId', 'vlanVid', 'udpSrc', 'udpDst'],
    sets: ['metadata', 'reg5', 'reg0', 'vlanVid'],
    next: ['spoof_guard', 'egress_ct', 'l2_lookup'],
  },
  {
    name: 'spoof_guard', id: 10, miss: 'drop',
    purpose: 'a port sends only from its IPs (and allowed address pairs); ARP from its own MAC/IP',
    matches: [
      'reg5', 'ethSrc', 'ethType', 'ipProto', 'ipv4Src', 'ipv6Src', 'arpSpa', 'arpSha', 'udpSrc', 'udpDst', 'icmpv6Type',
      'ipv6NdTarget',
    ],
    sets: [],
    next: ['egress_ct'],
  },
  {
    name: 'egress_ct', id: 20, miss: 'drop',
    purpose: 'IP from ports with security groups enters conntrack in the source port zone',
    matches: ['reg0', 'reg5', 'ethType', 'ipProto', 'udpSrc', 'udpDst', 'icmpv6Type'],
    sets: [],
    next: ['egress_acl', 'l2_lookup'],
  },
  {
    name: 'egress_acl', id: 21, miss: 'drop',
    purpose: 'egress security group rules (conjunctions); commit allowed connections, cut removed ones',
    matches: ['reg5', 'ctState', 'ctMark', 'conjId', ...L3, ...L4],
    sets: ['ctMark'],
    next: ['l2_lookup'],
  },
  {
    name: 'l2_lookup', id: 30, miss: 'drop',
    purpose: 'destination MAC in the network -> local port (reg7), remote host (tunnel) or provider uplink; flood',
    matches: ['metadata', 'ethDst', 'reg0'],
    sets: ['reg7', 'tunnelId', 'tunDst', 'vlanVid'],
    next: ['ingress_ct'],
  },
  {
    name: 'ingress_ct', id: 40, miss: 'drop',
    purpose: 'IP to ports with security groups enters conntrack in the destination port zone',
    matches: ['reg7', 'ethType', 'ipProto', 'udpSrc', 'udpDst', 'icmpv6Type'],
    sets: [],
    next: ['ingress_acl', 'output'],
  },
  {
    name: 'ingress_acl', id: 41, miss: 'drop',
    purpose: 'ingress security group rules (conjunctions); commit allowed connections, cut removed ones',
    matches: ['reg7', 'ctState', 'ctMark', 'conjId', ...L3, ...L4],
    sets: ['ctMark'],
    next: ['output'],
  },
  {
    name: 'output', id: 50, miss: 'drop',
    purpose: 'reg7 -> the local port',
    matches: ['reg7'],
    sets: [],
    next: [],
  },
];

const byName = new Map(TABLES.map((t) => [t.name, t]));
const byId = new Map(TABLES.map((t) => [t.id, t]));

export function table(name: TableName): TableContract {
  const t = byName.get(name);
  if (!t) throw new Error(`unknown table '${name}'`);
  return t;
}

export const tableId = (name: TableName): number => table(name).id;

/** The name of a table number, for printing; undefined for tables we do not own. */
export const tableNameOf = (id: number): TableName | undefined => byId.get(id)?.name;
