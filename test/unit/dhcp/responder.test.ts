import { describe, expect, it } from 'vitest';
import { respondDhcp, type DhcpContext, type DhcpVerdict } from '../../../agent/dhcp/responder.ts';
import type { NetworkView, PortView, SubnetView } from '../../../schemas/agent/view.ts';
import { clientFrame, decodeReply, ip, type ClientFrameSpec, type DecodedReply } from '../../helpers/dhcp-client.ts';

const VM_MAC = 'fa:16:3e:12:34:56';
const SERVER_MAC = 'fa:16:3e:ff:00:01';

const network: NetworkView = {
  id: 'net1', project_id: 'p', admin_state_up: true, mtu: 1450,
  'provider:network_type': 'vxlan', 'provider:physical_network': null, 'provider:segmentation_id': 7, 'router:external': false,
};
const subnet4: SubnetView = {
  id: 'sub4', network_id: 'net1', ip_version: 4, cidr: '10.0.0.0/24', gateway_ip: '10.0.0.1', enable_dhcp: true,
  dns_nameservers: ['8.8.8.8', '2001:4860:4860::8888', '1.1.1.1'], host_routes: [],
};
const subnet6: SubnetView = {
  id: 'sub6', network_id: 'net1', ip_version: 6, cidr: 'fd00::/64', gateway_ip: 'fd00::1', enable_dhcp: true,
  dns_nameservers: [], host_routes: [],
};
const port: PortView = {
  id: 'port1', network_id: 'net1', admin_state_up: true, mac_address: VM_MAC,
  fixed_ips: [{ subnet_id: 'sub6', ip_address: 'fd00::5' }, { subnet_id: 'sub4', ip_address: '10.0.0.5' }],
  allowed_address_pairs: [], port_security_enabled: true, security_groups: [], device_owner: 'compute:nova',
  device_id: 'vm1', 'binding:host_id': 'h1',
};

function ctx(over: { subnet?: Partial<SubnetView>; port?: Partial<PortView>; network?: Partial<NetworkView> } = {}): DhcpContext {
  return {
    port: { ...port, ...over.port },
    network: { ...network, ...over.network },
    subnets: [subnet6, { ...subnet4, ...over.subnet }],
    serverMac: SERVER_MAC,
    leaseSeconds: 86400,
    domain: 'openstacklocal.',
  };
}

function answered(v: DhcpVerdict): { kind: string; address?: string; r: DecodedReply } {
  if ('ignored' in v) throw new Error(`ignored: ${v.ignored}`);
  return { kind: v.kind, address: v.address, r: decodeReply(v.reply) };
}

const send = (spec: Omit<ClientFrameSpec, 'mac'> & { mac?: string }, c = ctx()) => respondDhcp(clientFrame({ mac: VM_MAC, ...spec }), c);
const u32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const str = (s: string) => [...Buffer.from(s)];

function expectWellFormed(r: DecodedReply) {
  expect(r.ethSrc).toBe(SERVER_MAC);
  expect(r.ethType).toBe(0x0800);
  expect(r.ipVersion).toBe(4);
  expect(r.ihl).toBe(5);
  expect(r.ttl).toBe(64);
  expect(r.proto).toBe(17);
  expect(r.ipChecksumOk).toBe(true);
  expect(r.udpSrc).toBe(67);
  expect(r.udpDst).toBe(68);
  expect(r.udpChecksum).not.toBe(0);
  expect(r.udpChecksumOk).toBe(true);
  expect(r.ipTotalLength).toBe(20 + r.udpLength);
  expect(r.bootp.length).toBeGreaterThanOrEqual(300);
  expect(r.op).toBe(2);
  expect(r.cookie).toBe(0x63825363);
  expect(r.chaddr).toBe(VM_MAC);
  expect(r.endSeen).toBe(true);
  // sname and file are zero
  expect(r.bootp.subarray(44, 236).every((b) => b === 0)).toBe(true);
}

describe('DISCOVER → OFFER', () => {
  it('offers the port IP with every option, unicast to the offered address', () => {
    const { kind, address, r } = answered(send({ type: 'discover', xid: 0xdeadbeef }));
    expect(kind).toBe('offer');
    expect(address).toBe('10.0.0.5');
    expectWellFormed(r);
    expect(r.ethDst).toBe(VM_MAC);
    expect(r.ipSrc).toBe('10.0.0.1');
    expect(r.ipDst).toBe('10.0.0.5');
    expect(r.xid).toBe(0xdeadbeef);
    expect(r.flags).toBe(0);
    expect(r.ciaddr).toBe('0.0.0.0');
    expect(r.yiaddr).toBe('10.0.0.5');
    expect(r.siaddr).toBe('10.0.0.1');
    expect(r.giaddr).toBe('0.0.0.0');
    expect(r.optionList[0]).toEqual([53, [2]]);
    expect(r.optionList[1]).toEqual([54, ip('10.0.0.1')]);
    expect(Object.fromEntries(r.options)).toEqual({
      53: [2],
      54: [10, 0, 0, 1],
      1: [255, 255, 255, 0],
      3: [10, 0, 0, 1],
      6: [8, 8, 8, 8, 1, 1, 1, 1],
      12: str('host-10-0-0-5'),
      15: str('openstacklocal'),
      26: [0x05, 0xaa],
      28: [10, 0, 0, 255],
      51: u32(86400),
      58: u32(43200),
      59: u32(75600),
    });
  });

  it('honours the broadcast flag', () => {
    const { r } = answered(send({ type: 'discover', broadcast: true }));
    expect(r.ethDst).toBe('ff:ff:ff:ff:ff:ff');
    expect(r.ipDst).toBe('255.255.255.255');
    expect(r.flags).toBe(0x8000);
    expect(r.udpChecksumOk).toBe(true);
  });

  it('orders options after 53/54 by the parameter request list', () => {
    const { r } = answered(send({ type: 'discover', paramRequest: [3, 1, 6, 26] }));
    expect(r.optionList.slice(0, 6).map(([c]) => c)).toEqual([53, 54, 3, 1, 6, 26]);
  });

  it('answers a VLAN-tagged frame', () => {
    const { kind, r } = answered(send({ type: 'discover', vlan: 100 }));
    expect(kind).toBe('offer');
    expect(r.ethType).toBe(0x0800);
    expect(r.yiaddr).toBe('10.0.0.5');
  });

  it('without a gateway: server id is the first host address, no router, no 121 default', () => {
    const c = ctx({ subnet: { gateway_ip: null, host_routes: [{ destination: '192.168.0.0/16', nexthop: '10.0.0.254' }] } });
    const { r } = answered(send({ type: 'discover' }, c));
    expect(r.ipSrc).toBe('10.0.0.1');
    expect(r.siaddr).toBe('10.0.0.1');
    expect(r.options.get(54)).toEqual(ip('10.0.0.1'));
    expect(r.options.has(3)).toBe(false);
    expect(r.options.get(121)).toEqual([16, 192, 168, 10, 0, 0, 254]);
    const c2 = ctx({ subnet: { cidr: '172.16.4.0/22', gateway_ip: null } });
    const r2 = answered(respondDhcp(clientFrame({ mac: VM_MAC, type: 'discover' }), {
      ...c2, port: { ...c2.port, fixed_ips: [{ subnet_id: 'sub4', ip_address: '172.16.5.9' }] },
    })).r;
    expect(r2.ipSrc).toBe('172.16.4.1');
    expect(r2.options.get(1)).toEqual([255, 255, 252, 0]);
    expect(r2.options.get(28)).toEqual([172, 16, 7, 255]);
    expect(r2.options.get(12)).toEqual(str('host-172-16-5-9'));
  });

  it('sends host routes as option 121 with the default route via the gateway (RFC 3442 examples)', () => {
    const c = ctx({ subnet: { host_routes: [
      { destination: '10.0.0.0/8', nexthop: '10.0.0.1' },
      { destination: '10.17.0.0/16', nexthop: '10.0.0.1' },
      { destination: '10.27.129.0/24', nexthop: '10.0.0.1' },
      { destination: '10.229.0.128/25', nexthop: '10.0.0.1' },
      { destination: '10.198.122.47/32', nexthop: '10.0.0.1' },
      { destination: 'fd00:1::/64', nexthop: 'fd00::1' },
    ] } });
    const { r } = answered(send({ type: 'discover' }, c));
    expect(r.options.get(121)).toEqual([
      0x08, 0x0a, 10, 0, 0, 1,
      0x10, 0x0a, 0x11, 10, 0, 0, 1,
      0x18, 0x0a, 0x1b, 0x81, 10, 0, 0, 1,
      0x19, 0x0a, 0xe5, 0x00, 0x80, 10, 0, 0, 1,
      0x20, 0x0a, 0xc6, 0x7a, 0x2f, 10, 0, 0, 1,
      0x00, 10, 0, 0, 1,
    ]);
    expect(r.options.get(3)).toEqual(ip('10.0.0.1'));
  });

  it('does not duplicate a default route already in host_routes, and sends no 121 without host routes', () => {
    const c = ctx({ subnet: { host_routes: [{ destination: '0.0.0.0/0', nexthop: '10.0.0.254' }] } });
    expect(answered(send({ type: 'discover' }, c)).r.options.get(121)).toEqual([0, 10, 0, 0, 254]);
    expect(answered(send({ type: 'discover' })).r.options.has(121)).toBe(false);
  });

  it('leaves out empty values: no DNS, no domain, no MTU below 68', () => {
    const c = { ...ctx({ subnet: { dns_nameservers: ['2001:db8::53'] }, network: { mtu: 0 } }), domain: '' };
    const { r } = answered(send({ type: 'discover' }, c));
    expect(r.options.has(6)).toBe(false);
    expect(r.options.has(15)).toBe(false);
    expect(r.options.has(26)).toBe(false);
  });
});

describe('REQUEST', () => {
  it('ACKs a SELECTING request for our address and server id', () => {
    const { kind, address, r } = answered(send({ type: 'request', requested: '10.0.0.5', serverId: '10.0.0.1', xid: 42 }));
    expect(kind).toBe('ack');
    expect(address).toBe('10.0.0.5');
    expectWellFormed(r);
    expect(r.xid).toBe(42);
    expect(r.yiaddr).toBe('10.0.0.5');
    expect(r.ipDst).toBe('10.0.0.5');
    expect(r.ethDst).toBe(VM_MAC);
    expect(r.options.get(53)).toEqual([5]);
    expect(r.options.get(51)).toEqual(u32(86400));
  });

  it('ACKs INIT-REBOOT (option 50, no server id) and RENEWING (ciaddr)', () => {
    expect(answered(send({ type: 'request', requested: '10.0.0.5' })).kind).toBe('ack');
    const { kind, r } = answered(send({ type: 'request', ciaddr: '10.0.0.5', ipSrc: '10.0.0.5', ipDst: '10.0.0.1' }));
    expect(kind).toBe('ack');
    expect(r.ciaddr).toBe('10.0.0.5');
    expect(r.yiaddr).toBe('10.0.0.5');
    expect(r.ipDst).toBe('10.0.0.5');
  });

  it('NAKs a request for another address, broadcast, with only 53, 54 and 56', () => {
    for (const spec of [{ requested: '10.0.0.6' }, { requested: '10.0.0.6', serverId: '10.0.0.1' }, { ciaddr: '10.0.0.7' }]) {
      const { kind, address, r } = answered(send({ type: 'request', ...spec }));
      expect(kind).toBe('nak');
      expect(address).toBeUndefined();
      expectWellFormed(r);
      expect(r.ethDst).toBe('ff:ff:ff:ff:ff:ff');
      expect(r.ipDst).toBe('255.255.255.255');
      expect(r.ipSrc).toBe('10.0.0.1');
      expect(r.yiaddr).toBe('0.0.0.0');
      expect(r.ciaddr).toBe('0.0.0.0');
      expect(r.siaddr).toBe('0.0.0.0');
      expect(r.optionList.map(([c]) => c)).toEqual([53, 54, 56]);
      expect(r.options.get(53)).toEqual([6]);
    }
  });

  it('ignores a request to another server', () => {
    const v = send({ type: 'request', requested: '10.0.0.5', serverId: '10.0.0.2' });
    expect(v).toEqual({ ignored: expect.stringContaining('10.0.0.2') });
  });

  it('ignores a request naming no address', () => {
    expect('ignored' in send({ type: 'request' })).toBe(true);
  });
});

describe('INFORM, RELEASE, DECLINE', () => {
  it('ACKs INFORM without yiaddr or lease times, unicast to ciaddr', () => {
    const { kind, address, r } = answered(send({ type: 'inform', ciaddr: '10.0.0.5', ipSrc: '10.0.0.5' }));
    expect(kind).toBe('ack');
    expect(address).toBeUndefined();
    expectWellFormed(r);
    expect(r.yiaddr).toBe('0.0.0.0');
    expect(r.ciaddr).toBe('10.0.0.5');
    expect(r.ipDst).toBe('10.0.0.5');
    expect(r.ethDst).toBe(VM_MAC);
    expect(r.options.get(53)).toEqual([5]);
    for (const code of [51, 58, 59]) expect(r.options.has(code)).toBe(false);
    expect(r.options.get(1)).toEqual([255, 255, 255, 0]);
    expect(r.options.get(3)).toEqual([10, 0, 0, 1]);
  });

  it('ignores RELEASE and DECLINE', () => {
    expect('ignored' in send({ type: 'release', ciaddr: '10.0.0.5', serverId: '10.0.0.1' })).toBe(true);
    expect('ignored' in send({ type: 'decline', requested: '10.0.0.5', serverId: '10.0.0.1' })).toBe(true);
  });
});

describe('who is answered', () => {
  it('ignores a foreign chaddr or Ethernet source', () => {
    expect('ignored' in send({ type: 'discover', mac: 'fa:16:3e:00:00:99' })).toBe(true);
    expect('ignored' in send({ type: 'discover', ethSrc: 'fa:16:3e:00:00:99' })).toBe(true);
  });

  it('compares MACs case-insensitively', () => {
    expect(answered(send({ type: 'discover' }, ctx({ port: { mac_address: VM_MAC.toUpperCase() } }))).kind).toBe('offer');
  });

  it('ignores a subnet with enable_dhcp=false', () => {
    expect(send({ type: 'discover' }, ctx({ subnet: { enable_dhcp: false } }))).toEqual({ ignored: expect.stringContaining('disabled') });
  });

  it('ignores a port without an IPv4 address', () => {
    const v = send({ type: 'discover' }, ctx({ port: { fixed_ips: [{ subnet_id: 'sub6', ip_address: 'fd00::5' }] } }));
    expect(v).toEqual({ ignored: expect.stringContaining('no IPv4') });
    expect('ignored' in send({ type: 'discover' }, ctx({ port: { fixed_ips: [] } }))).toBe(true);
    // a fixed IP whose subnet is not among the network's subnets
    expect('ignored' in send({ type: 'discover' }, ctx({ port: { fixed_ips: [{ subnet_id: 'gone', ip_address: '10.0.0.5' }] } }))).toBe(true);
  });

  it('ignores non-DHCP frames and server messages', () => {
    expect(respondDhcp(Buffer.alloc(0), ctx())).toEqual({ ignored: 'not a DHCP client message' });
    expect('ignored' in send({ type: 2 })).toBe(true); // an OFFER from a rogue server on the VM
    expect('ignored' in send({ type: 5 })).toBe(true);
  });

  it('does not throw on a malformed subnet configuration', () => {
    expect('ignored' in send({ type: 'discover' }, ctx({ subnet: { cidr: 'nonsense' } }))).toBe(true);
  });
});
