// The state of each router's legs on this host (namespace.ts, LegState): 'active' (they answer)
// or 'silent' (a standby HA router, or an HA router while the agent fences itself off: built in
// full, its host-side veth ends down). A switch to active is one `ip -batch` (one for every router
// a pass switches: a failover promotes a whole gateway's routers at once) plus gratuitous ARPs
// for every IPv4 address of the router (interfaces, gateway, floating IPs), three a second apart,
// so that the switches of the external and provider networks learn the router's MACs here. The
// announcements wait until this host's flows for the model the switch was planned from are
// installed (flowsReady; at most FLOWS_WAIT_MS): a gratuitous ARP sent before br-int knows the
// router's ports as local would be dropped, and the next one is a second later.
import type { L3Ops } from './ops.ts';
import type { RouterPlan } from './manager-plan.ts';
import type { LegState, RouterSpec } from './namespace.ts';

/** How many gratuitous ARPs, a second apart, announce each address of a router that becomes active. */
export const ACTIVATION_ANNOUNCEMENTS = 3;

/** Every IPv4 address of every leg of the router (floating IPs are the gateway's /32s). PURE. */
export function activationAddresses(spec: RouterSpec): { iface: string; ip: string }[] {
  const out: { iface: string; ip: string }[] = [];
  for (const leg of [...(spec.gateway ? [spec.gateway] : []), ...spec.interfaces]) {
    for (const cidr of leg.addresses) {
      const ip = cidr.split('/')[0]!;
      if (ip.includes('.')) out.push({ iface: leg.name, ip });
    }
  }
  return out;
}

/** Longest wait for the flows before announcing anyway. */
export const FLOWS_WAIT_MS = 1000;

/** Where switchTogether logs (the manager's logger). */
export interface SwitchLog { info(obj: object, msg: string): void; warn(obj: object, msg: string): void }

type Background = (work: Promise<void>, context: Record<string, unknown>, message: string) => void;

/** Promises of "the flows are installed up to revision R", kept by the agent from its dataplane's reports. */
export class RevisionGate {
  private at = -1;
  private waiting: Array<{ revision: number; done: () => void }> = [];

  /** The dataplane installed everything up to `revision`. */
  reached(revision: number): void {
    this.at = Math.max(this.at, revision);
    const still: typeof this.waiting = [];
    for (const w of this.waiting) (w.revision <= this.at ? w.done() : still.push(w));
    this.waiting = still;
  }

  /** Resolves once `revision` is reached, or after `timeoutMs`. */
  wait(revision: number, timeoutMs = FLOWS_WAIT_MS): Promise<void> {
    if (revision <= this.at) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.waiting.push({ revision, done: () => { clearTimeout(timer); resolve(); } });
    });
  }
}

export class RouterLegs {
  private readonly state = new Map<string, LegState>();

  constructor(private readonly ops: Pick<L3Ops, 'setLegs' | 'announce' | 'announceMany'>, private readonly background: Background,
    private readonly flowsReady: () => Promise<void> = () => Promise.resolve()) {}

  get(id: string): LegState | undefined {
    return this.state.get(id);
  }

  /** What ensure() left the legs as. */
  set(id: string, legs: LegState): void {
    this.state.set(id, legs);
  }

  forget(id: string): void {
    this.state.delete(id);
  }

  /** Brings the legs of a built router to `want` (nothing when they are); announces its addresses when it becomes active. */
  async apply(id: string, ns: string, spec: RouterSpec, want: LegState): Promise<boolean> {
    if (this.state.get(id) === want) return false;
    if (!this.ops.setLegs) throw new Error('L3 ops cannot set router legs up or down');
    this.state.delete(id);
    await this.ops.setLegs([{ spec, legs: want }]);
    this.state.set(id, want);
    if (want === 'active') this.announce(id, ns, spec);
    return true;
  }

  /**
   * Brings the legs of these built routers to what each wants, all in one setLegs call, and
   * announces the ones that became active. Returns the routers switched. If the call fails, the
   * state of every router in it is unknown (forgotten): a per-router apply() redoes each one.
   */
  async applyAll(items: ReadonlyArray<{ id: string; ns: string; spec: RouterSpec; want: LegState }>): Promise<string[]> {
    const todo = items.filter(({ id, want }) => this.state.get(id) !== want);
    if (!todo.length) return [];
    if (!this.ops.setLegs) throw new Error('L3 ops cannot set router legs up or down');
    for (const { id } of todo) this.state.delete(id);
    await this.ops.setLegs(todo.map(({ spec, want }) => ({ spec, legs: want })));
    for (const { id, want } of todo) this.state.set(id, want);
    const active = todo.filter(({ want }) => want === 'active');
    if (active.length > 1 && this.ops.announceMany) {
      // Many routers at once: every address from one process (garp.py), not a process per address.
      const items = active.flatMap(({ ns, spec }) => activationAddresses(spec).map(({ iface, ip }) => ({ netns: ns, iface, ip })));
      const work = this.flowsReady().then(() => this.ops.announceMany!(items, ACTIVATION_ANNOUNCEMENTS));
      this.background(work, { routers: active.length, addresses: items.length }, 'gratuitous ARPs failed');
    } else for (const { id, ns, spec } of active) this.announce(id, ns, spec);
    return todo.map(({ id }) => id);
  }

  /**
   * applyAll for the routers of a pass whose legs alone switch (apply-key.ts), logged; if the batch
   * fails, the per-router apply that follows in the pass redoes each router (and logs its error).
   */
  async switchTogether(switches: ReadonlyArray<{ id: string; ns: string; plan: RouterPlan; want: LegState }>, log: SwitchLog): Promise<void> {
    if (!switches.length) return;
    const started = performance.now();
    try {
      await this.applyAll(switches.map(({ id, ns, plan, want }) => ({ id, ns, spec: plan.spec, want })));
      log.info({ routers: switches.length, ms: Math.round(performance.now() - started) }, 'router legs switched together');
      for (const { id, plan, want } of switches) log.info({ router: id, role: plan.role, legs: want }, 'router legs switched');
    } catch (e) {
      log.warn({ err: e, routers: switches.length }, 'router legs not switched together; one by one');
    }
  }

  /** Makes the active legs of these routers silent now (self-fence), all at once; a failure is logged. */
  async silence(routers: Array<{ id: string; spec: RouterSpec }>): Promise<void> {
    const active = routers.filter(({ id }) => this.state.get(id) === 'active');
    if (!active.length) return;
    for (const { id } of active) this.state.delete(id);
    const done = this.ops.setLegs!(active.map(({ spec }) => ({ spec, legs: 'silent' as const }))).then(() => {
      for (const { id } of active) this.state.set(id, 'silent');
    });
    this.background(done, { routers: active.map(({ id }) => id) }, 'router legs not silenced (the next pass retries)');
    await done.catch(() => undefined);
  }

  /** Gratuitous ARPs for every address of the router, in the background, once the flows are in. */
  announce(id: string, ns: string, spec: RouterSpec): void {
    const ready = this.flowsReady();
    for (const { iface, ip } of activationAddresses(spec)) {
      const work = ready.then(() => this.ops.announce(ns, iface, ip, ACTIVATION_ANNOUNCEMENTS));
      this.background(work, { router: id, address: ip }, 'gratuitous ARP failed');
    }
  }
}
