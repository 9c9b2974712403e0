// Golden texts for the router iptables compiler (agent/l3/rules.ts). The texts are in
// iptables-save's canonical form; test/integration/l3-rules.test.ts checks that a real
// iptables-restore + iptables-save round trip reproduces them exactly.
import { describe, expect, it } from 'vitest';
import { canonicalSave, routerRulesText, RouterRulesError, type RouterNat } from '../../../agent/l3/rules.ts';

const QG = 'qg-1234567890a';
const base: RouterNat = {
  gatewayInterface: QG,
  gatewayIp: '203.0.113.10',
  enableSnat: true,
  internalCidrs: ['10.0.1.0/24', '10.0.0.0/24'],
  floatingIps: [],
  portForwardings: [],
};

/** Everything before the rules of our nat chains: identical in every case. */
const HEAD = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:weft-FORWARD - [0:0]
-A FORWARD -j weft-FORWARD
-A weft-FORWARD -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:weft-OUTPUT - [0:0]
:weft-POSTROUTING - [0:0]
:weft-PREROUTING - [0:0]
:weft-snat - [0:0]
-A PREROUTING -j weft-PREROUTING
-A OUTPUT -j weft-OUTPUT
-A POSTROUTING -j weft-POSTROUTING
`;

const POST = `-A weft-POSTROUTING ! -o ${QG} -m conntrack ! --ctstate DNAT -m mark ! --mark 0x2/0x2 -j ACCEPT
-A weft-POSTROUTING -j weft-snat
`;

/** Hairpin: DNATed (port forwarding) or marked by the floating IP table (marks.ts). */
const HAIRPIN = (c: string) => `-A weft-snat -s ${c} ! -o ${QG} -m conntrack --ctstate DNAT -j SNAT --to-source 203.0.113.10
-A weft-snat -s ${c} ! -o ${QG} -m mark --mark 0x2/0x2 -j SNAT --to-source 203.0.113.10
`;

/** Sources with a floating IP (mark 0x4) keep their address: the floating IP table rewrites it. */
const SNAT = `-A weft-snat -s 10.0.0.0/24 -o ${QG} -m mark ! --mark 0x4/0x4 -j SNAT --to-source 203.0.113.10
${HAIRPIN('10.0.0.0/24')}-A weft-snat -s 10.0.1.0/24 -o ${QG} -m mark ! --mark 0x4/0x4 -j SNAT --to-source 203.0.113.10
${HAIRPIN('10.0.1.0/24')}`;

describe('routerRulesText goldens', () => {
  it('SNAT only', () => {
    expect(routerRulesText(base)).toBe(HEAD + POST + SNAT + 'COMMIT\n');
  });

  it('SNAT disabled: only the hairpin SNAT remains', () => {
    expect(routerRulesText({ ...base, enableSnat: false })).toBe(HEAD + POST + HAIRPIN('10.0.0.0/24') + HAIRPIN('10.0.1.0/24') + 'COMMIT\n');
  });

  it('floating IPs are not iptables rules (they live in the nft table of floating-nat.ts)', () => {
    const fips = [
      { floating: '203.0.113.21', fixed: '10.0.1.7' },
      { floating: '203.0.113.20', fixed: '10.0.0.5' },
    ];
    expect(routerRulesText({ ...base, floatingIps: fips })).toBe(routerRulesText(base));
  });

  it('port forwardings: a single port and a 1:1 shifted port range', () => {
    const text = routerRulesText({
      ...base,
      portForwardings: [
        { floating: '203.0.113.30', protocol: 'tcp', externalPort: [8000, 8009], internalIp: '10.0.0.9', internalPort: [9000, 9009] },
        { floating: '203.0.113.30', protocol: 'tcp', externalPort: 2222, internalIp: '10.0.0.9', internalPort: 22 },
        { floating: '203.0.113.30', protocol: 'udp', externalPort: [5000, 5001], internalIp: '10.0.0.9', internalPort: 53 },
      ],
    });
    expect(text).toBe(
      HEAD +
        `-A weft-OUTPUT -d 203.0.113.30/32 -p tcp -m tcp --dport 2222 -j DNAT --to-destination 10.0.0.9:22
-A weft-OUTPUT -d 203.0.113.30/32 -p tcp -m tcp --dport 8000:8009 -j DNAT --to-destination 10.0.0.9:9000-9009/8000
-A weft-OUTPUT -d 203.0.113.30/32 -p udp -m udp --dport 5000:5001 -j DNAT --to-destination 10.0.0.9:53
` +
        POST +
        `-A weft-PREROUTING -d 203.0.113.30/32 -p tcp -m tcp --dport 2222 -j DNAT --to-destination 10.0.0.9:22
-A weft-PREROUTING -d 203.0.113.30/32 -p tcp -m tcp --dport 8000:8009 -j DNAT --to-destination 10.0.0.9:9000-9009/8000
-A weft-PREROUTING -d 203.0.113.30/32 -p udp -m udp --dport 5000:5001 -j DNAT --to-destination 10.0.0.9:53
` +
        SNAT +
        'COMMIT\n',
    );
  });

  it('merges a router firewall into filter: chains after weft-FORWARD, jumps before its final ACCEPT', () => {
    const fw = { chains: [':weft-fw-i-qr-a - [0:0]'], forward: ['-A weft-FORWARD -o qr-a -j weft-fw-i-qr-a'], rules: ['-A weft-fw-i-qr-a -j DROP'] };
    const text = routerRulesText(base, fw);
    expect(text.startsWith(`*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:weft-FORWARD - [0:0]
:weft-fw-i-qr-a - [0:0]
-A FORWARD -j weft-FORWARD
-A weft-FORWARD -o qr-a -j weft-fw-i-qr-a
-A weft-FORWARD -j ACCEPT
-A weft-fw-i-qr-a -j DROP
COMMIT
*nat
`)).toBe(true);
    expect(text.slice(text.indexOf('*nat'))).toBe(routerRulesText(base).slice(routerRulesText(base).indexOf('*nat')));
  });

  it('no gateway: only the skeleton (floating IPs need the gateway)', () => {
    const text = routerRulesText({
      ...base,
      gatewayIp: null,
      gatewayInterface: '',
      floatingIps: [{ floating: '203.0.113.20', fixed: '10.0.0.5' }],
    });
    expect(text).toBe(HEAD + 'COMMIT\n');
  });
});

describe('routerRulesText properties', () => {
  it('each built-in chain gets exactly one jump, and every chain used is declared', () => {
    const text = routerRulesText({
      ...base,
      floatingIps: [{ floating: '203.0.113.20', fixed: '10.0.0.5' }],
      portForwardings: [{ floating: '203.0.113.30', protocol: 'udp', externalPort: 53, internalIp: '10.0.0.9', internalPort: 53 }],
    });
    for (const c of ['PREROUTING', 'OUTPUT', 'POSTROUTING', 'FORWARD']) {
      expect(text.split('\n').filter((l) => l.startsWith(`-A ${c} `))).toHaveLength(1);
    }
    const declared = new Set([...text.matchAll(/^:(\S+) /gm)].map((m) => m[1]));
    for (const m of text.matchAll(/^-A (\S+) .*?(?:-j (weft-\S+))?$/gm)) {
      expect(declared.has(m[1])).toBe(true);
      if (m[2]) expect(declared.has(m[2])).toBe(true);
    }
  });

  it('normalises CIDRs to their network address and removes duplicates', () => {
    const text = routerRulesText({ ...base, internalCidrs: ['10.0.0.1/24', '10.0.0.0/24', '10.0.1.200/24'] });
    expect(text).toBe(HEAD + POST + SNAT + 'COMMIT\n');
  });

  it('rejects bad or conflicting input', () => {
    const bad: Partial<RouterNat>[] = [
      { gatewayIp: '203.0.113.256' },
      { gatewayIp: '203.0.113.1\n-A INPUT -j DROP' },
      { gatewayInterface: 'qg-x -j ACCEPT' },
      { gatewayInterface: 'qg-0123456789abcdef' },
      { internalCidrs: ['10.0.0.0/33'] },
      { internalCidrs: ['10.0.0.0'] },
      { floatingIps: [{ floating: '203.0.113.20', fixed: '10.0.0.5' }, { floating: '203.0.113.20', fixed: '10.0.0.6' }] },
      { floatingIps: [{ floating: '203.0.113.20', fixed: '10.0.0.5' }, { floating: '203.0.113.21', fixed: '10.0.0.5' }] },
      { portForwardings: [{ floating: '203.0.113.30', protocol: 'tcp', externalPort: 0, internalIp: '10.0.0.9', internalPort: 22 }] },
      { portForwardings: [{ floating: '203.0.113.30', protocol: 'tcp', externalPort: [10, 5], internalIp: '10.0.0.9', internalPort: 22 }] },
      { portForwardings: [{ floating: '203.0.113.30', protocol: 'tcp', externalPort: [10, 20], internalIp: '10.0.0.9', internalPort: [30, 31] }] },
      { portForwardings: [{ floating: '203.0.113.30', protocol: 'icmp' as 'tcp', externalPort: 1, internalIp: '10.0.0.9', internalPort: 1 }] },
      {
        portForwardings: [
          { floating: '203.0.113.30', protocol: 'tcp', externalPort: [10, 20], internalIp: '10.0.0.9', internalPort: 22 },
          { floating: '203.0.113.30', protocol: 'tcp', externalPort: 20, internalIp: '10.0.0.8', internalPort: 22 },
        ],
      },
      {
        floatingIps: [{ floating: '203.0.113.30', fixed: '10.0.0.5' }],
        portForwardings: [{ floating: '203.0.113.30', protocol: 'tcp', externalPort: 22, internalIp: '10.0.0.9', internalPort: 22 }],
      },
    ];
    for (const b of bad) expect(() => routerRulesText({ ...base, ...b }), JSON.stringify(b)).toThrow(RouterRulesError);
  });

  it('allows the same port on tcp and udp, and on different floating IPs', () => {
    expect(() =>
      routerRulesText({
        ...base,
        portForwardings: [
          { floating: '203.0.113.30', protocol: 'tcp', externalPort: 53, internalIp: '10.0.0.9', internalPort: 53 },
          { floating: '203.0.113.30', protocol: 'udp', externalPort: 53, internalIp: '10.0.0.9', internalPort: 53 },
          { floating: '203.0.113.31', protocol: 'tcp', externalPort: 53, internalIp: '10.0.0.8', internalPort: 53 },
        ],
      }),
    ).not.toThrow();
  });
});

describe('canonicalSave', () => {
  it('drops comments and zeroes counters', () => {
    const save = `# Generated by iptables-save v1.8.9 (nf_tables) on Sun Nov 22 00:30:57 2026
*filter
:INPUT ACCEPT [12:345]
:weft-FORWARD - [0:0]
-A weft-FORWARD -j ACCEPT
COMMIT
# Completed on Sun Nov 22 00:30:57 2026
`;
    expect(canonicalSave(save)).toBe('*filter\n:INPUT ACCEPT [0:0]\n:weft-FORWARD - [0:0]\n-A weft-FORWARD -j ACCEPT\nCOMMIT\n');
  });
});
