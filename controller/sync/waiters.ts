// Requests waiting for the dataplane (wait.ts): each waits for a condition the hub evaluates (its
// revision in step on every live agent, its ports up), re-checked when an agent reports or goes,
// and on a tick while anyone waits (an agent that stops heartbeating stops counting without a
// message saying so).

export type DataplaneOutcome = 'applied' | 'timeout';

/** Whether every live agent is in step at `revision` and the ports are up where they count. */
export type WaitCondition = (revision: number, portIds: readonly string[]) => boolean;

interface Waiter {
  readonly revision: number;
  readonly portIds: readonly string[];
  finish(outcome: DataplaneOutcome): void;
}

export class DataplaneWaiters {
  private readonly waiters = new Set<Waiter>();
  private tick: NodeJS.Timeout | undefined;
  private isClosed = false;

  constructor(private readonly satisfied: WaitCondition, private readonly tickMs: number) {}

  wait(revision: number, portIds: readonly string[], timeoutMs: number): Promise<DataplaneOutcome> {
    if (this.satisfied(revision, portIds)) return Promise.resolve('applied');
    if (this.isClosed || timeoutMs <= 0) return Promise.resolve('timeout');
    return new Promise((resolve) => {
      const timer = setTimeout(() => waiter.finish('timeout'), timeoutMs);
      const waiter: Waiter = {
        revision,
        portIds,
        finish: (outcome) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          if (!this.waiters.size) this.stopTick();
          resolve(outcome);
        },
      };
      this.waiters.add(waiter);
      this.startTick();
    });
  }

  check(): void {
    for (const w of [...this.waiters]) if (this.satisfied(w.revision, w.portIds)) w.finish('applied');
  }

  /** Every waiter answers 'timeout'; later waits too. */
  close(): void {
    this.isClosed = true;
    for (const w of [...this.waiters]) w.finish('timeout');
    this.stopTick();
  }

  private startTick(): void {
    if (this.tick) return;
    this.tick = setInterval(() => this.check(), this.tickMs);
    this.tick.unref();
  }

  private stopTick(): void {
    if (this.tick) clearInterval(this.tick);
    this.tick = undefined;
  }
}
