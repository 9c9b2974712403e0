// The agent's core loop, free of sockets: it folds the controller's snapshot and changes and the
// switch's port bindings into the host model, recompiles what they touch, hands the flow changes
// to the reconciler, and then says what it applied. Work is queued and processed one batch at a
// time, so a burst of changes costs one compile and one bundle.
import { EventEmitter } from 'node:events';
import type { ChangeEntry, PortState } from '../schemas/agent/channel.ts';
import type { ViewKind } from '../schemas/agent/view.ts';
import { DesiredFlows, type CompileState, type Feature, type FlowChanges, type HostConfig } from './features/engine.ts';
import { HostModel, type ModelEvent } from './model/host-model.ts';
import type { Flow } from './pipeline/flow.ts';

/** Where flows go: the reconciler (or a recorder in tests). */
export interface FlowSink {
  /** Make the switch hold exactly these flows (replay, then delete leftovers). */
  resync(desired: Iterable<Flow>): Promise<void>;
  apply(changes: FlowChanges): Promise<void>;
}

export interface AppliedReport {
  readonly revision: number;
  /** Local ports whose state changed since the last report. */
  readonly ports: Record<string, PortState>;
  /** The API request ids behind the controller changes in this batch that touched the host's view (absent when none), for the logs. */
  readonly requestIds?: readonly string[];
}

/** How long a batch took: compiling its flows, and everything from dequeue to flows installed. */
export interface BatchTiming {
  readonly compileMs: number;
  readonly totalMs: number;
  /** Folding the batch into the model (and the 'model' listeners: L3's replan). */
  readonly modelMs?: number;
  /** From the compile's end to the switch holding the flows (encode, bundle, commit). */
  readonly switchMs?: number;
  /** How many flow keys the batch changed. */
  readonly flowChanges?: number;
}

interface Events {
  /** The model took in a batch from the controller (before flows are compiled), with its events (all of them on a snapshot): for consumers of the model alone, like L3. */
  model: [events: readonly ModelEvent[], snapshot: boolean];
  applied: [report: AppliedReport];
  /** After each batch that reached the switch (before 'applied'): for metrics. */
  batch: [timing: BatchTiming];
  error: [error: Error];
}

type Work =
  | { type: 'snapshot'; revision: number; docs: Partial<Record<ViewKind, Record<string, unknown>[]>> }
  | { type: 'changes'; revision: number; changes: readonly ChangeEntry[]; requestIds?: readonly string[] }
  | { type: 'binding'; portId: string; ofport: number | undefined }
  | { type: 'resync' };

export class Dataplane extends EventEmitter<Events> {
  readonly model: HostModel;
  readonly engine: DesiredFlows;
  private readonly bindings = new Map<string, number>();
  private readonly state: CompileState;
  private queue: Work[] = [];
  private running: Promise<void> | undefined;
  private ready = false;
  private reported = new Map<string, PortState>();
  private idleWaiters: (() => void)[] = [];
  /** Milliseconds the last batch took from dequeue to flows installed. */
  lastBatchMs = 0;
  /** Where the last batch's time went (logged for slow batches: a failover's promotion). */
  lastBatch: BatchTiming = { compileMs: 0, totalMs: 0 };

  constructor(readonly host: HostConfig, features: readonly Feature[], private readonly sink: FlowSink) {
    super();
    this.model = new HostModel(host.host);
    this.engine = new DesiredFlows(features);
    this.state = { model: this.model, host, bindings: this.bindings };
  }

  snapshot(revision: number, docs: Partial<Record<ViewKind, Record<string, unknown>[]>>): void {
    // A snapshot replaces everything queued before it from the controller.
    this.queue = this.queue.filter((w) => w.type === 'binding' || w.type === 'resync');
    this.push({ type: 'snapshot', revision, docs });
  }

  changes(revision: number, changes: readonly ChangeEntry[], requestIds?: readonly string[]): void {
    this.push({ type: 'changes', revision, changes, requestIds });
  }

  plugged(portId: string, ofport: number): void {
    this.push({ type: 'binding', portId, ofport });
  }

  unplugged(portId: string): void {
    this.push({ type: 'binding', portId, ofport: undefined });
  }

  /** The switch lost or may have lost its flows (vswitchd restarted, reconnect): replay everything. */
  resync(): void {
    this.push({ type: 'resync' });
  }

  /** The controller connection was re-established: report every local port again. */
  forgetReported(): void {
    this.reported = new Map();
  }

  /** Reports the current revision as applied (after the sink repaired itself, e.g. by a resync). */
  reportApplied(): void {
    if (!this.ready || this.running) return;
    this.emit('applied', { revision: this.model.revision, ports: this.portChanges(true, []) });
  }

  /** Resolves when everything queued so far is processed. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  get revision(): number {
    return this.model.revision;
  }

  /** The plugged port on an ofport (a scan of the local bindings: for punted packets, not per flow). */
  portAtOfport(ofport: number): string | undefined {
    for (const [id, p] of this.bindings) if (p === ofport) return id;
    return undefined;
  }

  boundPorts(): ReadonlyMap<string, number> {
    return this.bindings;
  }

  private push(w: Work): void {
    this.queue.push(w);
    if (!this.running) this.running = this.drain();
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length) {
        const batch = this.queue;
        this.queue = [];
        try {
          await this.process(batch);
        } catch (e) {
          this.emit('error', e as Error);
        }
      }
    } finally {
      this.running = undefined;
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private async process(batch: readonly Work[]): Promise<void> {
    const started = performance.now();
    const events: ModelEvent[] = [];
    let full = false;
    let resync = false;
    let touchedAll = false;
    for (const w of batch) {
      if (w.type === 'snapshot') {
        events.push(...this.model.replace(w.revision, w.docs));
        if (!this.ready) full = true;
        this.ready = true;
        touchedAll = true;
      } else if (w.type === 'changes') {
        for (const c of w.changes) {
          const e = this.model.apply(c.kind as ViewKind, c.id, c.doc);
          if (e) events.push(e);
        }
        this.model.revision = Math.max(this.model.revision, w.revision);
      } else if (w.type === 'binding') {
        const prev = this.bindings.get(w.portId);
        if (prev === w.ofport) continue;
        if (w.ofport === undefined) this.bindings.delete(w.portId);
        else this.bindings.set(w.portId, w.ofport);
        events.push({ type: 'binding', portId: w.portId, prev, next: w.ofport });
      } else {
        resync = true;
      }
    }
    // Until the first snapshot the agent knows nothing: the switch keeps what it has.
    if (!this.ready) return;
    if (batch.some((w) => w.type === 'snapshot' || w.type === 'changes')) {
      this.emit('model', events, touchedAll);
      // One turn of the event loop before the compile (which holds the loop for its whole length):
      // what the model listeners started (L3's promotion of standby routers, whose first step waits
      // on a pipe write) gets going in parallel with it, instead of after it.
      if (!full && this.listenerCount('model') > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const compileStarted = performance.now();
    let compiled: number;
    let flowChanges = 0;
    if (full) {
      this.engine.full(this.state);
      this.engine.takeChanges();
      compiled = performance.now();
      await this.sink.resync(this.engine.flows());
    } else {
      this.engine.update(this.state, events);
      const changes = this.engine.takeChanges();
      flowChanges = changes.size;
      compiled = performance.now();
      if (resync) await this.sink.resync(this.engine.flows());
      else if (changes.size) await this.sink.apply(changes);
    }
    const ended = performance.now();
    this.lastBatchMs = ended - started;
    this.lastBatch = {
      compileMs: compiled - compileStarted, totalMs: this.lastBatchMs, modelMs: compileStarted - started, switchMs: ended - compiled, flowChanges,
    };
    this.emit('batch', this.lastBatch);
    // Only commits that changed this host's view: a request that does not concern the host leaves its log alone.
    const requestIds = batch.flatMap((w) => (w.type === 'changes' && w.changes.length && w.requestIds ? w.requestIds : []));
    this.emit('applied', {
      revision: this.model.revision, ports: this.portChanges(touchedAll, events), ...(requestIds.length ? { requestIds } : {}),
    });
  }

  /** Local ports whose up/down state differs from what was last reported. */
  private portChanges(all: boolean, events: readonly ModelEvent[]): Record<string, PortState> {
    const candidates = new Set<string>();
    if (all || this.reported.size === 0) {
      for (const p of this.model.all('port')) if (p['binding:host_id'] === this.host.host) candidates.add(p.id);
      for (const id of this.reported.keys()) candidates.add(id);
    }
    for (const e of events) candidates.add(e.type === 'binding' ? e.portId : e.id);
    const out: Record<string, PortState> = {};
    for (const id of candidates) {
      const port = this.model.get('port', id);
      if (!port || port['binding:host_id'] !== this.host.host) {
        this.reported.delete(id);
        continue;
      }
      const state: PortState = this.bindings.has(id) && port.admin_state_up ? 'up' : 'down';
      if (this.reported.get(id) !== state) {
        out[id] = state;
        this.reported.set(id, state);
      }
    }
    return out;
  }
}
