// Which (rule, port) units have flows right now, by rule and by port.
//
// The engine calls affected() once per event, after the whole batch is in the model. When one batch
// both deletes a rule and takes a port out of its group (or unplugs it, or deletes it), neither event
// can find the other side any more: the rule is gone from rulesOfGroup and the port from
// membersOfGroup. The units of that pair must still be recompiled (to nothing), so compile()
// remembers the pairs whose units produced flows, and affected() names them too.
//
// The memory follows the last compile of each unit, so it assumes one DesiredFlows per HostModel
// (the agent's case); a full compile (units()) starts it afresh.
export class UnitPairs {
  private readonly byRule = new Map<string, Set<string>>();
  private readonly byPort = new Map<string, Set<string>>();

  /** Records that the unit of (rule, port) has flows (true) or none (false). */
  set(ruleId: string, portId: string, live: boolean): void {
    if (live) {
      add(this.byRule, ruleId, portId);
      add(this.byPort, portId, ruleId);
    } else {
      remove(this.byRule, ruleId, portId);
      remove(this.byPort, portId, ruleId);
    }
  }

  portsOf(ruleId: string): Iterable<string> {
    return this.byRule.get(ruleId) ?? [];
  }

  rulesOf(portId: string): Iterable<string> {
    return this.byPort.get(portId) ?? [];
  }
}

function add(m: Map<string, Set<string>>, k: string, v: string): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}

function remove(m: Map<string, Set<string>>, k: string, v: string): void {
  const s = m.get(k);
  if (!s?.delete(v)) return;
  if (s.size === 0) m.delete(k);
}
