// What the commands print for people (--json prints the data itself): aligned tables and the
// status report. Pure.

/** Rows under a header, columns padded to their widest cell; empty cells print as '-'. */
export function table(header: readonly string[], rows: readonly (readonly (string | number | null | undefined)[])[]): string[] {
  const cells = rows.map((r) => header.map((_, i) => {
    const v = r[i];
    return v === null || v === undefined || v === '' ? '-' : String(v);
  }));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...cells.map(line)];
}

export interface AgentStatus {
  id: string;
  host: string;
  alive: boolean;
  admin_state_up: boolean;
  applied_revision: number | null;
  /** Revisions behind the controller; null when either revision is unknown. */
  lag: number | null;
  heartbeat_timestamp: string | null;
}

export interface PortStatus {
  id: string;
  name: string;
  status: string;
  host: string | null;
  device_owner: string;
}

export interface StatusReport {
  controller: string;
  /** The model's revision; null when the controller does not say (no /v2.0/weft/status). */
  revision: number | null;
  agents: AgentStatus[];
  ports_not_active: PortStatus[];
}

export function agentLag(revision: number | null, applied: number | null): number | null {
  return revision === null || applied === null ? null : Math.max(0, revision - applied);
}

export function formatStatus(r: StatusReport): string {
  const alive = r.agents.filter((a) => a.alive).length;
  const out = [`controller ${r.controller}, revision ${r.revision ?? 'unknown'}`, ''];
  out.push(`agents: ${r.agents.length} (${alive} alive)`);
  if (r.agents.length) {
    out.push(...table(['HOST', 'ALIVE', 'APPLIED', 'LAG', 'HEARTBEAT', 'ID'], r.agents.map((a) => [
      a.host, a.alive ? 'yes' : 'NO', a.applied_revision, a.lag, a.heartbeat_timestamp, a.id,
    ])).map((l) => `  ${l}`));
  }
  out.push('', `ports not ACTIVE: ${r.ports_not_active.length}`);
  if (r.ports_not_active.length) {
    out.push(...table(['ID', 'NAME', 'STATUS', 'HOST', 'OWNER'], r.ports_not_active.map((p) => [p.id, p.name, p.status, p.host, p.device_owner])).map((l) => `  ${l}`));
  }
  return out.join('\n');
}

/** "1.234 s" or "87 ms". */
export function formatDuration(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(3)} s` : `${Math.round(ms)} ms`;
}
