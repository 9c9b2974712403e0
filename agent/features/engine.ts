// The compile engine: feature compilers declare their flows in *units* (a port, a rule, a
// network's flood list...), and the engine keeps the desired flow table as the union of all
// units. A change recompiles only the units the features say it affects, so the work follows
// the size of the change, not of the deployment. test/unit/features/incremental.test.ts checks
// that incremental results equal a full recompile for every kind of change.
import type { Action } from '../openflow/actions.ts';
import type { HostModel, ModelEvent } from '../model/host-model.ts';
import type { FeatureName } from '../pipeline/fields.ts';
import { flowKey, type Flow } from '../pipeline/flow.ts';

/** What this host is: its name, tunnel endpoint and uplinks (from config and bridge set-up). */
export interface HostConfig {
  readonly host: string;
  readonly tunnelIp: string | null;
  /** physical network -> bridge */
  readonly bridgeMappings: Readonly<Record<string, string>>;
  /** br-int ofport of the VXLAN port (remote_ip=flow), or null without tunnels. */
  readonly tunnelOfport: number | null;
  /** physical network -> br-int ofport of the patch port to its bridge. */
  readonly uplinks: Readonly<Record<string, number>>;
}

export interface CompileState {
  readonly model: HostModel;
  readonly host: HostConfig;
  /** Plugged local ports: port id -> ofport (from OVSDB external_ids:iface-id). */
  readonly bindings: ReadonlyMap<string, number>;
}

export interface Feature {
  readonly name: FeatureName;
  /** Every unit the feature has in this state (used by a full compile). */
  units(s: CompileState): Iterable<string>;
  /** The flows of one unit in this state; [] when the unit no longer exists. */
  compile(s: CompileState, unit: string): readonly Flow[];
  /**
   * Units whose flows may differ after this event. Called after the model changed; the event
   * carries the document before and after, so units of a deleted object can still be named.
   */
  affected(s: CompileState, e: ModelEvent): Iterable<string>;
}

/** flowKey per flow object (flows are immutable): a unit's old flows are keyed again when it is recompiled. */
const keys = new WeakMap<Flow, string>();
function keyOf(f: Flow): string {
  let k = keys.get(f);
  if (k === undefined) keys.set(f, (k = flowKey(f)));
  return k;
}

/** A flow key whose desired flow changed: the new flow, or null when it is gone. */
export type FlowChanges = Map<string, Flow | null>;

export class DesiredFlows {
  /** `${feature}|${unit}` -> its flows */
  private readonly units = new Map<string, readonly Flow[]>();
  /** flow key -> unit id -> that unit's flow with this key */
  private readonly byKey = new Map<string, Map<string, Flow>>();
  private readonly merged = new Map<string, Flow>();
  private changed = new Set<string>();
  /** Flow keys two units both claimed with actions that cannot be merged (a bug in a compiler). */
  readonly conflicts = new Set<string>();

  constructor(readonly features: readonly Feature[]) {}

  get size(): number {
    return this.merged.size;
  }

  flows(): IterableIterator<Flow> {
    return this.merged.values();
  }

  get(key: string): Flow | undefined {
    return this.merged.get(key);
  }

  /** Recompiles everything from scratch. */
  full(s: CompileState): void {
    const seen = new Set<string>();
    const touched = new Set<string>();
    for (const f of this.features) {
      for (const unit of f.units(s)) {
        const id = `${f.name}|${unit}`;
        if (seen.has(id)) continue;
        seen.add(id);
        this.setUnit(id, f.compile(s, unit), touched);
      }
    }
    for (const id of [...this.units.keys()]) if (!seen.has(id)) this.setUnit(id, [], touched);
    for (const key of touched) this.remerge(key);
  }

  /** Recompiles the units these events affect. Returns how many units were recompiled. */
  update(s: CompileState, events: readonly ModelEvent[]): number {
    const dirty = new Map<string, [Feature, string]>();
    for (const e of events) {
      for (const f of this.features) {
        for (const unit of f.affected(s, e)) dirty.set(`${f.name}|${unit}`, [f, unit]);
      }
    }
    const touched = new Set<string>();
    for (const [id, [f, unit]] of dirty) this.setUnit(id, f.compile(s, unit), touched);
    for (const key of touched) this.remerge(key);
    return dirty.size;
  }

  /** Flow keys changed since the last call, with their current desired flow (null = delete). */
  takeChanges(): FlowChanges {
    const out: FlowChanges = new Map();
    for (const key of this.changed) out.set(key, this.merged.get(key) ?? null);
    this.changed = new Set();
    return out;
  }

  /**
   * Replaces a unit's flows and adds the flow keys it touched to `touched`; the caller remerges
   * each touched key once after all its units are set (a key shared by many units, such as a
   * conjunction clause, would otherwise be merged again for every unit: quadratic in a full compile).
   */
  private setUnit(id: string, flows: readonly Flow[], touched: Set<string>): void {
    const old = this.units.get(id) ?? [];
    if (old.length === 0 && flows.length === 0) return;
    for (const f of old) {
      const key = keyOf(f);
      this.byKey.get(key)?.delete(id);
      touched.add(key);
    }
    for (const f of flows) {
      const key = keyOf(f);
      let m = this.byKey.get(key);
      if (!m) this.byKey.set(key, (m = new Map()));
      if (m.has(id)) throw new Error(`unit ${id} produced flow ${key} twice`);
      m.set(id, f);
      touched.add(key);
    }
    if (flows.length) this.units.set(id, flows);
    else this.units.delete(id);
  }

  private remerge(key: string): void {
    const contributions = this.byKey.get(key);
    const before = this.merged.get(key);
    let after: Flow | undefined;
    this.conflicts.delete(key);
    if (!contributions || contributions.size === 0) {
      this.byKey.delete(key);
    } else if (contributions.size === 1) {
      after = contributions.values().next().value;
    } else {
      after = this.mergeConjunctions(key, contributions);
    }
    if (after) this.merged.set(key, after);
    else this.merged.delete(key);
    if (before !== after) this.changed.add(key);
  }

  /** Several units may share a match only to add conjunction clauses to it (OVS merges nothing itself). */
  private mergeConjunctions(key: string, contributions: Map<string, Flow>): Flow {
    const ids = [...contributions.keys()].sort();
    const first = contributions.get(ids[0])!;
    const actions: Action[] = [];
    for (const id of ids) {
      const f = contributions.get(id)!;
      if (f.goto || f.actions.some((a) => a.type !== 'conjunction')) {
        this.conflicts.add(key);
        return first;
      }
      actions.push(...f.actions);
    }
    const seen = new Set<string>();
    const unique = actions
      .filter((a) => a.type === 'conjunction')
      .sort((a, b) => a.id - b.id || a.clause - b.clause)
      .filter((a) => {
        const k = `${a.id}/${a.clause}`;
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      });
    return Object.freeze({ ...first, object: `shared:${key}`, actions: Object.freeze(unique) });
  }
}
