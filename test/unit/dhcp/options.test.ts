import { describe, expect, it } from 'vitest';
import { classlessRoutesValue, domainNameValue, encodeOption, encodeReplyOptions, neutronHostName } from '../../../agent/dhcp/options.ts';
import { parseIpv4Cidr, cidrBroadcast, cidrMask } from '../../../agent/net/ipv4.ts';

const hex = (b: Buffer) => b.toString('hex').replace(/(..)/g, '$1 ').trim();

describe('option values', () => {
  it('option 121 follows RFC 3442 §2 examples', () => {
    expect(hex(classlessRoutesValue([{ destination: '10.0.0.0/8', nexthop: '10.0.0.1' }]))).toBe('08 0a 0a 00 00 01');
    expect(hex(classlessRoutesValue([{ destination: '0.0.0.0/0', nexthop: '10.0.0.1' }]))).toBe('00 0a 00 00 01');
    expect(hex(classlessRoutesValue([{ destination: '10.229.0.128/25', nexthop: '1.2.3.4' }]))).toBe('19 0a e5 00 80 01 02 03 04');
    expect(hex(classlessRoutesValue([{ destination: '10.198.122.47/32', nexthop: '1.2.3.4' }]))).toBe('20 0a c6 7a 2f 01 02 03 04');
    // host bits beyond the prefix are not sent
    expect(hex(classlessRoutesValue([{ destination: '10.27.129.77/24', nexthop: '1.2.3.4' }]))).toBe('18 0a 1b 81 01 02 03 04');
  });

  it('domain and host names', () => {
    expect(domainNameValue('openstacklocal.')).toBe('openstacklocal');
    expect(domainNameValue('example.org')).toBe('example.org');
    expect(neutronHostName('10.0.0.5')).toBe('host-10-0-0-5');
  });

  it('CIDR arithmetic', () => {
    const c = parseIpv4Cidr('192.168.1.77/26');
    expect(cidrMask(c)).toBe('255.255.255.192');
    expect(cidrBroadcast(c)).toBe('192.168.1.127');
    expect(cidrMask(parseIpv4Cidr('0.0.0.0/0'))).toBe('0.0.0.0');
    expect(() => parseIpv4Cidr('10.0.0.0/33')).toThrow();
  });

  it('splits values longer than 255 bytes (RFC 3396)', () => {
    const v = Buffer.alloc(300, 0x61);
    const e = encodeOption(15, v);
    expect(e.length).toBe(2 + 255 + 2 + 45);
    expect([e[0], e[1], e[257], e[258]]).toEqual([15, 255, 15, 45]);
    expect(hex(encodeOption(53, Buffer.from([1])))).toBe('35 01 01');
  });

  it('lease, T1 and T2, and END', () => {
    const e = encodeReplyOptions({ messageType: 5, serverId: '10.0.0.1', leaseSeconds: 600 });
    expect(hex(e)).toBe('35 01 05 36 04 0a 00 00 01 33 04 00 00 02 58 3a 04 00 00 01 2c 3b 04 00 00 02 0d ff');
  });
});
