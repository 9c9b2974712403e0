// FlowReconciler: the only module that writes br-int's flows (DESIGN.md principles 6 and 7).
//
// It keeps two tables: `desired` (what the caller said the switch should hold: the last resync()
// plus every apply() since) and `installed` (what it knows is in the switch). One worker drains
// the work in order: a resync when the switch state is unknown (first use, reconnect, vswitchd
// restart, a failure), else one coalesced apply of every key changed since the last one. A change
// set becomes one ONF bundle (or a few, in order, above `maxBundleMessages`), and `installed` is
// updated only after a bundle committed.
//
// Restart protocol (resync.ts): replay every desired flow under this generation (an add replaces a
// flow with the same table/priority/match in place, so traffic never stops), dump the switch, and
// delete_strict whatever is not desired (an older generation, or a key nobody wants any more),
// each by its exact cookie. Never a flush.
//
// Reconnects: when the connection drops, the reconciler reconnects with backoff and resyncs to its
// own `desired` table by itself; the events are for logs and metrics. The caller's contract: call
// resync(all desired flows) once at start (before that nothing is written to the switch), then
// pass every change set (DesiredFlows.takeChanges) to apply(); resync(all) may be called again at
// any time and supersedes every change set passed before it.
//
// Errors: a change set with a flow the switch refuses (or that cannot be encoded) fails apply()
// with FlowRejectedError naming the flow; that bundle left switch and `installed` untouched, and a
// full resync follows after retryDelayMs, which installs everything else and leaves the refused
// flows out (reported again). Other failures (timeouts) close the connection and resync after a
// growing delay, never in a hot loop.
import { EventEmitter } from 'node:events';
import type { FlowChanges } from '../features/engine.ts';
import type { OpenFlowConnection } from '../openflow/connection.ts';
import { flowKey, type Flow } from '../pipeline/flow.ts';
import { sendBundles } from './bundles.ts';
import { FlowRejectedError, ReconcilerClosedError } from './errors.ts';
import { SwitchLink } from './link.ts';
import { CookieJar, planChanges, type InstalledFlow } from './plan.ts';
import { WorkQueue, type Taken } from './queue.ts';
import { resyncSwitch } from './resync.ts';
import {
  silentLogger, type ApplyInfo, type FlowReconcilerEvents, type FlowReconcilerOptions, type ReconcileLogger,
  type ReconcilerStats, type SyncInfo,
} from './types.ts';

export type * from './types.ts';

type Work = 'resync' | 'apply';

export class FlowReconciler extends EventEmitter<FlowReconcilerEvents> {
  readonly generation: number;
  private readonly opts: FlowReconcilerOptions;
  private readonly log: ReconcileLogger;
  private readonly cookies: CookieJar;
  private readonly maxBundle: number;
  private readonly link: SwitchLink;
  private readonly queue = new WorkQueue();
  private readonly counters = {
    bundlesSent: 0, flowModsSent: 0, applies: 0, lastApplyFlowMods: 0, lastApplyMs: 0,
    resyncs: 0, lastResyncMs: 0, failures: 0, rejectedFlows: 0,
  };
  private installedFlows = new Map<string, InstalledFlow>();
  private readonly keys = new WeakMap<Flow, string>();
  /** The switch state is unknown (start, lost connection, failure): the next step is a resync. */
  private needsResync = true;
  /** A resync is due at this time (after a refused change set). */
  private resyncDue: number | undefined;
  /** No step before this time (after a failure). */
  private holdUntil = 0;
  private consecutiveFailures = 0;
  private running = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(opts: FlowReconcilerOptions) {
    super();
    this.opts = opts;
    this.generation = opts.generation;
    this.cookies = new CookieJar(opts.generation);
    this.log = opts.logger ?? silentLogger;
    this.maxBundle = opts.maxBundleMessages ?? 20_000;
    if (!(this.maxBundle >= 1)) throw new Error(`maxBundleMessages must be >= 1, got ${this.maxBundle}`);
    this.link = new SwitchLink({
      connect: opts.connect, delayMs: opts.reconnectDelayMs ?? [100, 2000], log: this.log,
      onConnected: (again) => {
        this.log.info({ generation: this.generation, connects: this.link.connects }, 'connected to the switch');
        this.emit('connected');
        if (again) this.emit('reconnected');
      },
      onLost: (e) => {
        this.needsResync = true;
        this.log.warn({ err: e?.message }, 'switch connection lost; will reconnect and resync');
        this.emit('disconnected', e);
        this.kick();
      },
    });
  }

  /** What the reconciler knows is in the switch, by flow key. */
  get installed(): ReadonlyMap<string, InstalledFlow> {
    return this.installedFlows;
  }

  /** What the switch should hold, by flow key (empty before the first resync). */
  get desired(): ReadonlyMap<string, Flow> {
    return this.queue.desired ?? new Map();
  }

  get stats(): ReconcilerStats {
    return {
      ...this.counters,
      flowsInstalled: this.installedFlows.size,
      flowsDesired: this.queue.desired?.size ?? 0,
      connects: this.link.connects,
      connected: this.link.isUp,
    };
  }

  /** True when the switch is known to hold exactly the desired flows and nothing is pending. */
  get inSync(): boolean {
    return !this.running && !this.needsResync && this.resyncDue === undefined && this.link.isUp
      && !this.queue.pendingApply && !this.queue.pendingResync;
  }

  /**
   * Makes the switch hold exactly `desired` (replay, dump, delete leftovers); a map is taken as
   * keyed by flowKey already (saves computing the keys). Resolves when done (retrying through
   * reconnects and failures); rejects only when the reconciler is closed. Flows the switch refuses
   * are left out and reported ('error' event, SyncInfo.rejected of 'synced').
   */
  resync(desired: Iterable<Flow> | ReadonlyMap<string, Flow>): Promise<void> {
    if (this.closed) return Promise.reject(new ReconcilerClosedError());
    let m: Map<string, Flow>;
    if (desired instanceof Map) {
      m = new Map(desired as ReadonlyMap<string, Flow>);
    } else {
      m = new Map();
      for (const f of desired as Iterable<Flow>) m.set(this.keyOf(f), f);
    }
    this.needsResync = true;
    const done = this.queue.resync(m);
    this.kick();
    return done;
  }

  /**
   * Applies one change set (flow key -> new flow, or null to delete). Resolves when the changes are
   * in the switch; rejects with FlowRejectedError if the switch refused a flow (that bundle left the
   * switch and `installed` untouched, and a full resync follows after a delay), or when closed.
   * Pending change sets are coalesced (the last change of a key wins).
   */
  apply(changes: FlowChanges): Promise<void> {
    if (this.closed) return Promise.reject(new ReconcilerClosedError());
    const done = this.queue.apply(changes, (k, f) => this.keys.set(f, k));
    this.kick();
    return done;
  }

  /** Stops: closes the connection, rejects what waits. The switch keeps its flows. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.link.close();
    this.queue.rejectAll(new ReconcilerClosedError());
  }

  /** flowKey, remembered per flow object: a resync with the flows of an earlier one or of apply() needs no new keys. */
  private keyOf(f: Flow): string {
    let k = this.keys.get(f);
    if (k === undefined) {
      k = flowKey(f);
      this.keys.set(f, k);
    }
    return k;
  }

  private kick(): void {
    if (!this.running && !this.closed) void this.loop();
  }

  private nextWork(): Work | undefined {
    if (this.closed || !this.queue.desired) return undefined;
    const now = Date.now();
    if (now < this.holdUntil) {
      this.wakeAt(this.holdUntil);
      return undefined;
    }
    if (this.needsResync || this.queue.pendingResync) return 'resync';
    if (this.resyncDue !== undefined) {
      if (now >= this.resyncDue) return 'resync';
      this.wakeAt(this.resyncDue);
    }
    return this.queue.pendingApply ? 'apply' : undefined;
  }

  private wakeAt(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.nextWork()) {
        const conn = await this.link.get();
        if (!conn) return;
        const work = this.nextWork();
        if (work === 'resync') await this.runResync(conn);
        else if (work === 'apply') await this.runApply(conn);
      }
    } catch (e) {
      // Every step handles its own errors; reaching this is a bug in this file.
      this.log.error({ err: e }, 'flow reconciler loop failed');
    } finally {
      this.running = false;
    }
  }

  private retryDelay(): number {
    const [first, max] = this.opts.retryDelayMs ?? [1000, 30_000];
    return Math.min(first * 2 ** Math.max(0, this.consecutiveFailures - 1), max);
  }

  private report(e: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', e);
  }

  private async runResync(conn: OpenFlowConnection): Promise<void> {
    const taken = this.queue.takeAll();
    this.resyncDue = undefined;
    // Cleared now, so that a resync() or a connection loss during this run asks for another one.
    this.needsResync = false;
    const t0 = performance.now();
    try {
      const r = await resyncSwitch(conn, taken.work, {
        generation: this.generation, cookies: this.cookies, maxBundle: this.maxBundle, counters: this.counters,
        log: this.log, afterReplay: this.opts.afterReplay,
      });
      this.installedFlows = r.installed;
      this.consecutiveFailures = 0;
      const info: SyncInfo = {
        flows: r.installed.size, deleted: r.deleted, rejected: r.rejected, dumped: r.dumped, replayMs: r.replayMs,
        dumpMs: r.dumpMs, durationMs: performance.now() - t0,
      };
      this.counters.resyncs++;
      this.counters.lastResyncMs = info.durationMs;
      this.counters.rejectedFlows += r.rejected.length;
      this.log.info({ flows: info.flows, deleted: info.deleted, rejected: r.rejected.length, ms: Math.round(info.durationMs) },
        'switch flows resynced');
      if (r.rejected.length > 0) {
        const e = new FlowRejectedError(r.rejected, 'resync (the other flows are installed)');
        this.log.error({ err: e.message }, 'the switch rejected flows');
        this.report(e);
      }
      this.emit('synced', info);
      for (const w of taken.waiters) w.resolve();
    } catch (e) {
      this.failed(conn, e as Error, 'resync', taken);
    }
  }

  private async runApply(conn: OpenFlowConnection): Promise<void> {
    const taken = this.queue.takeChanges();
    const t0 = performance.now();
    const bundlesBefore = this.counters.bundlesSent;
    try {
      const planned = planChanges(this.installedFlows, taken.work, this.cookies);
      await sendBundles(conn, planned, this.maxBundle, this.counters, (part) => {
        for (const p of part) {
          if (p.after) this.installedFlows.set(p.key, p.after);
          else this.installedFlows.delete(p.key);
        }
      }, 'apply');
      const info: ApplyInfo = {
        flowMods: planned.length, bundles: this.counters.bundlesSent - bundlesBefore, durationMs: performance.now() - t0,
      };
      this.counters.applies++;
      this.counters.lastApplyFlowMods = info.flowMods;
      this.counters.lastApplyMs = info.durationMs;
      this.consecutiveFailures = 0;
      this.emit('applied', info);
      for (const w of taken.waiters) w.resolve();
    } catch (e) {
      if (!(e instanceof FlowRejectedError)) {
        this.failed(conn, e as Error, 'apply', taken);
        return;
      }
      // The bundle was discarded: switch and `installed` are as before, and stay consistent, so
      // later change sets go on. The good part of this one comes with a full resync, later.
      this.counters.failures++;
      this.counters.rejectedFlows += e.rejected.length;
      this.consecutiveFailures++;
      this.resyncDue = Date.now() + this.retryDelay();
      this.log.error({ err: e.message, resyncInMs: this.resyncDue - Date.now() }, 'the switch rejected a change set');
      this.report(e);
      for (const w of taken.waiters) w.reject(e);
    }
  }

  /**
   * A step failed for another reason than a refused flow: its work goes back to the queue, the
   * switch state is unknown, and the next step is a resync. A dropped connection reconnects with
   * its own backoff; anything else (a timeout, an unexpected reply) counts as a failure, closes the
   * connection (the switch discards any open bundle) and holds the next attempt back.
   */
  private failed(conn: OpenFlowConnection, e: Error, what: string, taken: Taken<unknown>): void {
    taken.restore();
    this.needsResync = true;
    if (this.closed) {
      this.queue.rejectAll(new ReconcilerClosedError());
      return;
    }
    if (conn.isClosed) {
      this.log.warn({ err: e.message }, `${what} interrupted by the connection loss; resync follows`);
      return;
    }
    this.counters.failures++;
    this.consecutiveFailures++;
    this.holdUntil = Date.now() + this.retryDelay();
    this.log.error({ err: e.message, retryInMs: this.holdUntil - Date.now() }, `${what} failed; resync follows`);
    this.report(e);
    conn.close(new Error(`${what} failed: ${e.message}`));
  }
}
