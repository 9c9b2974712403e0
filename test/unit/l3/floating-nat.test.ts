// The floating IP nft compiler (agent/l3/floating-nat.ts) and the conntrack clean-ups after NAT and
// firewall changes (conntrack-cleanups.ts). Real packets through these are in test/integration/l3-rules.test.ts.
import { describe, expect, it } from 'vitest';
import {
  applyFloatingTable, floatingNatContents, floatingNatElements, floatingNatRemoveLine, floatingNatSets, floatingNatTableLine, floatingSetUpdates,
  type AppliedFloatingTable, type FloatingTableIo,
} from '../../../agent/l3/floating-nat.ts';
import { SetBatchTooLarge, type NftSetUpdate } from '../../../agent/l3/nft-set-batch.ts';
import { firewallChangeCleanups, stalePortForwardingCleanups, staleMappingCleanups } from '../../../agent/l3/conntrack-cleanups.ts';
import type { FirewallPortSpec } from '../../../agent/l3/firewall-rules.ts';
import { RouterRulesError, type RouterNat } from '../../../agent/l3/rules.ts';

const nat = (fips: [string, string][], over: Partial<RouterNat> = {}): RouterNat => ({
  gatewayInterface: 'qg-1234567890a',
  gatewayIp: '203.0.113.10',
  enableSnat: true,
  internalCidrs: ['10.0.0.0/24'],
  floatingIps: fips.map(([floating, fixed]) => ({ floating, fixed })),
  portForwardings: [],
  ...over,
});

describe('floatingNatSets', () => {
  it('holds what floatingNatElements holds, as raw addresses, maps pairing floating and fixed both ways', () => {
    const sets = floatingNatSets(nat([['203.0.113.21', '10.0.0.7'], ['203.0.113.20', '10.0.0.5']]));
    const text = (b: Uint8Array): string => [...b].join('.');
    expect(sets.map((x) => [x.name, x.keys.map(text), x.values?.map(text)])).toEqual([
      ['floating', ['203.0.113.20', '203.0.113.21'], undefined],
      ['fixed', ['10.0.0.5', '10.0.0.7'], undefined],
      ['fip_to_fixed', ['203.0.113.20', '203.0.113.21'], ['10.0.0.5', '10.0.0.7']],
      ['fixed_to_fip', ['10.0.0.5', '10.0.0.7'], ['203.0.113.20', '203.0.113.21']],
    ]);
    expect(floatingNatSets(nat([['203.0.113.20', '10.0.0.5']], { gatewayIp: null })).every((x) => x.keys.length === 0)).toBe(true);
  });
});

describe('floatingSetUpdates', () => {
  const text = (b: Uint8Array): string => [...b].join('.');
  const mapping = (pairs: [string, string][]) => floatingNatContents(nat(pairs)).mapping;
  const updates = (before: [string, string][], after: [string, string][]) =>
    floatingSetUpdates(mapping(before), mapping(after)).map((u) => [u.name, u.flush, u.remove.map(text), u.keys.map(text), u.values?.map(text)]);

  it('moves one floating IP with only its own elements, whatever else the router holds', () => {
    const others = Array.from({ length: 50 }, (_, i): [string, string] => [`203.0.113.${100 + i}`, `10.0.0.${100 + i}`]);
    expect(updates([['203.0.113.20', '10.0.0.5'], ...others], [['203.0.113.20', '10.0.0.6'], ...others])).toEqual([
      ['floating', false, [], [], undefined],
      ['fixed', false, ['10.0.0.5'], ['10.0.0.6'], undefined],
      ['fip_to_fixed', false, ['203.0.113.20'], ['203.0.113.20'], ['10.0.0.6']],
      ['fixed_to_fip', false, ['10.0.0.5'], ['10.0.0.6'], ['203.0.113.20']],
    ]);
  });

  it('adds, removes, hands a fixed IP to another floating IP, and swaps two', () => {
    expect(updates([['203.0.113.20', '10.0.0.5']], [['203.0.113.20', '10.0.0.5'], ['203.0.113.21', '10.0.0.7']])).toEqual([
      ['floating', false, [], ['203.0.113.21'], undefined],
      ['fixed', false, [], ['10.0.0.7'], undefined],
      ['fip_to_fixed', false, [], ['203.0.113.21'], ['10.0.0.7']],
      ['fixed_to_fip', false, [], ['10.0.0.7'], ['203.0.113.21']],
    ]);
    expect(updates([['203.0.113.20', '10.0.0.5'], ['203.0.113.21', '10.0.0.7']], [['203.0.113.21', '10.0.0.7']])).toEqual([
      ['floating', false, ['203.0.113.20'], [], undefined],
      ['fixed', false, ['10.0.0.5'], [], undefined],
      ['fip_to_fixed', false, ['203.0.113.20'], [], []],
      ['fixed_to_fip', false, ['10.0.0.5'], [], []],
    ]);
    expect(updates([['203.0.113.20', '10.0.0.5']], [['203.0.113.21', '10.0.0.5']])).toEqual([
      ['floating', false, ['203.0.113.20'], ['203.0.113.21'], undefined],
      ['fixed', false, [], [], undefined],
      ['fip_to_fixed', false, ['203.0.113.20'], ['203.0.113.21'], ['10.0.0.5']],
      ['fixed_to_fip', false, ['10.0.0.5'], ['10.0.0.5'], ['203.0.113.21']],
    ]);
    expect(updates([['203.0.113.20', '10.0.0.5'], ['203.0.113.21', '10.0.0.6']], [['203.0.113.20', '10.0.0.6'], ['203.0.113.21', '10.0.0.5']])).toEqual([
      ['floating', false, [], [], undefined],
      ['fixed', false, [], [], undefined],
      ['fip_to_fixed', false, ['203.0.113.20', '203.0.113.21'], ['203.0.113.20', '203.0.113.21'], ['10.0.0.6', '10.0.0.5']],
      ['fixed_to_fip', false, ['10.0.0.5', '10.0.0.6'], ['10.0.0.6', '10.0.0.5'], ['203.0.113.20', '203.0.113.21']],
    ]);
  });

  it('changes nothing when nothing moved', () => {
    const same = mapping([['203.0.113.20', '10.0.0.5']]);
    expect(floatingSetUpdates(same, mapping([['203.0.113.20', '10.0.0.5']])).every((u) => !u.flush && !u.remove.length && !u.keys.length)).toBe(true);
  });
});

describe('applyFloatingTable', () => {
  const calls: string[] = [];
  /** What the sets hold, kept as the kernel would: refused updates change nothing. */
  const io = (withSets: boolean, kernel = new Map<string, Set<string>>()): FloatingTableIo => ({
    line: async (line) => void calls.push(`line ${line.split(';')[0]}`),
    ...(withSets ? {
      sets: async (table: string, updates: readonly NftSetUpdate[]) => {
        // As the netlink writer does when the batch would not fit one message.
        if (updates.some((u) => u.keys.length > 2500)) throw new SetBatchTooLarge(300_000);
        const key = (b: Uint8Array) => [...b].join('.');
        for (const u of updates) {
          const held = kernel.get(u.name) ?? new Set();
          if (!u.flush && u.remove.some((k) => !held.has(key(k)))) throw new Error('No such file or directory');
        }
        for (const u of updates) {
          const held = u.flush ? new Set<string>() : (kernel.get(u.name) ?? new Set());
          for (const k of u.remove) held.delete(key(k));
          for (const k of u.keys) held.add(key(k));
          kernel.set(u.name, held);
        }
        calls.push(`sets ${table} ${updates.map((u) => `${u.name}${u.flush ? ' flush' : ''} -${u.remove.length} +${u.keys.length}`).join(', ')}`);
      },
    } : {}),
  });
  const apply = (applied: Map<string, AppliedFloatingTable | null>, n: RouterNat, target = io(true)): Promise<void> =>
    applyFloatingTable(applied, 'r1', target, floatingNatTableLine(n), floatingNatContents(n));

  it('makes the table with its elements once, then sends only the elements that changed, over netlink when it can', async () => {
    calls.length = 0;
    const applied = new Map<string, AppliedFloatingTable | null>();
    const kernel = new Map<string, Set<string>>([['floating', new Set(['203.0.113.20'])], ['fixed', new Set(['10.0.0.5'])], ['fip_to_fixed', new Set(['203.0.113.20'])], ['fixed_to_fip', new Set(['10.0.0.5'])]]);
    await apply(applied, nat([['203.0.113.20', '10.0.0.5']]), io(true, kernel));
    await apply(applied, nat([['203.0.113.20', '10.0.0.6']]), io(true, kernel));
    await apply(applied, nat([['203.0.113.20', '10.0.0.5']]), io(false));
    expect(calls).toEqual([
      'line add table ip weft',
      'sets weft floating -0 +0, fixed -1 +1, fip_to_fixed -1 +1, fixed_to_fip -1 +1',
      'line flush set ip weft floating',
    ]);
    expect(kernel.get('fixed')).toEqual(new Set(['10.0.0.6']));
    expect(applied.get('r1')).toEqual({ line: floatingNatTableLine(nat([])), mapping: floatingNatContents(nat([['203.0.113.20', '10.0.0.5']])).mapping });
  });

  it('refills the sets when the kernel refuses the change (they no longer hold what was applied)', async () => {
    calls.length = 0;
    const applied = new Map<string, AppliedFloatingTable | null>();
    const kernel = new Map<string, Set<string>>(); // emptied behind the agent's back
    await apply(applied, nat([['203.0.113.20', '10.0.0.5']]));
    await apply(applied, nat([['203.0.113.20', '10.0.0.6']]), io(true, kernel));
    expect(calls).toEqual(['line add table ip weft', 'sets weft floating flush -0 +1, fixed flush -0 +1, fip_to_fixed flush -0 +1, fixed_to_fip flush -0 +1']);
    expect(kernel.get('fip_to_fixed')).toEqual(new Set(['203.0.113.20']));
  });

  it('refills sets too big for one netlink message through nft, and removes the table with the gateway', async () => {
    calls.length = 0;
    const applied = new Map<string, AppliedFloatingTable | null>();
    const many = Array.from({ length: 3000 }, (_, i): [string, string] => [`203.0.${i >> 8}.${i & 255}`, `10.1.${i >> 8}.${i & 255}`]);
    await apply(applied, nat([]));
    await apply(applied, nat(many));
    await apply(applied, nat([], { gatewayIp: null }));
    await apply(applied, nat([], { gatewayIp: null }));
    expect(calls).toEqual(['line add table ip weft', 'line flush set ip weft floating', 'line add table ip weft']);
    expect(applied.get('r1')).toBeNull();
  });

  it('forgets what it applied while a call fails, so the next one makes the table again', async () => {
    const applied = new Map<string, AppliedFloatingTable | null>([['r1', { line: floatingNatTableLine(nat([]))!, mapping: new Map() }]]);
    const failing: FloatingTableIo = { line: async () => undefined, sets: async () => { throw new Error('kernel said no'); } };
    const n = nat([['203.0.113.20', '10.0.0.5']]);
    await expect(applyFloatingTable(applied, 'r1', failing, floatingNatTableLine(n), floatingNatContents(n))).rejects.toThrow(/kernel said no/);
    expect(applied.has('r1')).toBe(false);
  });
});

describe('floatingNatTableLine', () => {
  it('recreates the table in one line: add, delete, define (so the first apply cannot fail on a missing table)', () => {
    const line = floatingNatTableLine(nat([]))!;
    expect(line.startsWith('add table ip weft; delete table ip weft; table ip weft { ')).toBe(true);
    expect(line).not.toMatch(/\n/);
    expect(line).toContain('chain pre { type filter hook prerouting priority raw;');
    expect(line).toContain('iifname "qg-1234567890a" ip daddr @floating meta mark set meta mark | 0x1;');
    expect(line).toContain('ip daddr set ip daddr map @fip_to_fixed;');
    expect(line).toContain('oifname "qg-1234567890a" ip saddr set ip saddr map @fixed_to_fip;');
  });

  it('is null without a gateway, and refuses a bad interface name', () => {
    expect(floatingNatTableLine(nat([], { gatewayIp: null, gatewayInterface: '' }))).toBeNull();
    expect(() => floatingNatTableLine(nat([], { gatewayInterface: 'qg"; flush ruleset' }))).toThrow(RouterRulesError);
  });
});

describe('floatingNatElements', () => {
  it('flushes and refills both maps and sets, sorted by floating address', () => {
    expect(floatingNatElements(nat([['203.0.113.21', '10.0.0.7'], ['203.0.113.20', '10.0.0.5']]))).toBe(
      'flush set ip weft floating; flush set ip weft fixed; flush map ip weft fip_to_fixed; flush map ip weft fixed_to_fip; ' +
        'add element ip weft floating { 203.0.113.20, 203.0.113.21 }; add element ip weft fixed { 10.0.0.5, 10.0.0.7 }; ' +
        'add element ip weft fip_to_fixed { 203.0.113.20 : 10.0.0.5, 203.0.113.21 : 10.0.0.7 }; ' +
        'add element ip weft fixed_to_fip { 10.0.0.5 : 203.0.113.20, 10.0.0.7 : 203.0.113.21 }',
    );
  });

  it('only flushes when there is nothing to map (or no gateway)', () => {
    const empty = 'flush set ip weft floating; flush set ip weft fixed; flush map ip weft fip_to_fixed; flush map ip weft fixed_to_fip';
    expect(floatingNatElements(nat([]))).toBe(empty);
    expect(floatingNatElements(nat([['203.0.113.20', '10.0.0.5']], { gatewayIp: null }))).toBe(empty);
  });

  it('refuses bad or conflicting addresses (nothing reaches nft unchecked)', () => {
    for (const fips of [
      [['203.0.113.20', '10.0.0.5; flush ruleset']],
      [['203.0.113.256', '10.0.0.5']],
      [['203.0.113.20', '10.0.0.5'], ['203.0.113.20', '10.0.0.6']],
      [['203.0.113.20', '10.0.0.5'], ['203.0.113.21', '10.0.0.5']],
    ] as [string, string][][]) {
      expect(() => floatingNatElements(nat(fips)), JSON.stringify(fips)).toThrow(RouterRulesError);
    }
  });

  it('removes the table with a line that cannot fail', () => {
    expect(floatingNatRemoveLine()).toBe('add table ip weft; delete table ip weft');
  });
});

describe('staleMappingCleanups', () => {
  it('deletes the old fixed IP connections by mark when a floating IP moves or goes, and nothing else', () => {
    const before = nat([['203.0.113.20', '10.0.0.5'], ['203.0.113.21', '10.0.0.6'], ['203.0.113.22', '10.0.0.7']]);
    const after = nat([['203.0.113.20', '10.0.0.5'], ['203.0.113.21', '10.0.0.9']]);
    expect(staleMappingCleanups(before, after)).toEqual([
      ['-D', '-d', '10.0.0.6', '--mark', '1/1'], ['-D', '-d', '10.0.0.6', '--mark', '2/2'], ['-D', '-s', '10.0.0.6', '--mark', '4/4'],
      ['-D', '-d', '10.0.0.7', '--mark', '1/1'], ['-D', '-d', '10.0.0.7', '--mark', '2/2'], ['-D', '-s', '10.0.0.7', '--mark', '4/4'],
    ]);
    expect(staleMappingCleanups(undefined, after)).toEqual([]);
    expect(staleMappingCleanups(after, after)).toEqual([]);
  });
});

describe('stalePortForwardingCleanups', () => {
  const pf = (externalPort: number | [number, number], internalIp = '10.0.0.5') => ({ floating: '203.0.113.30', protocol: 'tcp' as const, externalPort, internalIp, internalPort: externalPort });
  it('deletes the flows of forwardings removed or changed, port by port or, for a wide range, by address and protocol', () => {
    const before = nat([], { portForwardings: [pf(2222), pf([8000, 8002]), pf([9000, 9100]), pf(3333)] });
    const after = nat([], { portForwardings: [pf(3333), pf(2222, '10.0.0.6')] });
    expect(stalePortForwardingCleanups(before, after)).toEqual([
      ['-D', '-p', 'tcp', '--orig-dst', '203.0.113.30', '--orig-port-dst', '2222'],
      ['-D', '-p', 'tcp', '--orig-dst', '203.0.113.30', '--orig-port-dst', '8000'],
      ['-D', '-p', 'tcp', '--orig-dst', '203.0.113.30', '--orig-port-dst', '8001'],
      ['-D', '-p', 'tcp', '--orig-dst', '203.0.113.30', '--orig-port-dst', '8002'],
      ['-D', '-p', 'tcp', '--orig-dst', '203.0.113.30'],
    ]);
    expect(stalePortForwardingCleanups(after, after)).toEqual([]);
    expect(stalePortForwardingCleanups(undefined, after)).toEqual([]);
  });
});

describe('firewallChangeCleanups', () => {
  const port = (interfaceName: string, egress: FirewallPortSpec['egress']): FirewallPortSpec => ({
    portId: `p-${interfaceName}`, interfaceName, groupId: 'g', adminStateUp: true, ingress: null, egress,
  });
  const rule = { id: 'r', ipVersion: 4 as const, protocol: 'tcp', source: null, destination: null, sourcePort: null, destinationPort: [22, 22] as [number, number], action: 'deny' as const };
  const legs = [{ name: 'qr-a', addresses: ['10.0.0.1/24', 'fd00::1/64'] }, { name: 'qr-b', addresses: ['10.0.1.1/24'] }];
  it("deletes the connections of the subnets of legs whose firewall changed, so the new policy judges them", () => {
    expect(firewallChangeCleanups([port('qr-a', [])], [port('qr-a', [rule])], legs)).toEqual([
      ['-D', '-s', '10.0.0.0/24'], ['-D', '-d', '10.0.0.0/24'],
    ]);
    expect(firewallChangeCleanups([], [port('qr-b', [])], legs)).toEqual([['-D', '-s', '10.0.1.0/24'], ['-D', '-d', '10.0.1.0/24']]);
    expect(firewallChangeCleanups([port('qr-a', [])], [port('qr-a', [])], legs)).toEqual([]);
    expect(firewallChangeCleanups(undefined, [port('qr-a', [])], legs)).toEqual([]);
  });
});
