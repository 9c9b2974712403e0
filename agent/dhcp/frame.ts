// DHCPv4 on the wire: parsing a client's Ethernet frame (Ethernet II, optional 802.1Q tags,
// IPv4, UDP, BOOTP/DHCP per RFC 2131/2132) and building a server's reply frame. No I/O.

import { bytesToIpv4, bytesToMac, ipv4ToBytes, macToBytes } from '../openflow/addr.ts';
import { OPT } from './options.ts';

export const ETH_TYPE_IPV4 = 0x0800;
const ETH_TYPE_VLAN = 0x8100;
const ETH_TYPE_QINQ = 0x88a8;
const IP_PROTO_UDP = 17;
export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
const BOOTREQUEST = 1;
const BOOTREPLY = 2;
export const DHCP_MAGIC_COOKIE = 0x63825363;
const BOOTP_FIXED = 236; // op .. file, before the magic cookie
const BOOTP_MIN = 300; // RFC 1542 §3.4 minimum BOOTP message size
export const BROADCAST_FLAG = 0x8000;
export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';
export const BROADCAST_IP = '255.255.255.255';
export const ZERO_IP = '0.0.0.0';

export interface DhcpMessage {
  ethSrc: string;
  ethDst: string;
  /** VLAN IDs of the 802.1Q/802.1ad tags skipped, outermost first. */
  vlans: number[];
  ipSrc: string;
  ipDst: string;
  udpSrc: number;
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  broadcast: boolean;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** The client hardware address as a MAC (the first hlen = 6 octets of chaddr). */
  chaddr: string;
  /** All 16 octets of chaddr, echoed in replies. */
  chaddrRaw: Buffer;
  /** Option 53. */
  messageType: number;
  /** Options by code; repeated instances are concatenated (RFC 3396). */
  options: Map<number, Buffer>;
}

/** The 16-bit one's complement of the one's complement sum (RFC 1071) of the given buffers. */
export function internetChecksum(...parts: Buffer[]): number {
  let sum = 0;
  let odd: number | undefined;
  for (const part of parts) {
    for (let i = 0; i < part.length; i++) {
      if (odd === undefined) odd = part[i];
      else {
        sum += (odd << 8) | part[i];
        odd = undefined;
      }
    }
  }
  if (odd !== undefined) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function udpPseudoHeader(src: Buffer, dst: Buffer, udpLength: number): Buffer {
  const h = Buffer.alloc(12);
  src.copy(h, 0);
  dst.copy(h, 4);
  h[9] = IP_PROTO_UDP;
  h.writeUInt16BE(udpLength, 10);
  return h;
}

/** Options field parser: pad and end handled, truncated options make the whole message invalid. */
function parseOptions(buf: Buffer): Map<number, Buffer> | undefined {
  const options = new Map<number, Buffer>();
  let i = 0;
  while (i < buf.length) {
    const code = buf[i];
    if (code === OPT.END) return options;
    if (code === OPT.PAD) {
      i++;
      continue;
    }
    if (i + 1 >= buf.length) return undefined;
    const len = buf[i + 1];
    if (i + 2 + len > buf.length) return undefined;
    const value = buf.subarray(i + 2, i + 2 + len);
    const prev = options.get(code);
    options.set(code, prev === undefined ? Buffer.from(value) : Buffer.concat([prev, value]));
    i += 2 + len;
  }
  // No END option: tolerated when the options run exactly to the end of the message.
  return options;
}

const CLIENT_MESSAGE_TYPES = new Set([1, 3, 4, 7, 8]); // DISCOVER, REQUEST, DECLINE, RELEASE, INFORM

/**
 * Parses a frame as a DHCP client message to UDP port 67. Returns undefined for anything else,
 * including malformed or truncated packets, IP fragments, bad IPv4 header checksums, BOOTP
 * messages without a DHCP message type, and server messages.
 */
export function parseDhcpFrame(frame: Buffer): DhcpMessage | undefined {
  if (frame.length < 14) return undefined;
  const ethDst = bytesToMac(frame.subarray(0, 6));
  const ethSrc = bytesToMac(frame.subarray(6, 12));
  let off = 12;
  let ethType = frame.readUInt16BE(off);
  const vlans: number[] = [];
  while (ethType === ETH_TYPE_VLAN || ethType === ETH_TYPE_QINQ) {
    if (vlans.length >= 2 || frame.length < off + 6) return undefined;
    vlans.push(frame.readUInt16BE(off + 2) & 0x0fff);
    off += 4;
    ethType = frame.readUInt16BE(off);
  }
  off += 2;
  if (ethType !== ETH_TYPE_IPV4) return undefined;

  // IPv4
  if (frame.length < off + 20) return undefined;
  const vihl = frame[off];
  if (vihl >> 4 !== 4) return undefined;
  const ihl = (vihl & 0x0f) * 4;
  if (ihl < 20 || frame.length < off + ihl) return undefined;
  const totalLength = frame.readUInt16BE(off + 2);
  if (totalLength < ihl + 8 || frame.length < off + totalLength) return undefined; // trailing Ethernet padding is fine
  const fragment = frame.readUInt16BE(off + 6);
  if ((fragment & 0x3fff) !== 0) return undefined; // MF set or nonzero offset
  if (frame[off + 9] !== IP_PROTO_UDP) return undefined;
  if (internetChecksum(frame.subarray(off, off + ihl)) !== 0) return undefined;
  const ipSrc = bytesToIpv4(frame.subarray(off + 12, off + 16));
  const ipDst = bytesToIpv4(frame.subarray(off + 16, off + 20));
  const ipEnd = off + totalLength;
  off += ihl;

  // UDP (its checksum is not verified: a guest with checksum offload may hand us a partial one)
  const udpSrc = frame.readUInt16BE(off);
  const udpDst = frame.readUInt16BE(off + 2);
  const udpLength = frame.readUInt16BE(off + 4);
  if (udpDst !== DHCP_SERVER_PORT) return undefined;
  if (udpLength < 8 || off + udpLength > ipEnd) return undefined;
  const bootp = frame.subarray(off + 8, off + udpLength);

  // BOOTP + DHCP
  if (bootp.length < BOOTP_FIXED + 4) return undefined;
  const op = bootp[0];
  const htype = bootp[1];
  const hlen = bootp[2];
  if (op !== BOOTREQUEST || htype !== 1 || hlen !== 6) return undefined;
  if (bootp.readUInt32BE(BOOTP_FIXED) !== DHCP_MAGIC_COOKIE) return undefined;
  const options = parseOptions(bootp.subarray(BOOTP_FIXED + 4));
  if (options === undefined) return undefined;
  const type = options.get(OPT.MESSAGE_TYPE);
  if (type === undefined || type.length !== 1 || !CLIENT_MESSAGE_TYPES.has(type[0])) return undefined;
  const flags = bootp.readUInt16BE(10);
  return {
    ethSrc,
    ethDst,
    vlans,
    ipSrc,
    ipDst,
    udpSrc,
    op,
    htype,
    hlen,
    hops: bootp[3],
    xid: bootp.readUInt32BE(4),
    secs: bootp.readUInt16BE(8),
    flags,
    broadcast: (flags & BROADCAST_FLAG) !== 0,
    ciaddr: bytesToIpv4(bootp.subarray(12, 16)),
    yiaddr: bytesToIpv4(bootp.subarray(16, 20)),
    siaddr: bytesToIpv4(bootp.subarray(20, 24)),
    giaddr: bytesToIpv4(bootp.subarray(24, 28)),
    chaddr: bytesToMac(bootp.subarray(28, 34)),
    chaddrRaw: Buffer.from(bootp.subarray(28, 44)),
    messageType: type[0],
    options,
  };
}

export interface ReplySpec {
  /** The client message being answered: xid, flags, giaddr and chaddr are echoed. */
  request: DhcpMessage;
  serverMac: string;
  serverIp: string;
  ethDst: string;
  ipDst: string;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  /** The encoded options field, ending with END. */
  options: Buffer;
}

/** Builds an untagged Ethernet/IPv4/UDP(67→68) frame carrying a BOOTREPLY. */
export function buildDhcpReplyFrame(s: ReplySpec): Buffer {
  const bootpLength = Math.max(BOOTP_MIN, BOOTP_FIXED + 4 + s.options.length);
  const bootp = Buffer.alloc(bootpLength); // zeros: hops, secs, sname, file, padding
  bootp[0] = BOOTREPLY;
  bootp[1] = 1;
  bootp[2] = 6;
  bootp.writeUInt32BE(s.request.xid, 4);
  bootp.writeUInt16BE(s.request.flags, 10);
  ipv4ToBytes(s.ciaddr).copy(bootp, 12);
  ipv4ToBytes(s.yiaddr).copy(bootp, 16);
  ipv4ToBytes(s.siaddr).copy(bootp, 20);
  ipv4ToBytes(s.request.giaddr).copy(bootp, 24);
  s.request.chaddrRaw.copy(bootp, 28, 0, 16);
  bootp.writeUInt32BE(DHCP_MAGIC_COOKIE, BOOTP_FIXED);
  s.options.copy(bootp, BOOTP_FIXED + 4);

  const src = ipv4ToBytes(s.serverIp);
  const dst = ipv4ToBytes(s.ipDst);
  const udpLength = 8 + bootp.length;
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(DHCP_SERVER_PORT, 0);
  udp.writeUInt16BE(DHCP_CLIENT_PORT, 2);
  udp.writeUInt16BE(udpLength, 4);
  const udpSum = internetChecksum(udpPseudoHeader(src, dst, udpLength), udp, bootp);
  udp.writeUInt16BE(udpSum === 0 ? 0xffff : udpSum, 6); // RFC 768: a computed zero is sent as all ones

  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + udpLength, 2);
  ip[8] = 64;
  ip[9] = IP_PROTO_UDP;
  src.copy(ip, 12);
  dst.copy(ip, 16);
  ip.writeUInt16BE(internetChecksum(ip), 10);

  const eth = Buffer.alloc(14);
  macToBytes(s.ethDst).copy(eth, 0);
  macToBytes(s.serverMac).copy(eth, 6);
  eth.writeUInt16BE(ETH_TYPE_IPV4, 12);
  return Buffer.concat([eth, ip, udp, bootp]);
}
