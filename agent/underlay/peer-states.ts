// What this agent knows of its BFD peers, and what the controller has been told. PURE.
//
// A peer counts as lost only once its session was up and went down: a session still coming up
// (after the agent or the peer started) says nothing about the underlay. The controller gets a
// peer's state when it changes (a delta), and everything after each welcome (full).
//
// A peer the controller says is lost (it moved the HA routers off that host: lostHostsMessage) is
// left out of the isolation majority while its session is down: once one gateway is gone, the
// survivor of a pair with one compute host would otherwise take a single missed BFD window to
// that host (it is busy promoting the routers) for being cut off itself, and silence them.
import { isolatedOnUnderlay } from './bfd-plan.ts';

export type Reach = 'up' | 'down';

/** How long the controller's word that a host is lost waits for its session to go down (BFD takes about 300 ms). */
export const LOST_MARK_WAIT_MS = 3000;

export class PeerStates {
  private planned = new Set<string>();
  private readonly reach = new Map<string, Reach>();
  /** Changes not yet sent; null: forget the peer. */
  private pending = new Map<string, Reach | null>();
  /** Peers said lost while their session was still up, with when: written off if it goes down soon. */
  private readonly marked = new Map<string, number>();
  /** Peers said lost and down: not counted until their session is up again. */
  private readonly writtenOff = new Set<string>();

  /** The peers with a BFD port now; peers gone are forgotten (and the controller told). */
  setPlanned(hosts: Iterable<string>): void {
    this.planned = new Set(hosts);
    for (const h of [...this.reach.keys()]) if (!this.planned.has(h)) this.forget(h);
    for (const h of [...this.marked.keys()]) if (!this.planned.has(h)) this.marked.delete(h);
  }

  /** The controller moved the HA routers off `host`; returns whether the isolation count changed. */
  markLost(host: string, now = Date.now()): boolean {
    if (!this.planned.has(host) || this.writtenOff.has(host)) return false;
    if (this.reach.get(host) === 'down') {
      this.writtenOff.add(host);
      return true;
    }
    this.marked.set(host, now);
    return false;
  }

  /** A session changed state; returns whether the controller has something new to hear. */
  update(host: string, r: Reach, now = Date.now()): boolean {
    if (!this.planned.has(host)) return false;
    const prev = this.reach.get(host);
    if (prev === undefined && r === 'down') return false;
    if (prev === r) return false;
    this.reach.set(host, r);
    const markedAt = this.marked.get(host);
    this.marked.delete(host);
    if (r === 'up') this.writtenOff.delete(host);
    else if (markedAt !== undefined && now - markedAt <= LOST_MARK_WAIT_MS) this.writtenOff.add(host);
    this.pending.set(host, r);
    return true;
  }

  /** The peer's port went away. */
  forget(host: string): void {
    this.marked.delete(host);
    this.writtenOff.delete(host);
    if (!this.reach.delete(host)) return;
    this.pending.set(host, null);
  }

  /** Peers lost (up once, down now) among the planned ones. */
  get lost(): number {
    let n = 0;
    for (const [h, r] of this.reach) if (r === 'down' && this.planned.has(h)) n++;
    return n;
  }

  /** Lost a majority of the peers that count (the ones the controller did not say are lost). */
  get isolated(): boolean {
    // Written-off peers are planned and down (setPlanned forgets the others).
    const off = this.writtenOff.size;
    return isolatedOnUnderlay(this.planned.size - off, this.lost - off);
  }

  /** Peers left out of the isolation majority now. */
  get uncounted(): number {
    return this.writtenOff.size;
  }

  /** The changes since the last call (and forgets them). */
  takeDelta(): Record<string, Reach | null> {
    const out = Object.fromEntries(this.pending);
    this.pending = new Map();
    return out;
  }

  /** Every known state (after a welcome); pending changes are included, so they are dropped. */
  takeFull(): Record<string, Reach> {
    this.pending = new Map();
    return Object.fromEntries(this.reach);
  }

  /** How many peers have a BFD port. */
  get peers(): number {
    return this.planned.size;
  }
}
