// The dead-man switch's guard (agent/l3/dead-man-guard.ts): which host-side legs its watcher sets
// down if the agent dies. Written ahead of the legs (armed), dropped only once they are silent or
// gone (settled); routers without HA never in it.
import { describe, expect, it } from 'vitest';
import { armed, guardLine, legNames, settled, type GuardedPlan, type SettleView } from '../../../agent/l3/dead-man-guard.ts';
import type { LegState, RouterSpec } from '../../../agent/l3/namespace.ts';

const leg = (portId: string, name: string) => ({ portId, name, mac: 'fa:16:3e:00:00:01', addresses: ['10.0.0.1/24'] });
const spec = (id: string, ports: string[], gatewayPort?: string): RouterSpec => ({
  routerId: id,
  interfaces: ports.map((p) => leg(p, `qr-${p.slice(0, 11)}`)),
  ...(gatewayPort ? { gateway: leg(gatewayPort, `qg-${gatewayPort.slice(0, 11)}`) } : {}),
  routes: [],
});
const plan = (entries: Array<[string, GuardedPlan]>) => new Map(entries);
const view = (legs: Record<string, LegState | undefined>, o: { present?: string[]; failed?: string[] } = {}): SettleView => ({
  legs: (id) => legs[id],
  present: (id) => o.present?.includes(id) ?? false,
  failed: (id) => o.failed?.includes(id) ?? false,
});

describe('dead-man guard (pure)', () => {
  it('names the host-side veth ends of every leg, gateway included', () => {
    expect(legNames(spec('r1', ['aaaaaaaaaaa-1', 'bbbbbbbbbbb-2'], 'ccccccccccc-3'))).toEqual(['tr-aaaaaaaaaaa', 'tr-bbbbbbbbbbb', 'tr-ccccccccccc']);
  });

  it('arms the HA routers active here (fenced or not), never a standby nor a router without HA', () => {
    const g = armed(new Map(), plan([
      ['ha-active', { ha: true, role: 'active', spec: spec('ha-active', ['aaaaaaaaaaa'], 'ggggggggggg') }],
      ['ha-standby', { ha: true, role: 'standby', spec: spec('ha-standby', ['bbbbbbbbbbb']) }],
      ['plain', { ha: false, role: 'active', spec: spec('plain', ['ccccccccccc']) }],
    ]));
    expect([...g.keys()]).toEqual(['ha-active']);
    expect(guardLine(g)).toBe('tr-aaaaaaaaaaa tr-ggggggggggg');
  });

  it('arming keeps what was guarded and the legs a spec change drops, until a pass settles', () => {
    const before = new Map([['r1', ['tr-old00000000']], ['r2', ['tr-rrrrrrrrrrr']]]);
    const g = armed(before, plan([['r1', { ha: true, role: 'active', spec: spec('r1', ['new00000000']) }]]));
    expect(g.get('r1')).toEqual(['tr-old00000000', 'tr-new00000000']);
    expect(g.get('r2')).toEqual(['tr-rrrrrrrrrrr']);
  });

  it('settles to the HA routers whose legs are not known silent, with their current legs', () => {
    const p = plan([
      ['up', { ha: true, role: 'active', spec: spec('up', ['aaaaaaaaaaa']) }],
      ['silenced', { ha: true, role: 'active', spec: spec('silenced', ['bbbbbbbbbbb']) }], // fenced
      ['unknown', { ha: true, role: 'standby', spec: spec('unknown', ['ccccccccccc']) }], // a switch down that failed midway
      ['no-longer-ha', { ha: false, role: 'active', spec: spec('no-longer-ha', ['ddddddddddd']) }],
    ]);
    const prev = armed(new Map([['up', ['tr-gone0000000']], ['no-longer-ha', ['tr-ddddddddddd']]]), p);
    const g = settled(prev, p, view({ up: 'active', silenced: 'silent', 'no-longer-ha': 'active' }));
    expect(Object.fromEntries(g)).toEqual({ up: ['tr-aaaaaaaaaaa'], unknown: ['tr-ccccccccccc'] });
  });

  it('a router whose apply failed keeps its old legs guarded too', () => {
    const p = plan([['r1', { ha: true, role: 'active', spec: spec('r1', ['new00000000']) }]]);
    const prev = armed(new Map([['r1', ['tr-old00000000']]]), p);
    expect(settled(prev, p, view({ r1: undefined }, { failed: ['r1'] })).get('r1')).toEqual(['tr-old00000000', 'tr-new00000000']);
  });

  it('a router no longer planned stays guarded until its namespace is removed', () => {
    const prev = new Map([['gone', ['tr-ggggggggggg']]]);
    expect(settled(prev, new Map(), view({}, { present: ['gone'] })).get('gone')).toEqual(['tr-ggggggggggg']);
    expect(settled(prev, new Map(), view({})).size).toBe(0);
  });

  it('the line holds each name once, sorted; empty when nothing is guarded', () => {
    expect(guardLine(new Map([['a', ['tr-b', 'tr-a']], ['b', ['tr-a']]]))).toBe('tr-a tr-b');
    expect(guardLine(new Map())).toBe('');
  });
});
