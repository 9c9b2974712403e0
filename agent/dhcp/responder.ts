// The agent's DHCPv4 server for one port, as a pure function: the client's frame in, the
// reply frame (or why there is none) out. Leases are static: a port's address is its IPv4
// fixed IP, so there is no lease state, and RELEASE and DECLINE need no answer.

import type { NetworkView, PortView, SubnetView } from '../../schemas/agent/view.ts';
import {
  BROADCAST_IP,
  BROADCAST_MAC,
  ZERO_IP,
  buildDhcpReplyFrame,
  parseDhcpFrame,
  type DhcpMessage,
} from './frame.ts';
import {
  MSG,
  OPT,
  encodeReplyOptions,
  neutronHostName,
  type ReplyOptionValues,
  type Route,
} from './options.ts';
import { cidrBroadcast, cidrMask, intToIpv4, isIpv4, isIpv4Cidr, parseIpv4Cidr } from '../net/ipv4.ts';
import { bytesToIpv4 } from '../openflow/addr.ts';

export interface DhcpContext {
  port: PortView; // the port the frame came from (its MAC and fixed_ips)
  network: NetworkView; // for mtu
  subnets: readonly SubnetView[]; // the subnets of the port's network
  serverMac: string; // the MAC our replies come from
  leaseSeconds: number;
  domain: string; // e.g. 'openstacklocal.'
}

export type DhcpVerdict =
  | { reply: Buffer; kind: 'offer' | 'ack' | 'nak'; address?: string }
  | { ignored: string };

/** The address the DHCP server speaks from: the gateway, or the subnet's first host address. */
export function dhcpServerIp(subnet: SubnetView): string {
  if (subnet.gateway_ip && isIpv4(subnet.gateway_ip)) return subnet.gateway_ip;
  return intToIpv4(parseIpv4Cidr(subnet.cidr).network + 1);
}

/** The port's first IPv4 fixed IP on a subnet with DHCP enabled, or why there is none. */
function servedAddress(ctx: DhcpContext): { ip: string; subnet: SubnetView } | { ignored: string } {
  const v4 = ctx.port.fixed_ips
    .map((f) => ({ ip: f.ip_address, subnet: ctx.subnets.find((s) => s.id === f.subnet_id) }))
    .filter((f): f is { ip: string; subnet: SubnetView } => f.subnet?.ip_version === 4 && isIpv4(f.ip));
  if (v4.length === 0) return { ignored: 'port has no IPv4 address' };
  const served = v4.find((f) => f.subnet.enable_dhcp);
  return served ?? { ignored: 'DHCP is disabled on the subnet of the port\'s IPv4 address' };
}

const sameMac = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

function configOptions(ctx: DhcpContext, subnet: SubnetView, ip: string): Omit<ReplyOptionValues, 'messageType' | 'serverId'> {
  const cidr = parseIpv4Cidr(subnet.cidr);
  const gateway = subnet.gateway_ip && isIpv4(subnet.gateway_ip) ? subnet.gateway_ip : undefined;
  const hostRoutes: Route[] = subnet.host_routes.filter((r) => isIpv4Cidr(r.destination) && isIpv4(r.nexthop));
  // Clients that accept option 121 ignore option 3 (RFC 3442), so it must carry the default route.
  const hasDefault = hostRoutes.some((r) => parseIpv4Cidr(r.destination).prefix === 0);
  const classless = hostRoutes.length > 0 && gateway !== undefined && !hasDefault
    ? [...hostRoutes, { destination: '0.0.0.0/0', nexthop: gateway }]
    : hostRoutes;
  return {
    subnetMask: cidrMask(cidr),
    routers: gateway !== undefined ? [gateway] : undefined,
    dnsServers: subnet.dns_nameservers.filter(isIpv4),
    domainName: ctx.domain,
    hostName: neutronHostName(ip),
    mtu: ctx.network.mtu,
    broadcastAddress: cidr.prefix <= 30 ? cidrBroadcast(cidr) : undefined,
    classlessRoutes: classless,
  };
}

/** Answers one client frame from the port described by ctx. Never throws. */
export function respondDhcp(frame: Buffer, ctx: DhcpContext): DhcpVerdict {
  const msg = parseDhcpFrame(frame);
  if (msg === undefined) return { ignored: 'not a DHCP client message' };
  try {
    return respond(msg, ctx);
  } catch (e) {
    // Only the port's own configuration (a malformed cidr or address) can get here.
    return { ignored: `cannot answer: ${(e as Error).message}` };
  }
}

function respond(msg: DhcpMessage, ctx: DhcpContext): DhcpVerdict {
  const mac = ctx.port.mac_address;
  if (!sameMac(msg.chaddr, mac)) return { ignored: `chaddr ${msg.chaddr} is not the port's MAC ${mac}` };
  if (!sameMac(msg.ethSrc, mac)) return { ignored: `Ethernet source ${msg.ethSrc} is not the port's MAC ${mac}` };
  const served = servedAddress(ctx);
  if ('ignored' in served) return served;
  const { ip, subnet } = served;
  const serverId = dhcpServerIp(subnet);
  const prl = msg.options.get(OPT.PARAMETER_REQUEST_LIST);
  const requestedServer = optionIp(msg, OPT.SERVER_ID);

  const reply = (kind: 'offer' | 'ack', yiaddr: string, lease: boolean): DhcpVerdict => {
    const options = encodeReplyOptions({
      messageType: kind === 'offer' ? MSG.OFFER : MSG.ACK,
      serverId,
      leaseSeconds: lease ? ctx.leaseSeconds : undefined,
      ...configOptions(ctx, subnet, ip),
    }, prl);
    // RFC 2131 §4.1: broadcast when the client asks to; INFORM is answered to ciaddr.
    const unicastTo = yiaddr !== ZERO_IP ? yiaddr : msg.ciaddr;
    const broadcast = msg.broadcast || unicastTo === ZERO_IP;
    const frame = buildDhcpReplyFrame({
      request: msg,
      serverMac: ctx.serverMac,
      serverIp: serverId,
      ethDst: broadcast ? BROADCAST_MAC : msg.chaddr,
      ipDst: broadcast ? BROADCAST_IP : unicastTo,
      ciaddr: kind === 'ack' ? msg.ciaddr : ZERO_IP,
      yiaddr,
      siaddr: serverId,
      options,
    });
    return yiaddr === ZERO_IP ? { reply: frame, kind } : { reply: frame, kind, address: yiaddr };
  };

  switch (msg.messageType) {
    case MSG.DISCOVER:
      return reply('offer', ip, true);
    case MSG.REQUEST: {
      if (requestedServer !== undefined && requestedServer !== serverId) {
        return { ignored: `REQUEST for server ${requestedServer}, not ${serverId}` };
      }
      const requested = optionIp(msg, OPT.REQUESTED_ADDRESS) ?? (msg.ciaddr !== ZERO_IP ? msg.ciaddr : undefined);
      if (requested === undefined) return { ignored: 'REQUEST names no address' };
      if (requested !== ip) return nak(msg, ctx, serverId, `address ${requested} is not available`);
      return reply('ack', ip, true);
    }
    case MSG.INFORM:
      // RFC 2131 §3.4: configuration only, no yiaddr and no lease time.
      return reply('ack', ZERO_IP, false);
    case MSG.RELEASE:
      return { ignored: 'RELEASE: leases are static' };
    case MSG.DECLINE:
      return { ignored: 'DECLINE: leases are static' };
    default:
      return { ignored: `DHCP message type ${msg.messageType} is not handled` };
  }
}

function optionIp(msg: DhcpMessage, code: number): string | undefined {
  const v = msg.options.get(code);
  return v !== undefined && v.length === 4 ? bytesToIpv4(v) : undefined;
}

/** RFC 2131 §4.3.2 / table 3: a NAK carries 53, 54 and 56 only, broadcast, without addresses. */
function nak(msg: DhcpMessage, ctx: DhcpContext, serverId: string, message: string): DhcpVerdict {
  const options = encodeReplyOptions({ messageType: MSG.NAK, serverId, message });
  const frame = buildDhcpReplyFrame({
    request: msg,
    serverMac: ctx.serverMac,
    serverIp: serverId,
    ethDst: BROADCAST_MAC,
    ipDst: BROADCAST_IP,
    ciaddr: ZERO_IP,
    yiaddr: ZERO_IP,
    siaddr: ZERO_IP,
    options,
  });
  return { reply: frame, kind: 'nak' };
}
