// What this agent knows of its BFD peers, and what the controller has been told. PURE.
//
// A peer counts as lost only once its session was up and went down: a session still coming up
// (after the agent or the peer started) says nothing about the underlay. The controller gets a
// peer's state when it changes (a delta), and everything after each welcome (full).
import { isolatedOnUnderlay } from './bfd-plan.ts';

export type Reach = 'up' | 'down';

export class PeerStates {
  private planned = new Set<string>();
  private readonly reach = new Map<string, Reach>();
  /** Changes not yet sent; null: forget the peer. */
  private pending = new Map<string, Reach | null>();

  /** The peers with a BFD port now; peers gone are forgotten (and the controller told). */
  setPlanned(hosts: Iterable<string>): void {
    this.planned = new Set(hosts);
    for (const h of [...this.reach.keys()]) if (!this.planned.has(h)) this.forget(h);
  }

  /** A session changed state; returns whether the controller has something new to hear. */
  update(host: string, r: Reach): boolean {
    if (!this.planned.has(host)) return false;
    const prev = this.reach.get(host);
    if (prev === undefined && r === 'down') return false;
    if (prev === r) return false;
    this.reach.set(host, r);
    this.pending.set(host, r);
    return true;
  }

  /** The peer's port went away. */
  forget(host: string): void {
    if (!this.reach.delete(host)) return;
    this.pending.set(host, null);
  }

  /** Peers lost (up once, down now) among the planned ones. */
  get lost(): number {
    let n = 0;
    for (const [h, r] of this.reach) if (r === 'down' && this.planned.has(h)) n++;
    return n;
  }

  get isolated(): boolean {
    return isolatedOnUnderlay(this.planned.size, this.lost);
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
