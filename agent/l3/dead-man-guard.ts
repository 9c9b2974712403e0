// What the L3 dead-man switch (dead-man.ts) guards: the host-side veth ends (`tr-...`) of the HA
// routers whose legs may be up on this host, which its watcher sets down if the agent dies. PURE.
//
// The guard is written ahead of the legs: a pass first guards every HA router it may make active
// (arm: role 'active' in the plan, fenced or not: guarding a silent leg costs nothing), and only
// after the pass drops what it left silent or removed (settle). So at no moment are the legs of an
// HA router up without being guarded, whatever instant the agent dies at. Routers without HA are
// never guarded: the controller never moves them, so a dead agent's router keeps forwarding.
// Both steps look only at the routers the pass considers (the only ones whose legs it can change),
// and the line is rebuilt only when an entry changed: a pass's cost still follows its change.
import { hostVethName, type LegState, type RouterSpec } from './namespace.ts';

/** What the guard needs of a router's plan (manager-plan.ts RouterPlan). */
export interface GuardedPlan {
  ha: boolean;
  role: 'active' | 'standby';
  spec: RouterSpec;
}

export interface SettleView {
  /** The router's legs as the manager knows them (undefined: unknown, e.g. a switch that failed midway). */
  legs(id: string): LegState | undefined;
  /** The router's namespace may still exist (not planned, but its removal has not succeeded yet). */
  present(id: string): boolean;
  /** The router's last apply failed: legs of its old spec may still be there. */
  failed(id: string): boolean;
}

/** The host-side veth ends of every leg of the router. */
export function legNames(spec: RouterSpec): string[] {
  return [...spec.interfaces, ...(spec.gateway ? [spec.gateway] : [])].map((i) => hostVethName(i.portId));
}

const union = (a: readonly string[], b: readonly string[]): string[] => [...new Set([...a, ...b])];
const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

export class LegGuard {
  /** Per router id: the host-side veth ends its watcher sets down. */
  private readonly entries = new Map<string, readonly string[]>();
  /** Guarded routers no longer planned whose namespace was not removed yet. */
  private readonly leaving = new Set<string>();
  private text = '';
  private stale = false;

  /** Before a pass over `ids`: every HA router among them that is active here is guarded (its legs old and new). */
  arm(plan: ReadonlyMap<string, GuardedPlan>, ids: Iterable<string>): void {
    for (const id of ids) {
      const p = plan.get(id);
      if (p?.ha && p.role === 'active') this.put(id, union(this.entries.get(id) ?? [], legNames(p.spec)));
    }
  }

  /** After a pass over `ids`: HA routers whose legs are not known silent stay, with their current legs; removed ones go. */
  settle(plan: ReadonlyMap<string, GuardedPlan>, ids: Iterable<string>, view: SettleView): void {
    for (const id of ids) {
      const p = plan.get(id);
      if (!p) {
        if (this.entries.has(id)) this.leaving.add(id);
        continue;
      }
      this.leaving.delete(id);
      if (!p.ha || view.legs(id) === 'silent') this.drop(id);
      else this.put(id, view.failed(id) ? union(this.entries.get(id) ?? [], legNames(p.spec)) : legNames(p.spec));
    }
    for (const id of this.leaving) {
      if (view.present(id)) continue;
      this.leaving.delete(id);
      this.drop(id);
    }
  }

  /** Guarded router ids (tests). */
  routers(): string[] {
    return [...this.entries.keys()];
  }

  /** The guard as one line for the watcher: every leg name once, sorted, space-separated ('' when none). */
  line(): string {
    if (this.stale) {
      this.text = [...new Set([...this.entries.values()].flat())].sort().join(' ');
      this.stale = false;
    }
    return this.text;
  }

  private put(id: string, names: readonly string[]): void {
    const old = this.entries.get(id);
    if (old && same(old, names)) return;
    this.entries.set(id, names);
    this.stale = true;
  }

  private drop(id: string): void {
    if (this.entries.delete(id)) this.stale = true;
  }
}
