// The BFD ports' names, key, options and ofports, the peers chosen, and the isolation rule
// (agent/underlay/bfd-plan.ts); and the peer states the agent reports (peer-states.ts).
import { describe, expect, it } from 'vitest';
import {
  BFD_OFPORT_FIRST, BFD_OFPORT_LAST, BFD_TUNNEL_KEY, bfdInterface, bfdPeers, bfdPortName, bfdReach, freeBfdOfport, isolatedOnUnderlay,
} from '../../../agent/underlay/bfd-plan.ts';
import { LOST_MARK_WAIT_MS, PeerStates } from '../../../agent/underlay/peer-states.ts';
import { TUNNEL_OFPORT } from '../../../agent/host/bridges.ts';
import { loadConfig } from '../../../controller/config.ts';

describe('BFD ports', () => {
  it('are named by the peer VTEP, fit an interface name, and differ per address', () => {
    expect(bfdPortName('172.31.50.11')).toBe('bfd-ac1f320b');
    expect(bfdPortName('255.255.255.255')).toBe('bfd-ffffffff');
    expect(bfdPortName('0.0.0.1')).toBe('bfd-00000001');
    expect(Buffer.byteLength(bfdPortName('255.255.255.255'))).toBeLessThanOrEqual(15);
    expect(bfdPortName('10.0.0.1')).not.toBe(bfdPortName('10.0.1.0'));
  });

  it('use VNI 0, which no tenant network can get: the VNI ranges and segmentation ids start at 1', () => {
    expect(BFD_TUNNEL_KEY).toBe(0);
    expect(() => loadConfig({ WEFT_VNI_RANGES: '1:100' })).not.toThrow();
    expect(() => loadConfig({ WEFT_VNI_RANGES: '0:100' })).toThrow();
    expect(bfdInterface('10.0.0.1', '10.0.0.2')).toEqual({
      options: { remote_ip: '10.0.0.2', local_ip: '10.0.0.1', key: '0' },
      bfd: { enable: 'true', min_tx: '100', min_rx: '100', check_tnl_key: 'true' },
    });
  });

  it('take the lowest free ofport of their band, below the tunnel port', () => {
    expect(BFD_OFPORT_LAST).toBeLessThan(TUNNEL_OFPORT);
    expect(freeBfdOfport(new Set())).toBe(BFD_OFPORT_FIRST);
    expect(freeBfdOfport(new Set([BFD_OFPORT_FIRST, BFD_OFPORT_FIRST + 2]))).toBe(BFD_OFPORT_FIRST + 1);
  });

  it('from a gateway host, go to every other host with a VTEP, once per address', () => {
    const agents = [
      { host: 'me', tunnel_ip: '10.0.0.1', gateway_capable: true }, { host: 'b', tunnel_ip: '10.0.0.3' }, { host: 'a', tunnel_ip: '10.0.0.2' },
      { host: 'none', tunnel_ip: null }, { host: 'twin', tunnel_ip: '10.0.0.1' }, { host: 'a-old', tunnel_ip: '10.0.0.2' },
    ];
    expect(bfdPeers('10.0.0.1', agents, 'me')).toEqual([
      { host: 'a', ip: '10.0.0.2', name: 'bfd-0a000002' },
      { host: 'b', ip: '10.0.0.3', name: 'bfd-0a000003' },
    ]);
    expect(bfdPeers(null, agents, 'me')).toEqual([]);
  });

  it('from a compute host, go to the gateway hosts only, and follow the flags', () => {
    type Agent = { host: string; tunnel_ip: string; gateway_capable?: boolean };
    const agents: Agent[] = [
      { host: 'c1', tunnel_ip: '10.0.0.1', gateway_capable: false }, { host: 'c2', tunnel_ip: '10.0.0.2', gateway_capable: false },
      { host: 'c3', tunnel_ip: '10.0.0.3', gateway_capable: false }, { host: 'g1', tunnel_ip: '10.0.0.4', gateway_capable: true },
      { host: 'g2', tunnel_ip: '10.0.0.5', gateway_capable: true },
    ];
    const hosts = (list: Agent[], me: string) => bfdPeers(list.find((a) => a.host === me)!.tunnel_ip, list, me).map((p) => p.host);
    expect(hosts(agents, 'c1')).toEqual(['g1', 'g2']);
    expect(hosts(agents, 'g1')).toEqual(['c1', 'c2', 'c3', 'g2']);
    // c2 becomes a gateway host: c1 and c3 start a session to it; c2 runs one to everyone.
    const c2Gateway = agents.map((a) => (a.host === 'c2' ? { ...a, gateway_capable: true } : a));
    expect(hosts(c2Gateway, 'c1')).toEqual(['c2', 'g1', 'g2']);
    expect(hosts(c2Gateway, 'c2')).toEqual(['c1', 'c3', 'g1', 'g2']);
    // g2 stops being one: the compute hosts drop it, g1 keeps it.
    const g2Compute = agents.map((a) => (a.host === 'g2' ? { ...a, gateway_capable: false } : a));
    expect(hosts(g2Compute, 'c1')).toEqual(['g1']);
    expect(hosts(g2Compute, 'g2')).toEqual(['g1']);
    expect(hosts(g2Compute, 'g1')).toEqual(['c1', 'c2', 'c3', 'g2']);
    // A flag nobody set (a controller from before it) counts as a gateway host: never fewer
    // sessions than the full mesh had. So does this host before its own agent is in its view.
    const unflagged = agents.map((a) => (a.host === 'c3' ? { host: a.host, tunnel_ip: a.tunnel_ip } : a));
    expect(hosts(unflagged, 'c1')).toEqual(['c3', 'g1', 'g2']);
    expect(bfdPeers('10.0.0.9', agents, 'newcomer').map((p) => p.host)).toEqual(['c1', 'c2', 'c3', 'g1', 'g2']);
  });

  it('read bfd_status: up, down (also init/admin_down), or nothing yet', () => {
    expect(bfdReach({ state: 'up', forwarding: 'true' })).toBe('up');
    expect(bfdReach({ state: 'down' })).toBe('down');
    expect(bfdReach({ state: 'init' })).toBe('down');
    expect(bfdReach({})).toBeUndefined();
  });

  it('isolation: a strict majority of at least two peers lost', () => {
    expect(isolatedOnUnderlay(2, 2)).toBe(true);
    expect(isolatedOnUnderlay(2, 1)).toBe(false);
    expect(isolatedOnUnderlay(4, 2)).toBe(false);
    expect(isolatedOnUnderlay(4, 3)).toBe(true);
    expect(isolatedOnUnderlay(1, 1)).toBe(false);
  });
});

describe('peer states', () => {
  it('a peer is lost only once it was up; changes go out as deltas, everything after a welcome', () => {
    const s = new PeerStates();
    s.setPlanned(['g2', 'c1']);
    expect(s.update('g2', 'down')).toBe(false); // still coming up
    expect(s.update('g2', 'up')).toBe(true);
    expect(s.update('g2', 'up')).toBe(false);
    expect(s.update('c1', 'up')).toBe(true);
    expect(s.takeDelta()).toEqual({ g2: 'up', c1: 'up' });
    expect(s.takeDelta()).toEqual({});
    expect(s.update('g2', 'down')).toBe(true);
    expect(s.isolated).toBe(false);
    expect(s.update('c1', 'down')).toBe(true);
    expect(s.isolated).toBe(true);
    expect(s.takeFull()).toEqual({ g2: 'down', c1: 'down' });
    expect(s.takeDelta()).toEqual({});
    expect(s.update('x', 'up')).toBe(false); // not a peer
  });

  it('a peer that is no longer planned is forgotten and the controller told', () => {
    const s = new PeerStates();
    s.setPlanned(['g2', 'c1']);
    s.update('g2', 'up');
    s.update('c1', 'up');
    s.takeDelta();
    s.update('c1', 'down');
    s.setPlanned(['g2']);
    expect(s.takeDelta()).toEqual({ c1: null });
    expect(s.lost).toBe(0);
    expect(s.peers).toBe(1);
  });
  it('a host the controller says is lost is left out of the isolation majority while it is down', () => {
    const s = new PeerStates();
    s.setPlanned(['g1', 'c1']);
    s.update('g1', 'up', 0);
    s.update('c1', 'up', 0);
    // g1 dies: its session goes down, then the controller moves its routers here and says so.
    s.update('g1', 'down', 300);
    expect(s.markLost('g1', 400)).toBe(true);
    expect(s.markLost('g1', 400)).toBe(false);
    // One missed window to c1 is now one peer out of one: no majority to tell who is cut off.
    s.update('c1', 'down', 900);
    expect(s.isolated).toBe(false);
    s.update('c1', 'up', 1000);
    // g1 comes back: it counts again, and losing both is isolation again.
    s.update('g1', 'up', 5000);
    expect(s.uncounted).toBe(0);
    s.update('g1', 'down', 6000);
    s.update('c1', 'down', 6000);
    expect(s.isolated).toBe(true);
  });

  it('a lost mark that comes before the session goes down applies when it does, if soon', () => {
    const s = new PeerStates();
    s.setPlanned(['g1', 'c1']);
    s.update('g1', 'up', 0);
    s.update('c1', 'up', 0);
    expect(s.markLost('g1', 100)).toBe(false); // still up: held
    s.update('g1', 'down', 100 + LOST_MARK_WAIT_MS);
    s.update('c1', 'down', 100 + LOST_MARK_WAIT_MS);
    expect(s.isolated).toBe(false);
    // A mark that waited too long (the host was only cut off from the controller) is dropped.
    const t = new PeerStates();
    t.setPlanned(['g1', 'c1']);
    t.update('g1', 'up', 0);
    t.update('c1', 'up', 0);
    t.markLost('g1', 100);
    t.update('g1', 'down', 101 + LOST_MARK_WAIT_MS);
    t.update('c1', 'down', 101 + LOST_MARK_WAIT_MS);
    expect(t.isolated).toBe(true);
    // Not a peer: nothing to mark.
    expect(t.markLost('x')).toBe(false);
  });
});
