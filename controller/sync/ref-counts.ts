// Reference counts for the per-host interest (interest.ts, interest-firewall.ts).

/** Reference counts that remember, between begin() and the next begin(), which keys were counted before. */
export class RefCounts {
  private readonly counts = new Map<string, number>();
  private readonly before = new Map<string, boolean>();

  has(key: string): boolean {
    return this.counts.has(key);
  }

  keys(): IterableIterator<string> {
    return this.counts.keys();
  }

  get size(): number {
    return this.counts.size;
  }

  add(key: string, delta: number): void {
    if (!this.before.has(key)) this.before.set(key, this.counts.has(key));
    const n = (this.counts.get(key) ?? 0) + delta;
    if (n < 0) throw new Error(`reference count of ${key} below zero`);
    if (n === 0) this.counts.delete(key);
    else this.counts.set(key, n);
  }

  /** Whether the key was counted at the last begin(). */
  was(key: string): boolean {
    return this.before.get(key) ?? this.counts.has(key);
  }

  /** Keys counted now and not at begin(), or the other way round. */
  flipped(): string[] {
    const out: string[] = [];
    for (const [key, was] of this.before) if (was !== this.counts.has(key)) out.push(key);
    return out;
  }

  begin(): void {
    this.before.clear();
  }

  clear(): void {
    this.counts.clear();
    this.before.clear();
  }
}
