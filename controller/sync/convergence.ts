// API-to-dataplane convergence: for each commit streamed to agents, the time from the commit to
// the moment the lowest live agent reports having applied its revision. Commits arrive in revision
// order, so their times sit in a FIFO ring (bounded: when the agents stall for longer than the ring
// holds, the oldest commits are dropped unmeasured rather than growing memory); each applied report
// pops the revisions the lowest agent has now passed. A commit costs one push, a report one pop per
// revision it completes: no scan of all commits, whatever the history.

export class ConvergenceTracker {
  private readonly revisions: Float64Array;
  private readonly times: Float64Array;
  /** Index of the oldest pending commit. */
  private head = 0;
  private size = 0;
  /** Commits dropped unmeasured because the ring was full. */
  dropped = 0;

  constructor(
    private readonly observe: (seconds: number) => void,
    readonly capacity = 4096,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(capacity >= 1)) throw new Error(`capacity must be >= 1, got ${capacity}`);
    this.revisions = new Float64Array(capacity);
    this.times = new Float64Array(capacity);
  }

  get pending(): number {
    return this.size;
  }

  /** A commit at `revision` was streamed to the agents. */
  committed(revision: number): void {
    if (this.size === this.capacity) {
      this.head = (this.head + 1) % this.capacity;
      this.size--;
      this.dropped++;
    }
    const at = (this.head + this.size) % this.capacity;
    this.revisions[at] = revision;
    this.times[at] = this.now();
    this.size++;
  }

  /** Every live agent has applied `revision` (the lowest of their applied revisions). */
  passed(revision: number): void {
    const now = this.now();
    while (this.size && this.revisions[this.head] <= revision) {
      this.observe((now - this.times[this.head]) / 1000);
      this.head = (this.head + 1) % this.capacity;
      this.size--;
    }
  }

  /** No agent is left to apply what is pending (they all went away): forget it. */
  clear(): void {
    this.head = 0;
    this.size = 0;
  }
}
