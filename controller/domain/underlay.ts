// Underlay failure of a gateway host, as its peers' BFD sessions see it (agent/underlay). PURE.
//
// Agents with a VTEP run BFD sessions to each other where at least one of the pair is a gateway
// host (schemas/agent/view.ts bfdPair; gateway-capable.ts) and report a peer 'down' when a session
// that was up goes down, and 'up' when it comes back. A host is underlay-dead when a strict
// majority of the hosts that have a session with it (its probers) report it down, and at least two
// do: with one prober, "the link of A is cut" and "the link of B is cut" look the same. A gateway
// host's probers are every other host with a VTEP, as in a full mesh. A compute host's are the
// gateway hosts only; its verdict moves nothing (it is in no HA router's gateway group, or it
// would be a gateway host) and keeps nothing from being promoted, so it is kept only because it
// costs nothing to keep the rule the same for every host.
// The isolated host itself sees a majority of its peers go down at the same moment and silences
// its HA routers (agent/underlay/bfd-plan.ts isolatedOnUnderlay, the same majority rule).

import { bfdPair } from '../../schemas/agent/view.ts';

export type UnderlayReach = 'up' | 'down';

type ProberAgent = { host?: string | null; tunnel_ip?: string | null; gateway_capable?: boolean | null };

/** The hosts that probe `target`: every other host with a VTEP that has a BFD session with it. */
export function probersOf(target: string, agents: Iterable<ProberAgent>): Set<string> {
  const all = [...agents];
  const self = all.find((a) => a.host === target) ?? {};
  const out = new Set<string>();
  for (const a of all) if (a.host && a.host !== target && a.tunnel_ip && bfdPair(self, a)) out.add(a.host);
  return out;
}

/** Whether `target` is underlay-dead: at least two probers, and a strict majority of them report it down. */
export function underlayDead(probers: ReadonlySet<string>, downVoters: ReadonlySet<string>): boolean {
  let votes = 0;
  for (const v of downVoters) if (probers.has(v)) votes++;
  return probers.size >= 2 && votes * 2 > probers.size;
}

/**
 * The reports held, as votes: for each target, the reporters that say it is down. Work per report
 * is proportional to the peers it names.
 */
export class UnderlayVotes {
  private readonly byReporter = new Map<string, Map<string, UnderlayReach>>();
  private readonly down = new Map<string, Set<string>>();

  /**
   * Folds in one report of `reporter` (a delta, or everything it knows when `full`). Returns the
   * targets whose votes changed.
   */
  apply(reporter: string, peers: Record<string, UnderlayReach | null>, full = false): Set<string> {
    const changed = new Set<string>();
    let held = this.byReporter.get(reporter);
    if (full && held) {
      for (const target of [...held.keys()]) if (!(target in peers)) this.set(reporter, held, target, null, changed);
    }
    if (!held) this.byReporter.set(reporter, (held = new Map()));
    for (const [target, reach] of Object.entries(peers)) this.set(reporter, held, target, reach, changed);
    if (!held.size) this.byReporter.delete(reporter);
    return changed;
  }

  /** The reporter is gone (its session closed): what it said no longer counts. */
  drop(reporter: string): Set<string> {
    const held = this.byReporter.get(reporter);
    const changed = new Set<string>();
    if (!held) return changed;
    for (const target of [...held.keys()]) this.set(reporter, held, target, null, changed);
    this.byReporter.delete(reporter);
    return changed;
  }

  /** The reporters that say `target` is down. */
  downVoters(target: string): ReadonlySet<string> {
    return this.down.get(target) ?? new Set();
  }

  /** The targets `reporter` says are down, sorted. */
  downOf(reporter: string): string[] {
    const held = this.byReporter.get(reporter);
    return held ? [...held].filter(([, r]) => r === 'down').map(([t]) => t).sort() : [];
  }

  /** Targets some reporter says are down. */
  targets(): IterableIterator<string> {
    return this.down.keys();
  }

  private set(reporter: string, held: Map<string, UnderlayReach>, target: string, reach: UnderlayReach | null, changed: Set<string>): void {
    if (target === reporter) return;
    const before = held.get(target);
    if (before === (reach ?? undefined)) return;
    if (reach === null) held.delete(target);
    else held.set(target, reach);
    let voters = this.down.get(target);
    if (reach === 'down') {
      if (!voters) this.down.set(target, (voters = new Set()));
      voters.add(reporter);
    } else if (voters) {
      voters.delete(reporter);
      if (!voters.size) this.down.delete(target);
    }
    if ((before === 'down') !== (reach === 'down')) changed.add(target);
  }
}
