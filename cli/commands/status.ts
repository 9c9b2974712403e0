// weft status: the agents (alive, applied revision, lag behind the model's revision) and the ports
// that are not ACTIVE, with the host they are bound to.
import { ApiError } from '../client.ts';
import { emit, type CommandContext } from '../context.ts';
import { agentLag, formatStatus, type AgentStatus, type PortStatus, type StatusReport } from '../format.ts';

interface ApiAgent {
  id: string;
  host: string;
  alive: boolean;
  admin_state_up: boolean;
  configurations: { applied_revision: number | null };
  heartbeat_timestamp: string | null;
}

export async function statusCommand(ctx: CommandContext): Promise<void> {
  const c = ctx.client();
  const revision = c.get<{ status: { revision: number } }>('/v2.0/weft/status').then(
    (b) => b.status.revision,
    // An older controller without the endpoint: the report says the revision is unknown.
    (e) => (e instanceof ApiError && e.status === 404 ? null : Promise.reject(e)),
  );
  const fields = ['id', 'name', 'status', 'binding:host_id', 'device_owner'].map((f) => `fields=${encodeURIComponent(f)}`).join('&');
  const [rev, { agents }, { ports }] = await Promise.all([
    revision,
    c.get<{ agents: ApiAgent[] }>('/v2.0/agents'),
    c.get<{ ports: Array<Record<string, string>> }>(`/v2.0/ports?${fields}`),
  ]);
  const report: StatusReport = {
    controller: c.url,
    revision: rev,
    agents: agents
      .map((a): AgentStatus => {
        const applied = a.configurations.applied_revision;
        return {
          id: a.id, host: a.host, alive: a.alive, admin_state_up: a.admin_state_up, applied_revision: applied,
          lag: a.alive ? agentLag(rev, applied) : null, heartbeat_timestamp: a.heartbeat_timestamp,
        };
      })
      .sort((a, b) => a.host.localeCompare(b.host)),
    ports_not_active: ports
      .filter((p) => p.status !== 'ACTIVE')
      .map((p): PortStatus => ({ id: p.id!, name: p.name ?? '', status: p.status!, host: p['binding:host_id'] || null, device_owner: p.device_owner ?? '' }))
      .sort((a, b) => (a.host ?? '').localeCompare(b.host ?? '') || a.name.localeCompare(b.name)),
  };
  emit(ctx, report, () => formatStatus(report));
}
