// What the reconciler has been asked for and not done yet: the desired table (the last resync()
// plus every apply() since), the keys changed since the last apply step, and who waits for what.
// A resync takes everything queued before it (the desired table already holds those changes); an
// apply step takes every changed key at once, so consecutive change sets are coalesced and the
// last change of a key wins.
import type { FlowChanges } from '../features/engine.ts';
import type { Flow } from '../pipeline/flow.ts';

export interface Waiter {
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

/** One batch of work taken from the queue; `restore` puts it back when it could not be done. */
export interface Taken<T> {
  readonly work: T;
  readonly waiters: readonly Waiter[];
  restore(): void;
}

export class WorkQueue {
  /** undefined until the first resync: until then nothing is known, and nothing may be written. */
  private target: Map<string, Flow> | undefined;
  private dirty = new Set<string>();
  private applyWaiters: Waiter[] = [];
  private resyncWaiters: Waiter[] = [];

  get desired(): ReadonlyMap<string, Flow> | undefined {
    return this.target;
  }

  /** Change sets or resyncs are waiting. */
  get pendingApply(): boolean {
    return this.dirty.size > 0 || this.applyWaiters.length > 0;
  }

  get pendingResync(): boolean {
    return this.resyncWaiters.length > 0;
  }

  /** A new desired table; resolves when a resync that started after this call succeeded. */
  resync(desired: Map<string, Flow>): Promise<void> {
    this.target = desired;
    return this.wait(this.resyncWaiters);
  }

  /** Folds a change set into the desired table (ignored before the first resync, which supersedes it). */
  apply(changes: FlowChanges, onKey?: (key: string, f: Flow) => void): Promise<void> {
    if (this.target) {
      for (const [k, f] of changes) {
        if (f) {
          this.target.set(k, f);
          onKey?.(k, f);
        } else {
          this.target.delete(k);
        }
        this.dirty.add(k);
      }
    }
    return this.wait(this.applyWaiters);
  }

  /** Everything, for a resync: a snapshot of the desired table, and every waiter queued so far. */
  takeAll(): Taken<Map<string, Flow>> {
    const work = new Map(this.target);
    const resyncs = this.resyncWaiters.splice(0);
    const applies = this.applyWaiters.splice(0);
    const dirty = this.dirty;
    this.dirty = new Set();
    return {
      work, waiters: [...resyncs, ...applies],
      restore: () => {
        this.resyncWaiters.unshift(...resyncs);
        this.applyWaiters.unshift(...applies);
        for (const k of dirty) this.dirty.add(k);
      },
    };
  }

  /** The changed keys with their desired flow (null: delete), for an apply step, and their waiters. */
  takeChanges(): Taken<FlowChanges> {
    const keys = this.dirty;
    this.dirty = new Set();
    const waiters = this.applyWaiters.splice(0);
    const work: FlowChanges = new Map();
    for (const k of keys) work.set(k, this.target?.get(k) ?? null);
    return {
      work, waiters,
      restore: () => {
        this.applyWaiters.unshift(...waiters);
        for (const k of keys) this.dirty.add(k);
      },
    };
  }

  rejectAll(e: Error): void {
    for (const w of [...this.applyWaiters.splice(0), ...this.resyncWaiters.splice(0)]) w.reject(e);
  }

  private wait(list: Waiter[]): Promise<void> {
    return new Promise<void>((resolve, reject) => list.push({ resolve, reject }));
  }
}
