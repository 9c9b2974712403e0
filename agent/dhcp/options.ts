// DHCPv4 option encoding (RFC 2132, RFC 3442, RFC 3396) for the options the agent's responder
// sends. Pure: values in, bytes out.

import { ipv4ToBytes } from '../openflow/addr.ts';
import { isIpv4, parseIpv4Cidr } from '../net/ipv4.ts';

export const OPT = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS_SERVERS: 6,
  HOST_NAME: 12,
  DOMAIN_NAME: 15,
  INTERFACE_MTU: 26,
  BROADCAST_ADDRESS: 28,
  REQUESTED_ADDRESS: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_REQUEST_LIST: 55,
  MESSAGE: 56,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  CLIENT_ID: 61,
  CLASSLESS_ROUTES: 121,
  END: 255,
} as const;

export const MSG = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;

// ---------------------------------------------------------------------------------------------
// Value encoders

export const u8 = (n: number): Buffer => Buffer.from([n & 0xff]);

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff, 0);
  return b;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

export const ipv4List = (ips: readonly string[]): Buffer => Buffer.concat(ips.map((ip) => ipv4ToBytes(ip)));

/** Option 15: a domain name without the trailing dot of its FQDN form. */
export function domainNameValue(domain: string): string {
  return domain.replace(/\.+$/, '');
}

/** Option 12 in Neutron's style: 10.0.0.5 → 'host-10-0-0-5'. */
export function neutronHostName(ip: string): string {
  return `host-${ip.replaceAll('.', '-')}`;
}

export interface Route {
  destination: string; // CIDR
  nexthop: string;
}

/**
 * Option 121 (RFC 3442): for each route, the prefix length, the significant octets of the
 * destination (ceil(prefix/8) of them), then the router's four octets.
 */
export function classlessRoutesValue(routes: readonly Route[]): Buffer {
  const parts: Buffer[] = [];
  for (const r of routes) {
    const dest = parseIpv4Cidr(r.destination);
    const significant = Math.ceil(dest.prefix / 8);
    parts.push(u8(dest.prefix), u32(dest.network).subarray(0, significant), ipv4ToBytes(r.nexthop));
  }
  return Buffer.concat(parts);
}

/**
 * One option, code + length + value. A value longer than 255 bytes is split into several
 * consecutive instances of the same option, which the client concatenates (RFC 3396).
 */
export function encodeOption(code: number, value: Buffer): Buffer {
  if (value.length <= 255) return Buffer.concat([Buffer.from([code, value.length]), value]);
  const parts: Buffer[] = [];
  for (let off = 0; off < value.length; off += 255) {
    const chunk = value.subarray(off, off + 255);
    parts.push(Buffer.from([code, chunk.length]), chunk);
  }
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// The options of one reply

export interface ReplyOptionValues {
  messageType: number;
  serverId: string;
  /** Lease time (51), with T1 (58) = lease/2 and T2 (59) = lease*7/8. Absent for INFORM and NAK. */
  leaseSeconds?: number;
  subnetMask?: string;
  routers?: readonly string[];
  dnsServers?: readonly string[];
  domainName?: string;
  hostName?: string;
  mtu?: number;
  broadcastAddress?: string;
  classlessRoutes?: readonly Route[];
  /** Option 56, for a NAK. */
  message?: string;
}

/** The encoded [code, value] pairs of a reply, in code order (53 and 54 first). */
export function replyOptionList(v: ReplyOptionValues): Array<[number, Buffer]> {
  const list: Array<[number, Buffer]> = [
    [OPT.MESSAGE_TYPE, u8(v.messageType)],
    [OPT.SERVER_ID, ipv4ToBytes(v.serverId)],
  ];
  const add = (code: number, value: Buffer | undefined) => {
    if (value !== undefined && value.length > 0) list.push([code, value]);
  };
  const text = (s: string | undefined) => (s === undefined || s === '' ? undefined : Buffer.from(s, 'utf8'));
  add(OPT.SUBNET_MASK, v.subnetMask === undefined ? undefined : ipv4ToBytes(v.subnetMask));
  add(OPT.ROUTER, v.routers?.length ? ipv4List(v.routers) : undefined);
  add(OPT.DNS_SERVERS, v.dnsServers?.length ? ipv4List(v.dnsServers) : undefined);
  add(OPT.HOST_NAME, text(v.hostName));
  add(OPT.DOMAIN_NAME, text(v.domainName === undefined ? undefined : domainNameValue(v.domainName)));
  // RFC 2132 §5.1: the MTU option's minimum legal value is 68.
  add(OPT.INTERFACE_MTU, v.mtu !== undefined && v.mtu >= 68 && v.mtu <= 0xffff ? u16(v.mtu) : undefined);
  add(OPT.BROADCAST_ADDRESS, v.broadcastAddress === undefined ? undefined : ipv4ToBytes(v.broadcastAddress));
  if (v.leaseSeconds !== undefined) {
    const lease = Math.max(0, Math.min(0xffffffff, Math.floor(v.leaseSeconds)));
    add(OPT.LEASE_TIME, u32(lease));
    add(OPT.RENEWAL_TIME, u32(Math.floor(lease / 2)));
    add(OPT.REBINDING_TIME, u32(Math.floor((lease * 7) / 8)));
  }
  add(OPT.MESSAGE, text(v.message));
  add(OPT.CLASSLESS_ROUTES, v.classlessRoutes?.length ? classlessRoutesValue(v.classlessRoutes) : undefined);
  return list;
}

/**
 * The options field of a reply: 53 and 54 first, then the options the client asked for in
 * its parameter request list (55) in its order, then the rest in code order; END last.
 */
export function encodeReplyOptions(v: ReplyOptionValues, parameterRequestList?: Buffer): Buffer {
  const list = replyOptionList(v);
  const head = list.slice(0, 2);
  const rest = list.slice(2);
  const wanted = parameterRequestList ? [...parameterRequestList] : [];
  const rank = (code: number) => {
    const i = wanted.indexOf(code);
    return i < 0 ? 256 + code : i;
  };
  rest.sort((a, b) => rank(a[0]) - rank(b[0]));
  return Buffer.concat([...[...head, ...rest].map(([code, value]) => encodeOption(code, value)), u8(OPT.END)]);
}
