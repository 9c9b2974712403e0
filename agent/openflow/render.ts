// Prints flows the way `ovs-ofctl -O OpenFlow13 dump-flows` prints them (Open vSwitch 3.1:
// lib/ofp-flow.c ofputil_flow_stats_format, lib/match.c match_format, lib/ofp-actions.c format_*),
// minus the statistics (duration, n_packets, n_bytes), so tests can compare intent and switch.
import { OFPP, type Action, type Instruction, type Nat, type Subfield } from './actions.ts';
import { bytesToIpv4, formatMaskedAddr, ipv4ToBytes, parseMaskedAddr } from './addr.ts';
import {
  encodeFieldValue, fieldDef, type FieldDef, type FieldName, type Masked, type Match, type PortMatch,
} from './fields.ts';
import { OFP_DEFAULT_PRIORITY, OFPFF, type FlowMod } from './flowmod.ts';

const CT_STATE_NAMES = ['new', 'est', 'rel', 'rpl', 'inv', 'trk', 'snat', 'dnat'];

const RESERVED_PORTS: Readonly<Record<number, string>> = {
  [OFPP.IN_PORT]: 'IN_PORT', [OFPP.TABLE]: 'TABLE', [OFPP.NORMAL]: 'NORMAL', [OFPP.FLOOD]: 'FLOOD',
  [OFPP.ALL]: 'ALL', [OFPP.CONTROLLER]: 'CONTROLLER', [OFPP.LOCAL]: 'LOCAL', [OFPP.ANY]: 'ANY',
};

/** An OpenFlow 1.1+ port as ovs-ofctl prints it. */
export function formatPort(port: number): string {
  return RESERVED_PORTS[port >>> 0] ?? String(port >>> 0);
}

/** C's "%#x": "0" for zero, else "0x..". */
const hashHex = (v: number | bigint) => (BigInt(v) === 0n ? '0' : `0x${v.toString(16)}`);

function uintMasked(name: string, m: Masked<number | bigint>, bits: number): string {
  const all = (1n << BigInt(bits)) - 1n;
  const mask = m.mask === undefined ? all : BigInt(m.mask);
  const value = BigInt(m.value) & mask;
  return mask === all ? `${name}=${hashHex(value)}` : `${name}=${hashHex(value)}/${hashHex(mask)}`;
}

function ctStateFlags(value: number, mask: number): string {
  if ((mask & 0xff) === 0xff) {
    if ((value & 0xff) === 0) return '0';
    return CT_STATE_NAMES.filter((_, i) => value & (1 << i)).join('|');
  }
  return CT_STATE_NAMES.map((n, i) => ((mask & (1 << i)) ? `${value & (1 << i) ? '+' : '-'}${n}` : '')).join('');
}

function addr(f: FieldName, text: string): string {
  const def = fieldDef(f);
  const { value, mask } = parseMaskedAddr(def.kind as 'mac' | 'ipv4' | 'ipv6', text);
  if (mask) for (let i = 0; i < value.length; i++) value[i] &= mask[i];
  return formatMaskedAddr(def.kind as 'mac' | 'ipv4' | 'ipv6', value, mask);
}

/** The match part, with priority first (omitted when it is the default 32768), like match_format. */
export function formatMatch(m: Match, priority: number = OFP_DEFAULT_PRIORITY): string {
  const out: string[] = [];
  if (priority !== OFP_DEFAULT_PRIORITY) out.push(`priority=${priority}`);
  if (m.conjId !== undefined) out.push(`conj_id=${m.conjId >>> 0}`);
  if (m.ctState) out.push(`ct_state=${ctStateFlags(m.ctState.value, m.ctState.mask ?? 0xffffffff)}`);
  if (m.ctZone !== undefined) out.push(`ct_zone=${m.ctZone}`);
  if (m.ctMark) out.push(uintMasked('ct_mark', m.ctMark, 32));
  if (m.ctLabel) out.push(`ct_label=${hex128(m.ctLabel)}`);
  let skipType = false;
  let skipProto = false;
  const et = m.ethType;
  const proto = m.ipProto;
  if (et === 0x0800 || et === 0x86dd) {
    const v6 = et === 0x86dd;
    skipType = true;
    // OVS 3.1 prints IGMP (2) as ip,nw_proto=2; later versions print "igmp" (the catalogue checks it).
    const names: Record<number, string> = v6 ? { 58: 'icmp6', 6: 'tcp6', 17: 'udp6', 132: 'sctp6' } : { 1: 'icmp', 6: 'tcp', 17: 'udp', 132: 'sctp' };
    if (proto !== undefined && names[proto]) {
      skipProto = true;
      out.push(names[proto]);
    } else {
      out.push(v6 ? 'ipv6' : 'ip');
    }
  } else if (et === 0x0806) {
    skipType = true;
    out.push('arp');
  } else if (et === 0x8035) {
    skipType = true;
    out.push('rarp');
  }
  for (let i = 0; i < 16; i++) {
    const r = m[`reg${i}` as FieldName] as Masked<number> | undefined;
    if (r) out.push(uintMasked(`reg${i}`, r, 32));
  }
  if (m.tunnelId) out.push(uintMasked('tun_id', m.tunnelId, 64));
  if (m.tunSrc) out.push(`tun_src=${addr('tunSrc', m.tunSrc)}`);
  if (m.tunDst) out.push(`tun_dst=${addr('tunDst', m.tunDst)}`);
  if (m.metadata) out.push(uintMasked('metadata', m.metadata, 64));
  if (m.inPort !== undefined) out.push(`in_port=${formatPort(m.inPort)}`);
  if (m.vlanVid) out.push(formatVlan(m.vlanVid));
  if (m.ethSrc) out.push(`dl_src=${addr('ethSrc', m.ethSrc)}`);
  if (m.ethDst) out.push(`dl_dst=${addr('ethDst', m.ethDst)}`);
  if (et !== undefined && !skipType) out.push(`dl_type=0x${et.toString(16).padStart(4, '0')}`);
  if (et === 0x86dd) {
    if (m.ipv6Src) out.push(`ipv6_src=${addr('ipv6Src', m.ipv6Src)}`);
    if (m.ipv6Dst) out.push(`ipv6_dst=${addr('ipv6Dst', m.ipv6Dst)}`);
  } else if (et === 0x0806 || et === 0x8035) {
    if (m.arpSpa) out.push(`arp_spa=${addr('arpSpa', m.arpSpa)}`);
    if (m.arpTpa) out.push(`arp_tpa=${addr('arpTpa', m.arpTpa)}`);
  } else {
    if (m.ipv4Src) out.push(`nw_src=${addr('ipv4Src', m.ipv4Src)}`);
    if (m.ipv4Dst) out.push(`nw_dst=${addr('ipv4Dst', m.ipv4Dst)}`);
  }
  if (et === 0x0806 || et === 0x8035) {
    if (m.arpOp !== undefined) out.push(`arp_op=${m.arpOp}`);
  } else if (!skipProto && proto !== undefined) {
    out.push(`nw_proto=${proto}`);
  }
  if (et === 0x0806 || et === 0x8035) {
    if (m.arpSha) out.push(`arp_sha=${addr('arpSha', m.arpSha)}`);
    if (m.arpTha) out.push(`arp_tha=${addr('arpTha', m.arpTha)}`);
  }
  if (et === 0x0800 && proto === 1) {
    if (m.icmpv4Type !== undefined) out.push(`icmp_type=${m.icmpv4Type}`);
    if (m.icmpv4Code !== undefined) out.push(`icmp_code=${m.icmpv4Code}`);
  } else if (et === 0x86dd && proto === 58) {
    if (m.icmpv6Type !== undefined) out.push(`icmp_type=${m.icmpv6Type}`);
    if (m.icmpv6Code !== undefined) out.push(`icmp_code=${m.icmpv6Code}`);
    if (m.ipv6NdTarget) out.push(`nd_target=${addr('ipv6NdTarget', m.ipv6NdTarget)}`);
  } else {
    const src = m.tcpSrc ?? m.udpSrc ?? m.sctpSrc;
    const dst = m.tcpDst ?? m.udpDst ?? m.sctpDst;
    if (src !== undefined) out.push(`tp_src=${formatPortMatch(src)}`);
    if (dst !== undefined) out.push(`tp_dst=${formatPortMatch(dst)}`);
  }
  return out.join(',');
}

/** lib/match.c format_be16_masked: decimal when exact, else 0xVALUE/0xMASK. */
function formatPortMatch(p: PortMatch): string {
  if (typeof p === 'number') return String(p);
  const mask = (p.mask ?? 0xffff) & 0xffff;
  if (mask === 0xffff) return String(p.value & 0xffff);
  return `0x${(p.value & mask).toString(16)}/0x${mask.toString(16)}`;
}

function formatVlan(v: Masked<number>): string {
  const mask = (v.mask ?? 0x1fff) & 0x1fff;
  const tci = v.value & mask;
  const vidMask = mask & 0x0fff;
  if ((mask & 0x1000) && (tci & 0x1000) && vidMask === 0x0fff) return `dl_vlan=${tci & 0xfff}`;
  const h = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;
  return `vlan_tci=${h(tci)}/${h(mask)}`;
}

function hex128(m: Masked<bigint>): string {
  const all = (1n << 128n) - 1n;
  const h = (v: bigint) => (v === 0n ? '0' : `0x${v.toString(16)}`);
  return m.mask === undefined || m.mask === all ? h(m.value) : `${h(m.value & m.mask)}/${h(m.mask)}`;
}

/** A field value as set_field prints it (mf_format). */
function formatFieldValue(f: FieldDef, v: unknown): string {
  const { value, mask } = encodeFieldValue(f, v);
  switch (f.kind) {
    case 'mac':
    case 'ipv4':
    case 'ipv6':
      return formatMaskedAddr(f.kind, value, mask);
    default:
      break;
  }
  const hexOf = (b: Buffer) => {
    const s = b.toString('hex').replace(/^0+/, '');
    return s === '' ? '0' : `0x${s}`;
  };
  if (f.name === 'ctState') {
    return ctStateFlags(value.readUInt32BE(0), mask ? mask.readUInt32BE(0) : 0xffffffff);
  }
  if (f.name === 'inPort' && !mask) return formatPort(value.readUInt32BE(0));
  const decimal = ['vlanVid', 'ipProto', 'tcpSrc', 'tcpDst', 'udpSrc', 'udpDst', 'sctpSrc', 'sctpDst', 'icmpv4Type', 'icmpv4Code',
    'icmpv6Type', 'icmpv6Code', 'arpOp', 'inPort'].includes(f.name);
  const text = decimal ? BigInt(`0x${value.toString('hex')}`).toString() : hexOf(value);
  return mask ? `${text}/${hexOf(mask)}` : text;
}

function formatSubfield(s: Subfield): string {
  const f = fieldDef(s.field);
  const ofs = s.ofs ?? 0;
  const nBits = s.nBits ?? f.bytes * 8 - ofs;
  if (ofs === 0 && nBits === f.bytes * 8) return `${f.nxmName}[]`;
  if (nBits === 1) return `${f.nxmName}[${ofs}]`;
  return `${f.nxmName}[${ofs}..${ofs + nBits - 1}]`;
}

function formatNat(n: Nat): string {
  if (!n.type) return 'nat';
  let s = n.type;
  if (n.ipMin !== undefined) {
    const v6 = n.ipMin.includes(':');
    const fmt = (ip: string) => (v6 ? (n.portMin ? `[${ip}]` : ip) : bytesToIpv4(ipv4ToBytes(ip)));
    s += `=${fmt(n.ipMin)}`;
    if (n.ipMax !== undefined && n.ipMax !== n.ipMin) s += `-${fmt(n.ipMax)}`;
    if (n.portMin) {
      s += `:${n.portMin}`;
      if (n.portMax && n.portMax !== n.portMin) s += `-${n.portMax}`;
    }
    if (n.persistent) s += ',persistent';
    if (n.hash) s += ',hash';
    if (n.random) s += ',random';
  }
  return `nat(${s})`;
}

export function formatAction(a: Action): string {
  switch (a.type) {
    case 'output':
      if (a.port >>> 0 === OFPP.CONTROLLER) return `CONTROLLER:${a.maxLen ?? 0xffff}`;
      return (a.port >>> 0) < OFPP.MAX ? `output:${a.port}` : formatPort(a.port);
    case 'setField': {
      const f = fieldDef(a.field);
      return `set_field:${formatFieldValue(f, a.value)}->${f.ovsName}`;
    }
    case 'pushVlan':
      return `push_vlan:0x${(a.ethertype ?? 0x8100).toString(16)}`;
    case 'popVlan':
      return 'pop_vlan';
    case 'decTtl':
      return 'dec_ttl';
    case 'group':
      return `group:${a.groupId}`;
    case 'resubmit': {
      const inPort = a.inPort === undefined || a.inPort === 0xfff8 ? undefined : a.inPort;
      if (inPort !== undefined && a.table === undefined) return `resubmit:${inPort}`;
      return `resubmit(${inPort ?? ''},${a.table ?? ''})`;
    }
    case 'ct': {
      const parts: string[] = [];
      if (a.commit) parts.push('commit');
      if (a.force) parts.push('force');
      if (a.table !== undefined) parts.push(`table=${a.table}`);
      if (typeof a.zone === 'object') parts.push(`zone=${formatSubfield(a.zone)}`);
      else if (a.zone) parts.push(`zone=${a.zone}`);
      if (a.nat) parts.push(formatNat(a.nat));
      if (a.exec && a.exec.length > 0) parts.push(`exec(${a.exec.map(formatAction).join(',')})`);
      if (a.alg === 21) parts.push('alg=ftp');
      else if (a.alg === 69) parts.push('alg=tftp');
      else if (a.alg) parts.push(`alg=${a.alg}`);
      return `ct(${parts.join(',')})`;
    }
    case 'ctClear':
      return 'ct_clear';
    case 'move':
      return `move:${formatSubfield(a.src)}->${formatSubfield({ ...a.dst, nBits: a.dst.nBits ?? subfieldWidth(a.src) })}`;
    case 'conjunction':
      return `conjunction(${a.id},${a.clause}/${a.nClauses})`;
    case 'note': {
      const data = a.data.length < 6 ? Buffer.concat([a.data, Buffer.alloc(6 - a.data.length)]) : a.data;
      const padded = Buffer.concat([data, Buffer.alloc((8 - ((data.length + 10) % 8)) % 8)]);
      return `note:${[...padded].map((x) => x.toString(16).padStart(2, '0')).join('.')}`;
    }
  }
}

function subfieldWidth(s: Subfield): number {
  return s.nBits ?? fieldDef(s.field).bytes * 8 - (s.ofs ?? 0);
}

/** The actions=... part: instructions in OVS's canonical order. */
export function formatInstructions(list: readonly Instruction[]): string {
  const order = ['meter', 'applyActions', 'clearActions', 'writeActions', 'writeMetadata', 'gotoTable'];
  const sorted = [...list].sort((x, y) => order.indexOf(x.type) - order.indexOf(y.type));
  const out: string[] = [];
  for (const i of sorted) {
    switch (i.type) {
      case 'meter':
        out.push(`meter:${i.meterId}`);
        break;
      case 'applyActions':
        out.push(...i.actions.map(formatAction));
        break;
      case 'clearActions':
        out.push('clear_actions');
        break;
      case 'writeActions':
        out.push(`write_actions(${i.actions.length ? i.actions.map(formatAction).join(',') : 'drop'})`);
        break;
      case 'writeMetadata':
        out.push(i.mask === undefined || i.mask === (1n << 64n) - 1n
          ? `write_metadata:${hashHex(i.value)}` : `write_metadata:${hashHex(i.value)}/${hashHex(i.mask)}`);
        break;
      case 'gotoTable':
        out.push(`goto_table:${i.tableId}`);
        break;
    }
  }
  return out.length ? out.join(',') : 'drop';
}

const FLAG_NAMES: readonly [number, string][] = [
  [OFPFF.SEND_FLOW_REM, 'send_flow_rem'], [OFPFF.CHECK_OVERLAP, 'check_overlap'], [OFPFF.RESET_COUNTS, 'reset_counts'],
  [OFPFF.NO_PKT_COUNTS, 'no_packet_counts'], [OFPFF.NO_BYT_COUNTS, 'no_byte_counts'],
];

/** Flow-mod flags the switch keeps with a flow (check_overlap is a flow_mod-time check only). */
export const STORED_FLAGS = OFPFF.SEND_FLOW_REM | OFPFF.RESET_COUNTS | OFPFF.NO_PKT_COUNTS | OFPFF.NO_BYT_COUNTS;

type Renderable = Pick<FlowMod, 'cookie' | 'tableId' | 'idleTimeout' | 'hardTimeout' | 'flags' | 'priority' | 'match' | 'instructions'>;

/**
 * One flow as `ovs-ofctl -O OpenFlow13 dump-flows` prints it after normalizeOfctlLine():
 * "cookie=0x1, table=3, priority=200,ip,in_port=1 actions=output:10".
 */
export function toOfctlText(fm: Renderable): string {
  let s = `cookie=0x${fm.cookie.toString(16)}, table=${fm.tableId}, `;
  if (fm.idleTimeout) s += `idle_timeout=${fm.idleTimeout}, `;
  if (fm.hardTimeout) s += `hard_timeout=${fm.hardTimeout}, `;
  for (const [bit, name] of FLAG_NAMES) if (fm.flags & bit & STORED_FLAGS) s += `${name} `;
  const match = formatMatch(fm.match, fm.priority);
  if (match) s += `${match} `;
  return `${s}actions=${formatInstructions(fm.instructions)}`;
}

/** Strips the statistics from one dump-flows line (duration, n_packets, n_bytes, idle_age, hard_age). */
export function normalizeOfctlLine(line: string): string {
  return line
    .trim()
    .replace(/(^|, )duration=[^,]*, /, '$1')
    .replace(/n_packets=\d+, /, '')
    .replace(/n_bytes=\d+, /, '')
    .replace(/idle_age=\d+, /, '')
    .replace(/hard_age=\d+, /, '');
}

/** The flow lines of `ovs-ofctl dump-flows` output, normalised (the reply header line dropped). */
export function parseDumpFlows(output: string): string[] {
  return output
    .split('\n')
    .filter((l) => /^\s*cookie=/.test(l))
    .map(normalizeOfctlLine);
}

