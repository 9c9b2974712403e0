import { describe, expect, it } from 'vitest';
import { intToIpv4, ipv4IntToBytes, ipv4ToInt, isIpv4, parseIpv4 } from '../../../agent/net/ipv4.ts';

// parseIpv4 is the one-pass parser of the L3 hot path; isIpv4 (ip-address plus a regex) is the
// schemas' definition. They must agree on every input.
const agree = (s: string) => {
  const n = parseIpv4(s);
  expect(n !== undefined, JSON.stringify(s)).toBe(isIpv4(s));
  if (n !== undefined) {
    expect(n).toBe(ipv4ToInt(s));
    expect(intToIpv4(n)).toBe(s); // what it accepts is already canonical
  }
};

describe('parseIpv4', () => {
  it('agrees with isIpv4 on the edge cases', () => {
    for (const s of [
      '1.2.3.4', '0.0.0.0', '255.255.255.255', '10.0.0.255', '100.64.10.200', '249.250.199.9',
      '256.1.1.1', '1.1.1.256', '01.1.1.1', '1.1.1.01', '00.0.0.0', '0.0.0.00', '1.1.1', '1.1.1.1.1',
      '1..1.1', '.1.1.1', '1.1.1.', '', '....', 'a.b.c.d', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.4/32',
      '1.2.3.-4', '1.2.3.4e', '1.2.3.4\n', '１.2.3.4', '1.2.3.0x4', '::1', '1.2.3.1000',
    ]) agree(s);
  });

  it('agrees with isIpv4 on random near-addresses', () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    const octet = () => {
      const r = rand(20);
      return r === 0 ? `0${rand(30)}` : r === 1 ? String(rand(400)) : r === 2 ? '' : String(rand(256));
    };
    for (let i = 0; i < 20_000; i++) agree(Array.from({ length: 1 + rand(5) }, octet).join(rand(50) === 0 ? ',' : '.'));
  });

  it('gives the bytes of an address in network order', () => {
    expect([...ipv4IntToBytes(parseIpv4('192.168.1.254')!)]).toEqual([192, 168, 1, 254]);
    expect([...ipv4IntToBytes(parseIpv4('255.0.0.1')!)]).toEqual([255, 0, 0, 1]);
  });
});
