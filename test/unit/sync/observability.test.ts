import { afterEach, describe, expect, it } from 'vitest';
import { ConvergenceTracker } from '../../../controller/sync/convergence.ts';
import { ADMIN } from '../../helpers/api.ts';
import { syncLab, until, type SyncLab } from './support.ts';

// What the hub adds for observability: the request ids of a commit in its changes message, the
// agents' state and lag in /metrics, and API-to-dataplane convergence.

let lab: SyncLab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

const metric = async (l: SyncLab, series: string) => {
  const text = (await l.app.inject({ method: 'GET', url: '/metrics' })).body;
  const line = text.split('\n').find((s) => s.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

/** A request over real HTTP (not inject): the body arrives from a socket, as in production. */
const post = async (l: SyncLab, path: string, body: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(`${l.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-project-id': ADMIN.project, 'x-roles': 'admin', ...headers },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(201);
  return { id: res.headers.get('x-openstack-request-id')!, body: (await res.json()) as any };
};

describe('request ids in the change stream', () => {
  it("sends each commit's request id with its changes message; commits no request made carry none", async () => {
    lab = await syncLab();
    const a = lab.agent('host-a');
    await until(() => a.snapshots.length, 'snapshot');

    const mine = await post(lab, '/v2.0/networks', { network: { name: 'n1' } }, { 'x-openstack-request-id': 'req-trace-me' });
    expect(mine.id).toBe('req-trace-me');
    const rev1 = lab.store.revision;
    const generated = await post(lab, '/v2.0/networks', { network: { name: 'n2' } });
    expect(generated.id).toMatch(/^req-[0-9a-f-]{36}$/);
    const rev2 = lab.store.revision;
    // Another agent registering is a commit of the hub's own.
    const b = lab.agent('host-b');
    await until(() => b.snapshots.length, 'host-b snapshot');
    const rev3 = lab.store.revision;
    await until(() => a.changes.some((m) => m.revision === rev3), 'the three commits');

    const at = (r: number) => a.changes.find((m) => m.revision === r)!;
    expect(at(rev1).requestIds).toEqual(['req-trace-me']);
    expect(at(rev2).requestIds).toEqual([generated.id]);
    expect(at(rev3)).not.toHaveProperty('requestIds');
    // Through inject too (the tests' usual path).
    const injected = await lab.call(ADMIN, 'POST', '/v2.0/networks', { network: { name: 'n3' } }, { 'x-request-id': 'trace-2' });
    const rev4 = lab.store.revision;
    expect(injected.headers['x-openstack-request-id']).toBe('trace-2');
    await until(() => a.changes.some((m) => m.revision === rev4), 'the injected commit');
    expect(at(rev4).requestIds).toEqual(['trace-2']);
  });
});

describe('sync metrics', () => {
  it("shows agents alive and down, each one's applied revision and lag, and convergence once they applied", async () => {
    lab = await syncLab();
    const a = lab.agent('host-a');
    await until(() => a.snapshots.length, 'snapshot');
    expect(await metric(lab, 'weft_sync_agents{state="alive"}')).toBe(1);
    expect(await metric(lab, 'weft_sync_agent_applied_revision{host="host-a"}')).toBeUndefined(); // nothing reported yet

    await post(lab, '/v2.0/networks', { network: { name: 'n' } });
    const rev = lab.store.revision;
    await until(() => a.changes.some((m) => m.revision === rev), 'the change');
    expect(await metric(lab, 'weft_sync_convergence_seconds_count')).toBe(0);
    a.channel.reportApplied(rev);
    await until(async () => (await metric(lab!, 'weft_sync_agent_applied_revision{host="host-a"}')) === rev, 'the applied revision');
    expect(await metric(lab, 'weft_sync_agent_lag_revisions{host="host-a"}')).toBe(0);
    expect(await metric(lab, 'weft_model_revision')).toBe(rev);
    expect(await metric(lab, 'weft_sync_convergence_seconds_count')).toBe(1);
    expect(await metric(lab, 'weft_sync_convergence_seconds_bucket{le="+Inf"}')).toBe(1);

    // A commit the agent has not applied yet: it lags by one.
    await post(lab, '/v2.0/networks', { network: { name: 'n2' } });
    expect(await metric(lab, 'weft_sync_agent_lag_revisions{host="host-a"}')).toBe(1);
    expect(await metric(lab, 'weft_model_revision')).toBe(rev + 1);

    // Gone: down, its last applied revision kept.
    await a.channel.close();
    await until(async () => (await metric(lab!, 'weft_sync_agents{state="down"}')) === 1, 'the agent down');
    expect(await metric(lab, 'weft_sync_agents{state="alive"}')).toBe(0);
    expect(await metric(lab, 'weft_sync_agent_applied_revision{host="host-a"}')).toBe(rev);
  });
});

describe('ConvergenceTracker', () => {
  it('observes each commit once, when the lowest agent passes it, and forgets the oldest when full', () => {
    let now = 0;
    const seen: number[] = [];
    const t = new ConvergenceTracker((s) => seen.push(s), 3, () => now);
    t.committed(1);
    now = 1000;
    t.committed(2);
    now = 1500;
    t.passed(0);
    expect(seen).toEqual([]);
    t.passed(1);
    expect(seen).toEqual([1.5]);
    t.passed(1); // already observed
    expect(seen).toEqual([1.5]);
    now = 2000;
    t.committed(3);
    t.committed(4);
    t.committed(5); // full (3): revision 2 is dropped unmeasured
    expect(t.dropped).toBe(1);
    expect(t.pending).toBe(3);
    now = 3000;
    t.passed(4); // a report may pass several revisions at once
    expect(seen).toEqual([1.5, 1, 1]);
    expect(t.pending).toBe(1);
    t.clear();
    t.passed(10);
    expect(seen).toHaveLength(3);
    // Wraps around the ring.
    for (let r = 11; r < 20; r++) {
      t.committed(r);
      t.passed(r);
    }
    expect(seen).toHaveLength(12);
    expect(t.pending).toBe(0);
  });
});
