// The agent's L3 manager: makes this host's router namespaces match the model (agent/l3/
// manager-plan.ts computes what is wanted, namespace.ts and rules-apply.ts do the work).
//
// sync(model, touched) is called whenever the model takes in a batch, with the routers the batch can
// have changed (touched.ts) or 'all' (a snapshot). Passes run one at a time; a sync() that arrives
// while a pass runs makes exactly one more pass afterwards, with the model as it is then and every
// router touched meanwhile. A pass replans the touched routers and the ones that failed (all of
// them on 'all'), so its cost follows the change, not the number of routers on the host:
//   1. the first time (after the first snapshot): deletes router namespaces left from an earlier
//      run whose routers are not planned here;
//   2. deletes the namespaces of routers this manager set up that are no longer planned;
//   3. for each planned router whose spec, iptables text or floating IP table differs from what was
//      last applied: ensureRouterNamespace if the spec changed, applyRouterRules if the iptables
//      text changed, and the floating IP table with libnftables, or only the elements of its sets
//      and maps that changed in one netlink transaction (a remap is only this step, see
//      floating-nat.ts). Then, without waiting for them (background-work.ts): gratuitous ARPs for
//      new legs (announcements.ts) at once, and after `aftermathDelayMs` conntrack clean-up of the
//      floating IP mappings and port forwardings that went away and of legs whose firewall changed
//      (conntrack-cleanups.ts) and gratuitous ARPs for floating IPs that appeared or moved, the
//      ARPs in batches of one process each (announce-queue.ts).
//   4. HA (legs.ts): legs silent on a standby (built in full) and on HA routers while fenced
//      (self-fence.ts), else active; a change of role alone only switches the legs.
// A failure for one router is logged, marks it 'error', and is retried at the next pass (a retry
// pass is scheduled by itself after `retryMs`); it never stops the other routers.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { HostModel } from '../model/host-model.ts';
import type { OvsdbConnection } from '../ovsdb/connection.ts';
import { movedFloatingIps, newLegAddresses } from './announcements.ts';
import { BackgroundWork } from './background-work.ts';
import { replan, type RouterPlan } from './manager-plan.ts';
import { routerNamespaceName, type LegState, type RouterNamespaceOptions, type RouterSpec } from './namespace.ts';
import { defaultL3Ops, withDefaultOps, type L3Ops } from './ops.ts';
import { firewallChangeCleanups, stalePortForwardingCleanups, staleMappingCleanups } from './conntrack-cleanups.ts';
import type { FirewallPortSpec } from './firewall-rules.ts';
import { applyFloatingTable, type AppliedFloatingTable, type FloatingTableIo } from './floating-nat.ts';
import type { RouterNat } from './rules.ts';
import { compileRouter, legsOnlySwitches, onlyFloatingAddressesDiffer, type CompiledRouter } from './apply-key.ts';
import { RouterLegs } from './legs.ts';
import type { DeadManSwitch } from './dead-man.ts';
import { L3StatusBook, type FloatingIpState, type L3Status } from './statuses.ts';

export { routersTouched } from './touched.ts';
export { planRouter, routerPlan, ROUTER_GATEWAY_OWNER, ROUTER_INTERFACE_OWNER, type RouterPlan, type RouterRole } from './manager-plan.ts';
export { movedFloatingIps, newLegAddresses } from './announcements.ts';
export { defaultL3Ops, type L3Ops } from './ops.ts';
export type { FloatingIpState, L3Status, RouterState } from './statuses.ts';

export type L3Log = Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;

export interface L3ManagerOptions {
  host: string;
  /** Needed by the default ops (OVS ports of the router interfaces). */
  ovsdb?: OvsdbConnection;
  /** Passed to ensure/deleteRouterNamespace (bridge, namespace prefix, host netns, OVSDB write options). */
  namespace?: RouterNamespaceOptions;
  ops?: Partial<L3Ops>;
  log?: L3Log;
  /** Delay before a pass that retries failed routers. Default 5000 ms; 0 disables the timer. */
  retryMs?: number;
  /**
   * How long conntrack clean-ups and floating IP announcements wait after a change (default 100
   * ms; 0: at once). Traffic does not need them, and run at once they would compete for the CPU
   * with the first packets of a failover (each `conntrack -D` walks the kernel's conntrack hash).
   */
  aftermathDelayMs?: number;
  /** Resolves once this host's flows are installed up to a model revision (HA activation waits for it: legs.ts). */
  flowsApplied?: (revision: number) => Promise<void>;
  /** Sets the active HA routers' legs down if the agent dies (dead-man.ts). */
  deadMan?: Pick<DeadManSwitch, 'arm' | 'settle' | 'close'>;
}

interface Events {
  /** After a pass that changed some status: only the entries that changed since the last event. */
  status: [changes: L3Status];
  /** A router that changed was applied (or failed to be), and how long that took: for metrics. */
  routerApplied: [info: { router: string; ok: boolean; ms: number }];
}

const NOOP_LOG: L3Log = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined } as unknown as L3Log;

export class L3Manager extends EventEmitter<Events> {
  private readonly ops: L3Ops;
  private readonly log: L3Log;
  private readonly retryMs: number;
  /** Per router: the key (spec + rules text + floating IP table) last applied successfully. */
  private readonly appliedKey = new Map<string, string>();
  /** Per router: the namespace spec last ensured; a change of NAT alone (a remap) skips the ensure. */
  private readonly appliedSpec = new Map<string, string>();
  /** Per router: that spec as an object, for announcing the addresses of new legs. */
  private readonly ensuredSpec = new Map<string, RouterSpec>();
  /** Per router: the iptables text and the nft table line last applied (each step is skipped when unchanged). */
  private readonly appliedRules = new Map<string, string>();
  private readonly appliedTable = new Map<string, AppliedFloatingTable | null>();
  /** Per router: the NAT and firewall the kernel has (rules applied successfully), for conntrack cleanup. */
  private readonly effectiveNat = new Map<string, RouterNat>();
  private readonly effectiveFirewall = new Map<string, FirewallPortSpec[]>();
  /** Routers whose namespace this manager may have created (deleted when no longer planned). */
  private readonly owned = new Set<string>();
  private readonly book = new L3StatusBook();
  /** The routers planned on this host, as of the last pass. */
  private plan = new Map<string, RouterPlan>();
  /** Routers to replan at the next pass ('all': every one). */
  private dirty: Set<string> | 'all' = 'all';
  /** Routers whose last apply or delete failed: replanned at every pass until they succeed. */
  private readonly failedRouters = new Set<string>();
  private orphansChecked = false;
  private latest: HostModel | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Clean-ups and announcements (awaited by close()). */
  private readonly work: BackgroundWork;
  /** Whether each router's legs are active or silent. */
  private readonly legs: RouterLegs;
  /** Cut off from the controller for too long: every HA router silent (self-fence.ts). */
  private fenced = false;

  constructor(private readonly opts: L3ManagerOptions) {
    super();
    this.ops = withDefaultOps(opts.ops ?? {}, () => defaultL3Ops(opts.ovsdb, opts.namespace));
    this.log = opts.log ?? NOOP_LOG;
    this.retryMs = opts.retryMs ?? 5000;
    this.work = new BackgroundWork(this.ops, this.log, opts.aftermathDelayMs ?? 100);
    this.legs = new RouterLegs(this.ops, (w, c, m) => this.work.run(w, c, m), () => opts.flowsApplied?.(this.latest?.revision ?? 0) ?? Promise.resolve());
  }

  /** Fence (every HA router silent at once, then `silenced()`; a pass confirms it) or unfence. */
  async setFenced(on: boolean, silenced?: () => void): Promise<void> {
    if (this.fenced === on) return;
    this.fenced = on;
    this.log.warn({ routers: this.plan.size }, on ? 'fenced: every HA router silent' : 'unfenced: routers follow the model');
    if (on) await this.legs.silence([...this.plan].filter(([, p]) => p.ha).map(([id, p]) => ({ id, spec: p.spec })));
    silenced?.();
    if (this.latest) await this.sync(this.latest, [...this.plan.keys()]);
  }
  /** Fenced, HA routers go silent; the others stay (the controller never moves them off a lost host). */
  private legsWanted = (p: RouterPlan): LegState => (p.role === 'active' && !(this.fenced && p.ha) ? 'active' : 'silent');

  /**
   * Brings the namespaces in line with `model` for the routers in `touched` (every router: 'all');
   * resolves when a pass that saw this call is done. Never rejects.
   */
  sync(model: HostModel, touched: Iterable<string> | 'all' = 'all'): Promise<void> {
    this.latest = model;
    if (touched === 'all') this.dirty = 'all';
    else if (this.dirty !== 'all') for (const id of touched) this.dirty.add(id);
    if (this.closed) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop();
    return this.running;
  }

  /** Resolves when no pass is running. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** HA routers the last pass planned active on this host (a clean stop hands them over: handover.ts). */
  activeHaRouters(): string[] {
    return [...this.plan].filter(([, p]) => p.ha && p.role === 'active').map(([id]) => id);
  }

  /** Current statuses: routers planned here, and floating IPs of those routers. */
  statuses(): L3Status {
    return this.book.all();
  }

  /** The next status event (and takeStatusChanges) carries every status again, e.g. after a reconnect. */
  forgetReported(): void {
    this.book.forgetReported();
  }

  /** Status entries changed since the last call (floating IPs no longer active here become 'down'). */
  takeStatusChanges(): L3Status {
    return this.book.takeChanges((id) => this.latest?.get('floatingip', id) !== undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.idle();
    await this.opts.deadMan?.close();
    await this.work.drain();
    for (const id of this.owned) this.ops.releaseNft(this.nsName(id));
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        if (this.closed || !this.latest) break;
        try {
          await this.pass(this.latest);
        } catch (e) {
          this.log.error({ err: e }, 'L3 pass failed');
        }
      } while (this.again);
    } finally {
      this.running = undefined;
    }
    const changes = this.takeStatusChanges();
    if (Object.keys(changes.routers).length || Object.keys(changes.floatingips).length) this.emit('status', changes);
  }

  private nsName(routerId: string): string {
    return routerNamespaceName(routerId, this.opts.namespace?.namespacePrefix);
  }

  private async pass(model: HostModel): Promise<void> {
    // The model is shared with the dataplane and changes while we await: plan once, up front.
    const dirty = this.dirty;
    this.dirty = new Set();
    const { plan, before, considered } = replan(model, this.opts.host, this.plan, dirty, this.failedRouters);
    this.plan = plan;
    await this.opts.deadMan?.arm(plan, considered);
    let failed = false;

    if (!this.orphansChecked) {
      try {
        for (const id of await this.ops.list()) if (!plan.has(id)) this.owned.add(id);
        this.orphansChecked = true;
      } catch (e) {
        failed = true;
        this.log.error({ err: e }, 'could not list router namespaces');
      }
    }

    for (const id of [...this.owned]) {
      if (plan.has(id)) continue;
      try {
        this.ops.releaseNft(this.nsName(id));
        await this.ops.remove(id);
        this.owned.delete(id);
        this.forgetApplied(id);
        this.book.setRouter(id, undefined);
        this.log.info({ router: id }, 'router namespace deleted');
      } catch (e) {
        failed = true;
        this.log.error({ err: e, router: id }, 'could not delete router namespace; retrying later');
      }
    }
    for (const id of [...this.book.routerIds()]) if (!plan.has(id)) this.book.setRouter(id, undefined);

    // Routers whose legs alone switch (a failover's promotions) go first, all in one batch.
    const switches = legsOnlySwitches(considered, plan, (id) => this.appliedKey.get(id), (id) => this.legs.get(id), this.legsWanted);
    await this.legs.switchTogether(switches.map((x) => ({ ...x, ns: this.nsName(x.id) })), this.log);
    for (const id of considered) {
      const p = plan.get(id);
      if (!p) {
        this.failedRouters.delete(id);
      } else if (await this.applyRouter(id, p)) {
        this.failedRouters.delete(id);
      } else {
        failed = true;
        this.failedRouters.add(id);
      }
    }

    // All removals first: a floating IP that moved between two routers is set by the one it is on now.
    for (const id of considered) for (const f of before.get(id)?.floatingIpIds ?? []) this.book.setFloatingIp(f, undefined);
    for (const id of considered) {
      const p = plan.get(id);
      if (!p) continue;
      const state: FloatingIpState = this.book.router(id) === 'active' ? 'active' : 'down';
      for (const f of p.floatingIpIds) this.book.setFloatingIp(f, state);
    }

    await this.opts.deadMan?.settle(plan, considered, { legs: (id) => this.legs.get(id), present: (id) => this.owned.has(id), failed: (id) => this.failedRouters.has(id) });
    if (failed) this.scheduleRetry();
  }

  /** Applies one router if it changed; false if it failed and should be retried. */
  private async applyRouter(id: string, p: RouterPlan): Promise<boolean> {
    let compiled: CompiledRouter;
    try {
      compiled = compileRouter(p);
    } catch (e) {
      this.book.setRouter(id, 'error');
      this.log.error({ err: e, router: id }, 'router rules cannot be compiled (waiting for a model change)');
      return true; // not retried by the timer: only a model change can fix it
    }
    const { spec, rules, table, floating, key } = compiled;
    const ns = this.nsName(id);
    const legs = this.legsWanted(p);
    if (this.appliedKey.get(id) === key) return this.switchLegs(id, ns, p, legs);
    this.owned.add(id);
    const started = performance.now();
    try {
      if (this.appliedSpec.get(id) !== spec) {
        // Built as last ensured but for floating /32s on the gateway: those alone (a floating IP came or went).
        const built = this.appliedSpec.has(id) ? this.ensuredSpec.get(id) : undefined;
        this.appliedSpec.delete(id);
        if (built && this.ops.setGatewayAddresses && onlyFloatingAddressesDiffer(built, p.spec)) {
          await this.ops.setGatewayAddresses(p.spec);
        } else {
          this.legs.forget(id);
          await this.ops.ensure(p.spec, legs);
          this.legs.set(id, legs);
        }
        this.appliedSpec.set(id, spec);
        if (legs === 'active') {
          for (const { iface, ip } of newLegAddresses(this.ensuredSpec.get(id), p.spec)) {
            this.work.announce(ns, iface, ip, { router: id, address: ip });
          }
        }
        this.ensuredSpec.set(id, p.spec);
      }
      if (this.appliedRules.get(id) !== rules) {
        this.appliedRules.delete(id);
        await this.ops.applyRules(ns, rules);
        this.appliedRules.set(id, rules);
      }
      await applyFloatingTable(this.appliedTable, id, this.floatingIo(ns), table, floating);
      await this.legs.apply(id, ns, p.spec, legs);
    } catch (e) {
      this.appliedKey.delete(id);
      this.book.setRouter(id, 'error');
      this.log.error({ err: e, router: id }, 'router not applied; retrying later');
      this.emit('routerApplied', { router: id, ok: false, ms: performance.now() - started });
      return false;
    }
    const prevNat = this.effectiveNat.get(id);
    const natCleanups = [...staleMappingCleanups(prevNat, p.nat), ...stalePortForwardingCleanups(prevNat, p.nat)];
    const firewallCleanups = firewallChangeCleanups(this.effectiveFirewall.get(id), p.firewall, p.spec.interfaces);
    this.effectiveFirewall.set(id, p.firewall);
    const moved = movedFloatingIps(prevNat, p.nat);
    this.effectiveNat.set(id, p.nat);
    this.appliedKey.set(id, key);
    this.book.setRouter(id, 'active');
    this.log.info({ router: id, role: p.role, legs, interfaces: p.spec.interfaces.length, gateway: p.spec.gateway?.name, floatingIps: p.nat.floatingIps.length }, 'router applied');
    this.emit('routerApplied', { router: id, ok: true, ms: performance.now() - started });
    if (natCleanups.length || firewallCleanups.length || moved.length) {
      this.work.later(() => this.aftermath(id, ns, prevNat, natCleanups, firewallCleanups, moved));
    }
    return true;
  }

  /**
   * A change's clean-ups and announcements, as things stand when they run: a NAT clean-up whose
   * mapping is current again (a floating IP moved back meanwhile) is dropped, and so is the
   * announcement of a floating address the router no longer has; nothing runs for a router gone.
   */
  private aftermath(id: string, ns: string, prevNat: RouterNat | undefined, natCleanups: string[][], firewallCleanups: string[][], moved: string[]): void {
    const nat = this.effectiveNat.get(id);
    if (!nat) return;
    const stillStale = new Set([...staleMappingCleanups(prevNat, nat), ...stalePortForwardingCleanups(prevNat, nat)].map((a) => a.join(' ')));
    for (const args of [...natCleanups.filter((a) => stillStale.has(a.join(' '))), ...firewallCleanups]) {
      this.work.run(this.ops.conntrack(ns, args), { router: id, conntrack: args.join(' ') }, 'conntrack clean-up failed');
    }
    const mapped = new Set([...nat.floatingIps.map((f) => f.floating), ...nat.portForwardings.map((p) => p.floating)]);
    if (this.legs.get(id) !== 'active') return; // silent legs announce nothing
    for (const fip of moved.filter((f) => mapped.has(f))) {
      this.work.announce(ns, nat.gatewayInterface, fip, { router: id, floatingIp: fip });
    }
  }

  /** A router applied as it is: only its legs may have to switch (role or fence). */
  private async switchLegs(id: string, ns: string, p: RouterPlan, legs: LegState): Promise<boolean> {
    try {
      if (await this.legs.apply(id, ns, p.spec, legs)) this.log.info({ router: id, role: p.role, legs }, 'router legs switched');
      return true;
    } catch (e) {
      this.log.error({ err: e, router: id }, 'router legs not switched; retrying later');
      return false;
    }
  }

  private floatingIo(ns: string): FloatingTableIo {
    const sets = this.ops.nftSets;
    return { line: (line) => this.ops.nft(ns, line), ...(sets ? { sets: (table, updates) => sets(ns, table, updates) } : {}) };
  }

  private forgetApplied(id: string): void {
    this.legs.forget(id);
    this.appliedKey.delete(id);
    this.appliedSpec.delete(id);
    this.ensuredSpec.delete(id);
    this.appliedRules.delete(id);
    this.appliedTable.delete(id);
    this.effectiveNat.delete(id);
    this.effectiveFirewall.delete(id);
  }

  private scheduleRetry(): void {
    if (this.retryMs <= 0 || this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      // The failed routers are replanned at every pass; an unfinished orphan check needs them all.
      if (this.latest) void this.sync(this.latest, this.orphansChecked ? [] : 'all');
    }, this.retryMs);
    this.retryTimer.unref();
  }
}
