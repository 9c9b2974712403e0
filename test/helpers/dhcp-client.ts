// A DHCPv4 client's side, written independently of agent/dhcp: builds client frames byte by
// byte and takes reply frames apart at fixed offsets, with its own checksum arithmetic, so the
// responder is never tested against its own encoder.

export interface ClientFrameSpec {
  type: 'discover' | 'request' | 'inform' | 'release' | 'decline' | number;
  mac: string;
  xid?: number;
  broadcast?: boolean;
  ciaddr?: string;
  /** Option 50. */
  requested?: string;
  /** Option 54. */
  serverId?: string;
  /** Option 55. */
  paramRequest?: number[];
  /** 802.1Q VLAN ID to tag the frame with. */
  vlan?: number;
  /** Ethernet source, when not the chaddr. */
  ethSrc?: string;
  ipSrc?: string;
  ipDst?: string;
  extraOptions?: Array<[number, number[]]>;
}

const TYPES = { discover: 1, request: 3, decline: 4, release: 7, inform: 8 } as const;

export const mac = (m: string): number[] => m.split(':').map((x) => parseInt(x, 16));
export const ip = (a: string): number[] => a.split('.').map(Number);
const be16 = (n: number) => [(n >> 8) & 255, n & 255];
const be32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];

/** RFC 1071 checksum over a plain byte array, computed the textbook way. */
export function onesComplementSum(bytes: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i] << 8) + (i + 1 < bytes.length ? bytes[i + 1] : 0);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}
export const checksum = (bytes: ArrayLike<number>): number => ~onesComplementSum(bytes) & 0xffff;

export function clientFrame(spec: ClientFrameSpec): Buffer {
  const type = typeof spec.type === 'number' ? spec.type : TYPES[spec.type];
  const bootp: number[] = [
    1, 1, 6, 0, // op, htype, hlen, hops
    ...be32(spec.xid ?? 0x3903f326),
    0, 0, // secs
    ...be16(spec.broadcast ? 0x8000 : 0),
    ...ip(spec.ciaddr ?? '0.0.0.0'),
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // yiaddr, siaddr, giaddr
    ...mac(spec.mac), ...new Array(10).fill(0), // chaddr
    ...new Array(64 + 128).fill(0), // sname, file
    99, 130, 83, 99, // magic cookie
    53, 1, type,
  ];
  if (spec.requested) bootp.push(50, 4, ...ip(spec.requested));
  if (spec.serverId) bootp.push(54, 4, ...ip(spec.serverId));
  if (spec.paramRequest) bootp.push(55, spec.paramRequest.length, ...spec.paramRequest);
  for (const [code, value] of spec.extraOptions ?? []) bootp.push(code, value.length, ...value);
  bootp.push(255);
  while (bootp.length < 300) bootp.push(0);

  const src = ip(spec.ipSrc ?? '0.0.0.0');
  const dst = ip(spec.ipDst ?? '255.255.255.255');
  const udpLen = 8 + bootp.length;
  const udp = [...be16(68), ...be16(67), ...be16(udpLen), 0, 0, ...bootp];
  const udpSum = checksum([...src, ...dst, 0, 17, ...be16(udpLen), ...udp]);
  udp[6] = udpSum >> 8;
  udp[7] = udpSum & 255;
  const ipHdr = [0x45, 0x10, ...be16(20 + udpLen), 0, 0, 0, 0, 64, 17, 0, 0, ...src, ...dst];
  const ipSum = checksum(ipHdr);
  ipHdr[10] = ipSum >> 8;
  ipHdr[11] = ipSum & 255;
  const eth = [...mac('ff:ff:ff:ff:ff:ff'), ...mac(spec.ethSrc ?? spec.mac)];
  if (spec.vlan !== undefined) eth.push(0x81, 0x00, ...be16(spec.vlan));
  eth.push(0x08, 0x00);
  return Buffer.from([...eth, ...ipHdr, ...udp]);
}

export interface DecodedReply {
  ethDst: string;
  ethSrc: string;
  ethType: number;
  ipHeader: Buffer;
  ipVersion: number;
  ihl: number;
  ttl: number;
  proto: number;
  ipTotalLength: number;
  ipSrc: string;
  ipDst: string;
  ipChecksumOk: boolean;
  udpSrc: number;
  udpDst: number;
  udpLength: number;
  udpChecksumOk: boolean;
  udpChecksum: number;
  bootp: Buffer;
  op: number;
  xid: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  chaddr: string;
  cookie: number;
  /** Options as [code, value] in wire order (pad skipped, END excluded). */
  optionList: Array<[number, number[]]>;
  options: Map<number, number[]>;
  endSeen: boolean;
}

const hexMac = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
const dotted = (b: Buffer) => [...b].join('.');

export function decodeReply(frame: Buffer): DecodedReply {
  const ipHeader = frame.subarray(14, 34);
  const udpStart = 34;
  const udpLength = frame.readUInt16BE(udpStart + 4);
  const udpPart = frame.subarray(udpStart, udpStart + udpLength);
  const pseudo = [...ipHeader.subarray(12, 20), 0, 17, ...be16(udpLength)];
  const bootp = frame.subarray(udpStart + 8, udpStart + udpLength);
  const optionList: Array<[number, number[]]> = [];
  let i = 240;
  let endSeen = false;
  while (i < bootp.length) {
    const code = bootp[i];
    if (code === 255) {
      endSeen = true;
      break;
    }
    if (code === 0) {
      i++;
      continue;
    }
    const len = bootp[i + 1];
    optionList.push([code, [...bootp.subarray(i + 2, i + 2 + len)]]);
    i += 2 + len;
  }
  return {
    ethDst: hexMac(frame.subarray(0, 6)),
    ethSrc: hexMac(frame.subarray(6, 12)),
    ethType: frame.readUInt16BE(12),
    ipHeader,
    ipVersion: ipHeader[0] >> 4,
    ihl: ipHeader[0] & 15,
    ttl: ipHeader[8],
    proto: ipHeader[9],
    ipTotalLength: ipHeader.readUInt16BE(2),
    ipSrc: dotted(ipHeader.subarray(12, 16)),
    ipDst: dotted(ipHeader.subarray(16, 20)),
    ipChecksumOk: onesComplementSum(ipHeader) === 0xffff,
    udpSrc: frame.readUInt16BE(udpStart),
    udpDst: frame.readUInt16BE(udpStart + 2),
    udpLength,
    udpChecksum: frame.readUInt16BE(udpStart + 6),
    udpChecksumOk: onesComplementSum([...pseudo, ...udpPart]) === 0xffff,
    bootp,
    op: bootp[0],
    xid: bootp.readUInt32BE(4),
    flags: bootp.readUInt16BE(10),
    ciaddr: dotted(bootp.subarray(12, 16)),
    yiaddr: dotted(bootp.subarray(16, 20)),
    siaddr: dotted(bootp.subarray(20, 24)),
    giaddr: dotted(bootp.subarray(24, 28)),
    chaddr: hexMac(bootp.subarray(28, 34)),
    cookie: bootp.readUInt32BE(236),
    optionList,
    options: new Map(optionList),
    endSeen,
  };
}
