// Work that waits a while and can be hurried: flush() runs at once whatever still waits (at close).
export class DelayedWork {
  private readonly waiting = new Map<NodeJS.Timeout, () => void>();

  constructor(private readonly delayMs: number) {}

  /** Runs `work` after the delay (at once when the delay is 0). */
  schedule(work: () => void): void {
    if (this.delayMs <= 0) return work();
    const timer = setTimeout(() => {
      this.waiting.delete(timer);
      work();
    }, this.delayMs);
    this.waiting.set(timer, work);
  }

  flush(): void {
    const all = [...this.waiting];
    this.waiting.clear();
    for (const [timer, work] of all) {
      clearTimeout(timer);
      work();
    }
  }
}
