// What the L3 manager applies for a router, as text, and the key it compares with what it applied
// last; and which routers of a pass need nothing but their legs switched (an HA promotion or
// demotion: the whole gateway's routers at a failover, switched in one batch, legs.ts). PURE.
import type { RouterPlan } from './manager-plan.ts';
import type { LegState, RouterSpec } from './namespace.ts';
import { routerFirewallRules } from './firewall-rules.ts';
import { floatingNatContents, floatingNatTableLine, type FloatingContents } from './floating-nat.ts';
import { routerRulesText } from './rules.ts';

export interface CompiledRouter {
  /** The namespace spec as JSON (a change means an ensure). */
  spec: string;
  /** The iptables text. */
  rules: string;
  /** The nft table line, and the floating IPs its sets and maps hold. */
  table: string | null;
  floating: FloatingContents;
  /** Everything above: equal to the last applied key, nothing but the legs can need work. */
  key: string;
}

/** Compiled plans: a plan is immutable once made (replan makes new ones), and a pass asks twice (legsOnlySwitches, then the apply). */
const compiledPlans = new WeakMap<RouterPlan, CompiledRouter>();

/** Throws when the router's rules cannot be compiled (only a model change can fix that). */
export function compileRouter(p: RouterPlan): CompiledRouter {
  let c = compiledPlans.get(p);
  if (!c) compiledPlans.set(p, (c = compileRouterNow(p)));
  return c;
}

function compileRouterNow(p: RouterPlan): CompiledRouter {
  const rules = routerRulesText(p.nat, routerFirewallRules(p.firewall));
  const table = floatingNatTableLine(p.nat);
  const floating = floatingNatContents(p.nat);
  const spec = JSON.stringify(p.spec);
  return { spec, rules, table, floating, key: `${spec}\n${rules}\n${table}\n${floating.elements}` };
}

/**
 * Whether `next` differs from `prev` in its gateway leg's /32s alone (a floating IP that came or
 * went): then the namespace needs no more than those. A change of the gateway's own address is a
 * whole ensure: the kernel drops the default route with the subnet's last address.
 */
export function onlyFloatingAddressesDiffer(prev: RouterSpec, next: RouterSpec): boolean {
  if (!prev.gateway || !next.gateway) return false;
  const rest = (s: RouterSpec) => {
    const gateway = s.gateway!;
    return JSON.stringify({ ...s, gateway: { ...gateway, addresses: gateway.addresses.filter((a) => !a.endsWith('/32')) } });
  };
  return rest(prev) === rest(next);
}

export interface LegSwitch { id: string; plan: RouterPlan; want: LegState }

/**
 * The routers among `ids` planned in `plan`, applied as planned (`appliedKey` equals their key),
 * whose legs are not as wanted: their legs alone must switch. Routers that changed otherwise, or
 * do not compile, are left to the per-router apply.
 */
export function legsOnlySwitches(ids: Iterable<string>, plan: ReadonlyMap<string, RouterPlan>, appliedKey: (id: string) => string | undefined,
  legsNow: (id: string) => LegState | undefined, wanted: (p: RouterPlan) => LegState): LegSwitch[] {
  const out: LegSwitch[] = [];
  for (const id of ids) {
    const p = plan.get(id);
    if (!p) continue;
    const want = wanted(p);
    if (legsNow(id) === want) continue;
    const applied = appliedKey(id);
    if (applied === undefined) continue;
    let key: string;
    try {
      key = compileRouter(p).key;
    } catch {
      continue;
    }
    if (key === applied) out.push({ id, plan: p, want });
  }
  return out;
}
