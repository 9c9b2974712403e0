// Who is underlay-dead (controller/domain/underlay.ts): a strict majority of the hosts with a BFD
// session to it (every other host with a VTEP for a gateway host, the gateway hosts for a compute
// host), and at least two of them, report it down; votes follow deltas, full reports and reporters leaving.
import { describe, expect, it } from 'vitest';
import { probersOf, underlayDead, UnderlayVotes } from '../../../controller/domain/underlay.ts';

const agents = [
  { host: 'g1', tunnel_ip: '10.0.0.1', gateway_capable: true }, { host: 'g2', tunnel_ip: '10.0.0.2', gateway_capable: true },
  { host: 'c1', tunnel_ip: '10.0.0.3', gateway_capable: false }, { host: 'novtep', tunnel_ip: null, gateway_capable: true },
];

describe('underlay-dead', () => {
  it('the probers of a gateway host are the other hosts with a VTEP', () => {
    // The lab of test/e2e/l3-ha-underlay.test.ts: g1's majority is still both of g2 and c1.
    expect([...probersOf('g1', agents)]).toEqual(['g2', 'c1']);
  });

  it('the probers of a compute host are the gateway hosts only', () => {
    const more = [...agents, { host: 'c2', tunnel_ip: '10.0.0.4', gateway_capable: false }];
    expect([...probersOf('c1', more)]).toEqual(['g1', 'g2']);
    // c2's vote on c1 does not count (they run no session), so g1 and g2 must both say so.
    expect(underlayDead(probersOf('c1', more), new Set(['g1', 'c2']))).toBe(false);
    expect(underlayDead(probersOf('c1', more), new Set(['g1', 'g2']))).toBe(true);
    // c2 becomes a gateway host: it probes c1 too.
    const c2Gateway = more.map((a) => (a.host === 'c2' ? { ...a, gateway_capable: true } : a));
    expect([...probersOf('c1', c2Gateway)]).toEqual(['g1', 'g2', 'c2']);
    // An agent document without the flag (from before it) probes like a gateway host, as its agent does.
    expect([...probersOf('c1', [...more, { host: 'old', tunnel_ip: '10.0.0.9' }])]).toEqual(['g1', 'g2', 'old']);
  });

  it('needs a strict majority of the probers, and at least two', () => {
    const p2 = new Set(['g2', 'c1']);
    expect(underlayDead(p2, new Set(['g2', 'c1']))).toBe(true);
    expect(underlayDead(p2, new Set(['g2']))).toBe(false);
    const p4 = new Set(['a', 'b', 'c', 'd']);
    expect(underlayDead(p4, new Set(['a', 'b']))).toBe(false); // half is not a majority
    expect(underlayDead(p4, new Set(['a', 'b', 'c']))).toBe(true);
    // One prober cannot tell its own cut from the target's.
    expect(underlayDead(new Set(['g2']), new Set(['g2']))).toBe(false);
    // Votes of hosts that are not probers (gone, or without a VTEP) do not count.
    expect(underlayDead(p2, new Set(['g2', 'x']))).toBe(false);
  });
});

describe('underlay votes', () => {
  it('follow deltas, and report only the targets whose down votes changed', () => {
    const v = new UnderlayVotes();
    expect([...v.apply('g2', { g1: 'up', c1: 'up' })]).toEqual([]);
    expect([...v.apply('g2', { g1: 'down' })]).toEqual(['g1']);
    expect([...v.apply('c1', { g1: 'down' })]).toEqual(['g1']);
    expect([...v.downVoters('g1')]).toEqual(['g2', 'c1']);
    expect([...v.apply('c1', { g1: 'down' })]).toEqual([]); // nothing new
    expect([...v.apply('g2', { g1: 'up' })]).toEqual(['g1']);
    expect([...v.downVoters('g1')]).toEqual(['c1']);
    expect([...v.apply('c1', { g1: null })]).toEqual(['g1']);
    expect([...v.downVoters('g1')]).toEqual([]);
    expect([...v.targets()]).toEqual([]);
  });

  it('a full report replaces what the reporter said before; a reporter that leaves takes its votes along', () => {
    const v = new UnderlayVotes();
    v.apply('g2', { g1: 'down', c1: 'down' });
    expect([...v.apply('g2', { c1: 'down' }, true)]).toEqual(['g1']);
    expect([...v.downVoters('c1')]).toEqual(['g2']);
    expect([...v.drop('g2')]).toEqual(['c1']);
    expect([...v.targets()]).toEqual([]);
    expect([...v.drop('g2')]).toEqual([]);
  });

  it('ignores what a host says of itself', () => {
    const v = new UnderlayVotes();
    expect([...v.apply('g1', { g1: 'down' })]).toEqual([]);
  });
});
