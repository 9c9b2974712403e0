// The router firewall compiler (agent/l3/firewall-rules.ts): golden filter tables under
// test/golden/l3-firewall/ (UPDATE_GOLDEN=1 rewrites them; test/integration/l3-firewall.test.ts
// restores the same scenarios into a real namespace and compares with iptables-save), the
// semantics line by line, and the validation of everything that reaches the text.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { firewallChainName, FirewallRulesError, routerFirewallRules } from '../../../agent/l3/firewall-rules.ts';
import { filterTable, fwPort, fwRule, SCENARIOS } from '../../helpers/firewall-scenarios.ts';

const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../golden/l3-firewall');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

describe('routerFirewallRules goldens', () => {
  for (const [name, ports] of Object.entries(SCENARIOS)) {
    it(name, () => {
      const text = filterTable(routerFirewallRules(ports));
      const file = join(GOLDEN_DIR, `${name}.txt`);
      if (UPDATE || !existsSync(file)) {
        mkdirSync(GOLDEN_DIR, { recursive: true });
        writeFileSync(file, text);
        if (!UPDATE) throw new Error(`golden file ${file} was missing and has been written; check it in and rerun`);
      }
      expect(text).toBe(readFileSync(file, 'utf8'));
    });
  }
});

describe('routerFirewallRules', () => {
  const web = SCENARIOS['ingress-and-egress'];

  it('jumps to the ingress chain on -o and the egress chain on -i, ingress jumps first', () => {
    const fw = routerFirewallRules([
      fwPort('qr-b', { ingress: [], egress: [] }),
      fwPort('qr-a', { ingress: [], egress: [] }),
    ]);
    expect(fw.forward).toEqual([
      '-A weft-FORWARD -o qr-a -j weft-fw-i-qr-a',
      '-A weft-FORWARD -o qr-b -j weft-fw-i-qr-b',
      '-A weft-FORWARD -i qr-a -j weft-fw-o-qr-a',
      '-A weft-FORWARD -i qr-b -j weft-fw-o-qr-b',
    ]);
    expect(fw.chains).toEqual([':weft-fw-i-qr-a - [0:0]', ':weft-fw-i-qr-b - [0:0]', ':weft-fw-o-qr-a - [0:0]', ':weft-fw-o-qr-b - [0:0]']);
  });

  it('a chain: invalid dropped, replies returned, the rules in policy order, then the default drop', () => {
    const chain = routerFirewallRules(web).rules.filter((l) => l.startsWith('-A weft-fw-i-'));
    expect(chain).toEqual([
      '-A weft-fw-i-qr-0a1b2c3d4e5 -m conntrack --ctstate INVALID -j DROP',
      '-A weft-fw-i-qr-0a1b2c3d4e5 -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
      '-A weft-fw-i-qr-0a1b2c3d4e5 -s 198.51.100.0/24 -p tcp -m tcp --dport 22 -j RETURN',
      '-A weft-fw-i-qr-0a1b2c3d4e5 -d 10.0.1.10/32 -p tcp -m tcp --dport 80 -j RETURN',
      '-A weft-fw-i-qr-0a1b2c3d4e5 -d 10.0.1.10/32 -p tcp -m tcp --dport 443 -j RETURN',
      '-A weft-fw-i-qr-0a1b2c3d4e5 -p udp -m udp --sport 53 --dport 1024:65535 -j DROP',
      '-A weft-fw-i-qr-0a1b2c3d4e5 -p icmp -j RETURN',
      '-A weft-fw-i-qr-0a1b2c3d4e5 -s 203.0.113.0/24 -j REJECT --reject-with icmp-port-unreachable',
      '-A weft-fw-i-qr-0a1b2c3d4e5 -j DROP',
    ]);
  });

  it('a direction without a policy still drops new connections; a group without policies is not applied', () => {
    const fw = routerFirewallRules([fwPort('qr-x', { ingress: [fwRule()] }), fwPort('qr-y')]);
    expect(fw.rules.filter((l) => l.startsWith('-A weft-fw-o-qr-x'))).toEqual([
      '-A weft-fw-o-qr-x -m conntrack --ctstate INVALID -j DROP',
      '-A weft-fw-o-qr-x -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
      '-A weft-fw-o-qr-x -j DROP',
    ]);
    expect(fw.forward.join('\n')).not.toContain('qr-y');
    expect(routerFirewallRules([fwPort('qr-y')])).toEqual({ chains: [], forward: [], rules: [] });
  });

  it('an admin-down group drops everything of its ports, ahead of every other jump', () => {
    const fw = routerFirewallRules([fwPort('qr-a', { ingress: [] }), fwPort('qr-b', { adminStateUp: false, egress: [fwRule()] })]);
    expect(fw.forward.slice(0, 2)).toEqual(['-A weft-FORWARD -o qr-b -j DROP', '-A weft-FORWARD -i qr-b -j DROP']);
    expect(fw.chains.join('\n')).not.toContain('qr-b');
  });

  it('skips IPv6 rules, keeps the chain names within iptables\' 28 characters', () => {
    const fw = routerFirewallRules([fwPort('qr-0123456789a', { ingress: [fwRule({ ipVersion: 6, source: '2001:db8::/64' })] })]);
    expect(fw.rules.join('\n')).not.toContain('2001');
    expect(firewallChainName('egress', 'qr-0123456789ab')).toHaveLength(25);
    for (const c of fw.chains) expect(c.slice(1, c.indexOf(' ')).length).toBeLessThanOrEqual(28);
  });

  it('refuses whatever could not be spelled safely', () => {
    const bad = (rule: Parameters<typeof fwRule>[0], iface = 'qr-a') => () => routerFirewallRules([fwPort(iface, { ingress: [fwRule(rule)] })]);
    expect(bad({}, 'qr-a\n-A FORWARD -j ACCEPT')).toThrow(FirewallRulesError);
    expect(bad({}, 'qr-a -j ACCEPT')).toThrow(FirewallRulesError);
    expect(bad({}, 'qr-0123456789abcd')).toThrow(/not a valid interface name/);
    expect(bad({ source: '10.0.0.1\n-A weft-FORWARD -j ACCEPT' })).toThrow(/is not an IPv4 address/);
    expect(bad({ source: '10.0.0.256' })).toThrow(FirewallRulesError);
    expect(bad({ destination: '10.0.0.0/33' })).toThrow(FirewallRulesError);
    expect(bad({ destination: '010.0.0.1' })).toThrow(FirewallRulesError);
    expect(bad({ destination: '2001:db8::1' })).toThrow(FirewallRulesError); // an IPv6 address in an IPv4 rule
    expect(bad({ protocol: 'tcp -j ACCEPT' })).toThrow(/not supported/);
    expect(bad({ protocol: 'icmp', destinationPort: [1, 1] })).toThrow(/ports need protocol tcp or udp/);
    expect(bad({ destinationPort: [80, 80] })).toThrow(/ports need protocol/);
    expect(bad({ protocol: 'tcp', destinationPort: [0, 10] })).toThrow(/not in 1..65535/);
    expect(bad({ protocol: 'tcp', sourcePort: [2000, 1000] })).toThrow(/reversed/);
    expect(bad({ protocol: 'tcp', sourcePort: [Number.NaN, 5] })).toThrow(FirewallRulesError);
    expect(bad({ action: 'accept' as never })).toThrow(/not allow, deny or reject/);
    expect(bad({ ipVersion: 5 as never })).toThrow(/ip version/);
    expect(() => routerFirewallRules([fwPort('qr-a', { ingress: [] }), fwPort('qr-a', { groupId: 'g2', egress: [] })])).toThrow(/twice/);
  });
});
