// The dead-man switch's guard (agent/l3/dead-man-guard.ts): which host-side legs its watcher sets
// down if the agent dies. Written ahead of the legs (arm), dropped only once they are silent or
// gone (settle); routers without HA never in it; only the routers a pass considers are looked at.
import { describe, expect, it } from 'vitest';
import { LegGuard, legNames, type GuardedPlan, type SettleView } from '../../../agent/l3/dead-man-guard.ts';
import type { LegState, RouterSpec } from '../../../agent/l3/namespace.ts';

const leg = (portId: string, name: string) => ({ portId, name, mac: 'fa:16:3e:00:00:01', addresses: ['10.0.0.1/24'] });
const spec = (id: string, ports: string[], gatewayPort?: string): RouterSpec => ({
  routerId: id,
  interfaces: ports.map((p) => leg(p, `qr-${p.slice(0, 11)}`)),
  ...(gatewayPort ? { gateway: leg(gatewayPort, `qg-${gatewayPort.slice(0, 11)}`) } : {}),
  routes: [],
});
const plan = (entries: Array<[string, GuardedPlan]>) => new Map(entries);
const all = (p: Map<string, GuardedPlan>, ...more: string[]) => new Set([...p.keys(), ...more]);
const view = (legs: Record<string, LegState | undefined>, o: { present?: string[]; failed?: string[] } = {}): SettleView => ({
  legs: (id) => legs[id],
  present: (id) => o.present?.includes(id) ?? false,
  failed: (id) => o.failed?.includes(id) ?? false,
});
const ha = (id: string, ports: string[], role: 'active' | 'standby' = 'active'): [string, GuardedPlan] => [id, { ha: true, role, spec: spec(id, ports) }];

describe('dead-man guard (pure)', () => {
  it('names the host-side veth ends of every leg, gateway included', () => {
    expect(legNames(spec('r1', ['aaaaaaaaaaa-1', 'bbbbbbbbbbb-2'], 'ccccccccccc-3'))).toEqual(['tr-aaaaaaaaaaa', 'tr-bbbbbbbbbbb', 'tr-ccccccccccc']);
  });

  it('arms the HA routers active here (fenced or not), never a standby nor a router without HA', () => {
    const g = new LegGuard();
    const p = plan([
      ['ha-active', { ha: true, role: 'active', spec: spec('ha-active', ['aaaaaaaaaaa'], 'ggggggggggg') }],
      ha('ha-standby', ['bbbbbbbbbbb'], 'standby'),
      ['plain', { ha: false, role: 'active', spec: spec('plain', ['ccccccccccc']) }],
    ]);
    g.arm(p, all(p));
    expect(g.routers()).toEqual(['ha-active']);
    expect(g.line()).toBe('tr-aaaaaaaaaaa tr-ggggggggggg');
  });

  it('looks only at the routers the pass considers', () => {
    const g = new LegGuard();
    const p = plan([ha('r1', ['aaaaaaaaaaa']), ha('r2', ['bbbbbbbbbbb'])]);
    g.arm(p, new Set(['r1']));
    expect(g.routers()).toEqual(['r1']);
    g.settle(p, new Set(['r1']), view({ r1: 'active', r2: 'silent' }));
    expect(g.routers()).toEqual(['r1']);
  });

  it('arming keeps the legs a spec change drops until a pass settles', () => {
    const g = new LegGuard();
    g.arm(plan([ha('r1', ['old00000000'])]), new Set(['r1']));
    const p = plan([ha('r1', ['new00000000'])]);
    g.arm(p, new Set(['r1']));
    expect(g.line()).toBe('tr-new00000000 tr-old00000000');
    g.settle(p, new Set(['r1']), view({ r1: 'active' }));
    expect(g.line()).toBe('tr-new00000000');
  });

  it('settles to the HA routers whose legs are not known silent', () => {
    const g = new LegGuard();
    const p = plan([
      ha('up', ['aaaaaaaaaaa']),
      ha('silenced', ['bbbbbbbbbbb']), // fenced
      ha('unknown', ['ccccccccccc'], 'standby'), // a switch down that failed midway
      ['no-longer-ha', { ha: false, role: 'active', spec: spec('no-longer-ha', ['ddddddddddd']) }],
    ]);
    g.arm(p, all(p));
    g.arm(plan([ha('no-longer-ha', ['ddddddddddd'])]), new Set(['no-longer-ha']));
    g.settle(p, all(p), view({ up: 'active', silenced: 'silent', 'no-longer-ha': 'active' }));
    expect(g.routers().sort()).toEqual(['unknown', 'up']);
    expect(g.line()).toBe('tr-aaaaaaaaaaa tr-ccccccccccc');
  });

  it('a router whose apply failed keeps its old legs guarded too', () => {
    const g = new LegGuard();
    g.arm(plan([ha('r1', ['old00000000'])]), new Set(['r1']));
    const p = plan([ha('r1', ['new00000000'])]);
    g.arm(p, new Set(['r1']));
    g.settle(p, new Set(['r1']), view({ r1: undefined }, { failed: ['r1'] }));
    expect(g.line()).toBe('tr-new00000000 tr-old00000000');
  });

  it('a router no longer planned stays guarded until its namespace is removed, even by a later pass that does not consider it', () => {
    const g = new LegGuard();
    g.arm(plan([ha('gone', ['ggggggggggg'])]), new Set(['gone']));
    g.settle(new Map(), new Set(['gone']), view({}, { present: ['gone'] }));
    expect(g.routers()).toEqual(['gone']);
    g.settle(new Map(), new Set(), view({}, { present: ['gone'] }));
    expect(g.routers()).toEqual(['gone']);
    g.settle(new Map(), new Set(), view({}));
    expect(g.routers()).toEqual([]);
    expect(g.line()).toBe('');
  });

  it('the line holds each name once, sorted; empty when nothing is guarded', () => {
    const g = new LegGuard();
    expect(g.line()).toBe('');
    const p = plan([ha('a', ['bbbbbbbbbbb', 'aaaaaaaaaaa']), ha('b', ['aaaaaaaaaaa'])]);
    g.arm(p, all(p));
    expect(g.line()).toBe('tr-aaaaaaaaaaa tr-bbbbbbbbbbb');
  });
});
