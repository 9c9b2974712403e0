// What the L3 dead-man switch (dead-man.ts) guards: the host-side veth ends (`tr-...`) of the HA
// routers whose legs may be up on this host, which its watcher sets down if the agent dies. PURE.
//
// The guard is written ahead of the legs: a pass first guards every HA router it may make active
// (armed: role 'active' in the new plan, fenced or not: guarding a silent leg costs nothing), and
// only after the pass drops what it left silent or removed (settled). So at no moment are the legs
// of an HA router up without being guarded, whatever instant the agent dies at. Routers without HA
// are never guarded: the controller never moves them, so a dead agent's router keeps forwarding.
import { hostVethName, type LegState, type RouterSpec } from './namespace.ts';

/** Per router id: the host-side veth ends its watcher sets down. */
export type Guard = ReadonlyMap<string, readonly string[]>;

/** What the guard needs of a router's plan (manager-plan.ts RouterPlan). */
export interface GuardedPlan {
  ha: boolean;
  role: 'active' | 'standby';
  spec: RouterSpec;
}

/** The host-side veth ends of every leg of the router. */
export function legNames(spec: RouterSpec): string[] {
  return [...spec.interfaces, ...(spec.gateway ? [spec.gateway] : [])].map((i) => hostVethName(i.portId));
}

const union = (a: readonly string[], b: readonly string[]): string[] => [...new Set([...a, ...b])];

/** Before a pass: the guard plus every HA router the pass may bring up (its legs old and new). */
export function armed(prev: Guard, plan: ReadonlyMap<string, GuardedPlan>): Guard {
  const next = new Map(prev);
  for (const [id, p] of plan) if (p.ha && p.role === 'active') next.set(id, union(prev.get(id) ?? [], legNames(p.spec)));
  return next;
}

export interface SettleView {
  /** The router's legs as the manager knows them (undefined: unknown, e.g. a switch that failed midway). */
  legs(id: string): LegState | undefined;
  /** The router's namespace may still exist (not planned, but its removal has not succeeded yet). */
  present(id: string): boolean;
  /** The router's last apply failed: legs of its old spec may still be there. */
  failed(id: string): boolean;
}

/** After a pass: HA routers whose legs are not known silent, and guarded routers not yet removed. */
export function settled(prev: Guard, plan: ReadonlyMap<string, GuardedPlan>, view: SettleView): Guard {
  const next = new Map<string, readonly string[]>();
  for (const [id, names] of prev) if (!plan.has(id) && view.present(id)) next.set(id, names);
  for (const [id, p] of plan) {
    if (!p.ha || view.legs(id) === 'silent') continue;
    const names = legNames(p.spec);
    next.set(id, view.failed(id) ? union(prev.get(id) ?? [], names) : names);
  }
  return next;
}

/** The guard as one line for the watcher: every leg name once, sorted, space-separated. */
export function guardLine(guard: Guard): string {
  return [...new Set([...guard.values()].flat())].sort().join(' ');
}
