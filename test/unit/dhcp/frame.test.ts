import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { internetChecksum, parseDhcpFrame } from '../../../agent/dhcp/frame.ts';
import { respondDhcp, type DhcpContext } from '../../../agent/dhcp/responder.ts';
import { checksum, clientFrame } from '../../helpers/dhcp-client.ts';

const MAC = 'fa:16:3e:12:34:56';

const ctx: DhcpContext = {
  port: {
    id: 'p', network_id: 'n', admin_state_up: true, mac_address: MAC, fixed_ips: [{ subnet_id: 's', ip_address: '10.0.0.5' }],
    allowed_address_pairs: [], port_security_enabled: true, security_groups: [], device_owner: '', device_id: '', 'binding:host_id': 'h',
  },
  network: {
    id: 'n', project_id: 'p', admin_state_up: true, mtu: 1500, 'provider:network_type': 'vxlan',
    'provider:physical_network': null, 'provider:segmentation_id': 1, 'router:external': false,
  },
  subnets: [{
    id: 's', network_id: 'n', ip_version: 4, cidr: '10.0.0.0/24', gateway_ip: '10.0.0.1', enable_dhcp: true,
    dns_nameservers: ['10.0.0.53'], host_routes: [{ destination: '192.168.0.0/16', nexthop: '10.0.0.254' }],
  }],
  serverMac: 'fa:16:3e:00:00:01',
  leaseSeconds: 3600,
  domain: 'example.org.',
};

/** Rewrites the IPv4 header checksum after the test modified the header. */
function fixIpChecksum(f: Buffer, ipOff = 14): Buffer {
  f.writeUInt16BE(0, ipOff + 10);
  f.writeUInt16BE(checksum(f.subarray(ipOff, ipOff + 20)), ipOff + 10);
  return f;
}

describe('parseDhcpFrame', () => {
  it('reads every BOOTP field', () => {
    const m = parseDhcpFrame(clientFrame({
      type: 'request', mac: MAC, xid: 0x01020304, broadcast: true, ciaddr: '10.0.0.5', requested: '10.0.0.5',
      serverId: '10.0.0.1', paramRequest: [1, 3, 6], ipSrc: '10.0.0.5', ipDst: '10.0.0.1',
    }));
    expect(m).toBeDefined();
    expect(m!).toMatchObject({
      ethSrc: MAC, ethDst: 'ff:ff:ff:ff:ff:ff', vlans: [], ipSrc: '10.0.0.5', ipDst: '10.0.0.1', udpSrc: 68,
      op: 1, htype: 1, hlen: 6, hops: 0, xid: 0x01020304, secs: 0, flags: 0x8000, broadcast: true,
      ciaddr: '10.0.0.5', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr: MAC, messageType: 3,
    });
    expect([...m!.options.get(55)!]).toEqual([1, 3, 6]);
    expect([...m!.options.get(50)!]).toEqual([10, 0, 0, 5]);
    expect(m!.chaddrRaw.length).toBe(16);
  });

  it('skips one or two VLAN tags', () => {
    expect(parseDhcpFrame(clientFrame({ type: 'discover', mac: MAC, vlan: 4094 }))?.vlans).toEqual([4094]);
    const tagged = clientFrame({ type: 'discover', mac: MAC, vlan: 10 });
    const qinq = Buffer.concat([tagged.subarray(0, 12), Buffer.from([0x88, 0xa8, 0x00, 0x14]), tagged.subarray(12)]);
    expect(parseDhcpFrame(qinq)?.vlans).toEqual([20, 10]);
  });

  it('tolerates Ethernet padding after the IP packet and a missing END option', () => {
    const f = clientFrame({ type: 'discover', mac: MAC });
    expect(parseDhcpFrame(Buffer.concat([f, Buffer.alloc(20)]))).toBeDefined();
    // options = 53 only, running to the exact end of the message with no END
    const g = clientFrame({ type: 'discover', mac: MAC });
    const opts = 14 + 20 + 8 + 240;
    const cut = Buffer.from(g.subarray(0, opts + 3));
    cut.writeUInt16BE(20 + 8 + 243, 16);
    cut.writeUInt16BE(8 + 243, 38);
    expect(parseDhcpFrame(fixIpChecksum(cut))?.messageType).toBe(1);
  });

  it('concatenates repeated options (RFC 3396)', () => {
    const m = parseDhcpFrame(clientFrame({ type: 'discover', mac: MAC, extraOptions: [[12, [0x61, 0x62]], [12, [0x63]]] }));
    expect(m!.options.get(12)!.toString()).toBe('abc');
  });

  it('rejects what is not a DHCP client message to port 67', () => {
    const good = clientFrame({ type: 'discover', mac: MAC });
    const variant = (edit: (f: Buffer) => void, fixSum = true) => {
      const f = Buffer.from(good);
      edit(f);
      return parseDhcpFrame(fixSum ? fixIpChecksum(f) : f);
    };
    expect(variant(() => {})).toBeDefined();
    expect(variant((f) => f.writeUInt16BE(0x86dd, 12), false)).toBeUndefined(); // not IPv4
    expect(variant((f) => { f[14] = 0x65; })).toBeUndefined(); // IP version 6
    expect(variant((f) => { f[14] = 0x44; })).toBeUndefined(); // IHL 4
    expect(variant((f) => { f[23] = 6; })).toBeUndefined(); // TCP
    expect(variant((f) => f.writeUInt16BE(0x2000, 20))).toBeUndefined(); // more fragments
    expect(variant((f) => f.writeUInt16BE(0x0001, 20))).toBeUndefined(); // fragment offset
    expect(variant((f) => { f[24] ^= 0xff; }, false)).toBeUndefined(); // bad IP checksum
    expect(variant((f) => f.writeUInt16BE(68, 36))).toBeUndefined(); // to port 68
    expect(variant((f) => f.writeUInt16BE(f.readUInt16BE(38) + 1, 38))).toBeUndefined(); // UDP longer than IP
    expect(variant((f) => { f[42] = 2; })).toBeUndefined(); // BOOTREPLY
    expect(variant((f) => { f[43] = 6; })).toBeUndefined(); // htype token ring
    expect(variant((f) => { f[44] = 16; })).toBeUndefined(); // hlen 16
    expect(variant((f) => { f[42 + 236] = 0; })).toBeUndefined(); // magic cookie
    expect(variant((f) => { f[42 + 240] = 12; })).toBeUndefined(); // option 53 turned into 12: no message type
  });

  it('rejects plain BOOTP (no option 53) and truncated options', () => {
    expect(parseDhcpFrame(clientFrame({ type: 'discover', mac: MAC, extraOptions: [[53, [1, 2]]] }))).toBeUndefined();
    const f = clientFrame({ type: 'discover', mac: MAC });
    const noType = Buffer.from(f);
    noType[42 + 240] = 0; noType[42 + 241] = 0; noType[42 + 242] = 0; // 53 1 1 → pads
    expect(parseDhcpFrame(noType)).toBeUndefined();
    const trunc = Buffer.from(f);
    trunc[42 + 243] = 12; trunc[42 + 244] = 200; // an option running past the message end
    expect(parseDhcpFrame(trunc)).toBeUndefined();
  });

  it('rejects every truncation of a valid frame', () => {
    const f = clientFrame({ type: 'request', mac: MAC, requested: '10.0.0.5', serverId: '10.0.0.1' });
    for (let n = 0; n < f.length; n++) expect(parseDhcpFrame(f.subarray(0, n))).toBeUndefined();
  });
});

describe('internetChecksum', () => {
  it('matches the RFC 1071 example and handles odd lengths across buffers', () => {
    // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2
    expect(internetChecksum(Buffer.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]))).toBe(~0xddf2 & 0xffff);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), (a, b) => {
      expect(internetChecksum(Buffer.from(a), Buffer.from(b))).toBe(checksum([...a, ...b]));
    }));
  });
});

describe('fuzz: respondDhcp never throws', () => {
  const valid = [
    clientFrame({ type: 'discover', mac: MAC }),
    clientFrame({ type: 'request', mac: MAC, requested: '10.0.0.5', serverId: '10.0.0.1', vlan: 3 }),
    clientFrame({ type: 'inform', mac: MAC, ciaddr: '10.0.0.5' }),
  ];

  it('on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 700 }), (bytes) => {
      respondDhcp(Buffer.from(bytes), ctx);
    }), { numRuns: 2000 });
  });

  it('on truncated and corrupted valid frames', () => {
    fc.assert(fc.property(
      fc.constantFrom(...valid), fc.nat(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      (frame, cut, edits) => {
        const f = Buffer.from(frame.subarray(0, cut % (frame.length + 1)));
        for (const [at, value] of edits) if (f.length) f[at % f.length] = value;
        respondDhcp(f, ctx);
        respondDhcp(f.length >= 34 ? fixIpChecksum(f) : f, ctx);
      },
    ), { numRuns: 3000 });
  });

  it('on random option fields behind a valid header, answering with well-formed frames', () => {
    const base = clientFrame({ type: 'discover', mac: MAC });
    const header = base.subarray(0, 42 + 240);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (opts) => {
      const f = Buffer.concat([header, Buffer.from(opts)]);
      f.writeUInt16BE(20 + 8 + 240 + opts.length, 16);
      f.writeUInt16BE(8 + 240 + opts.length, 38);
      const v = respondDhcp(fixIpChecksum(f), ctx);
      if ('reply' in v) {
        expect(parseDhcpFrame(v.reply)).toBeUndefined(); // a reply is not a client message
        expect(checksum(v.reply.subarray(14, 34))).toBe(0);
      }
    }), { numRuns: 2000 });
  });
});
