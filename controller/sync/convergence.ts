// API-to-dataplane convergence: for each commit sent to agents, the time from the commit to the
// moment the last agent it was sent to reports having applied it. A commit reaches only the agents
// whose view it changes (routing.ts); one that reaches none has nothing to converge and is not
// measured. An agent that goes away (or gets a fresh snapshot) before applying a commit stops
// counting for it: the commit is measured when the others have applied it, or dropped unmeasured
// when no agent applied it. Pending commits are kept in commit order and bounded: when agents stall
// for longer than the tracker holds, the oldest are dropped unmeasured rather than growing memory.
// A commit costs one insert; each agent's report one update per commit it completes; no scan of
// agents or commits.

interface Pending {
  readonly at: number;
  /** Agents sent the commit that have neither applied it nor gone away. */
  waiting: number;
  /** When an agent last applied it (undefined: none has). */
  appliedAt: number | undefined;
}

export class ConvergenceTracker {
  /** Revision -> its commit; a Map iterates in insertion (= revision) order, so the first entry is the oldest. */
  private readonly commits = new Map<number, Pending>();
  /** Commits dropped unmeasured because the tracker was full. */
  dropped = 0;

  constructor(
    private readonly observe: (seconds: number) => void,
    readonly capacity = 4096,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(capacity >= 1)) throw new Error(`capacity must be >= 1, got ${capacity}`);
  }

  get pending(): number {
    return this.commits.size;
  }

  /** The commit at `revision` was sent to `agents` agents (none: nothing to measure). */
  committed(revision: number, agents: number): void {
    if (agents <= 0) return;
    if (this.commits.size === this.capacity) {
      this.commits.delete(this.commits.keys().next().value!);
      this.dropped++;
    }
    this.commits.set(revision, { at: this.now(), waiting: agents, appliedAt: undefined });
  }

  /** One agent it was sent to applied the commit at `revision`. */
  applied(revision: number): void {
    const c = this.commits.get(revision);
    if (!c) return;
    c.appliedAt = this.now();
    this.settle(revision, c);
  }

  /** One agent it was sent to will not report it (disconnected, or starts over from a snapshot). */
  abandoned(revision: number): void {
    const c = this.commits.get(revision);
    if (c) this.settle(revision, c);
  }

  private settle(revision: number, c: Pending): void {
    if (--c.waiting > 0) return;
    this.commits.delete(revision);
    if (c.appliedAt !== undefined) this.observe((c.appliedAt - c.at) / 1000);
  }
}
