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

/** A port bound to `host` on `network`, through HTTP: a commit in that host's view. */
const portOn = (l: SyncLab, network: string, host: string, headers: Record<string, string> = {}) =>
  post(l, '/v2.0/ports', { port: { network_id: network, 'binding:host_id': host } }, headers);

describe('request ids in the change stream', () => {
  it("sends each commit's request id with its changes message; commits no request made carry none", async () => {
    lab = await syncLab();
    const a = lab.agent('host-a');
    await until(() => a.snapshots.length, 'snapshot');
    const net = (await post(lab, '/v2.0/networks', { network: { name: 'n1' } })).body.network.id as string;

    const mine = await portOn(lab, net, 'host-a', { 'x-openstack-request-id': 'req-trace-me' });
    expect(mine.id).toBe('req-trace-me');
    const rev1 = lab.store.revision;
    const generated = await portOn(lab, net, 'host-a');
    expect(generated.id).toMatch(/^req-[0-9a-f-]{36}$/);
    const rev2 = lab.store.revision;
    // Another agent registering is a commit of the hub's own (every agent is in every view).
    const b = lab.agent('host-b');
    await until(() => b.snapshots.length, 'host-b snapshot');
    const rev3 = lab.store.revision;
    await until(() => a.changes.some((m) => m.revision === rev3), 'the three commits');

    const at = (r: number) => a.changes.find((m) => m.revision === r)!;
    expect(at(rev1).requestIds).toEqual(['req-trace-me']);
    expect(at(rev2).requestIds).toEqual([generated.id]);
    expect(at(rev3)).not.toHaveProperty('requestIds');
    // Through inject too (the tests' usual path).
    const injected = await lab.call(ADMIN, 'POST', '/v2.0/ports', { port: { network_id: net, 'binding:host_id': 'host-a' } }, { 'x-request-id': 'trace-2' });
    const rev4 = lab.store.revision;
    expect(injected.headers['x-openstack-request-id']).toBe('trace-2');
    await until(() => a.changes.some((m) => m.revision === rev4), 'the injected commit');
    expect(at(rev4).requestIds).toEqual(['trace-2']);
  });
});

describe('sync metrics', () => {
  it("shows agents alive and down, the revision each is in step at and its lag, and convergence of what it was sent", async () => {
    lab = await syncLab();
    const a = lab.agent('host-a');
    await until(() => a.snapshots.length, 'snapshot');
    expect(await metric(lab, 'weft_sync_agents{state="alive"}')).toBe(1);
    expect(await metric(lab, 'weft_sync_agent_applied_revision{host="host-a"}')).toBeUndefined(); // nothing reported yet
    const net = (await post(lab, '/v2.0/networks', { network: { name: 'n' } })).body.network.id as string;

    await portOn(lab, net, 'host-a');
    const rev = lab.store.revision;
    await until(() => a.changes.some((m) => m.revision === rev), 'the change');
    expect(await metric(lab, 'weft_sync_convergence_seconds_count')).toBe(0);
    a.channel.reportApplied(rev);
    await until(async () => (await metric(lab!, 'weft_sync_agent_applied_revision{host="host-a"}')) === rev, 'the applied revision');
    expect(await metric(lab, 'weft_sync_agent_lag_revisions{host="host-a"}')).toBe(0);
    expect(await metric(lab, 'weft_model_revision')).toBe(rev);
    expect(await metric(lab, 'weft_sync_convergence_seconds_count')).toBe(1);
    expect(await metric(lab, 'weft_sync_convergence_seconds_bucket{le="+Inf"}')).toBe(1);

    // A commit outside its view: nothing to apply, it is in step at once, and nothing is measured.
    await post(lab, '/v2.0/networks', { network: { name: 'elsewhere' } });
    expect(await metric(lab, 'weft_sync_agent_applied_revision{host="host-a"}')).toBe(rev + 1);
    expect(await metric(lab, 'weft_sync_agent_lag_revisions{host="host-a"}')).toBe(0);
    expect(await metric(lab, 'weft_sync_convergence_seconds_count')).toBe(1);

    // A commit in its view that it has not applied yet: it lags by one.
    await portOn(lab, net, 'host-a');
    expect(await metric(lab, 'weft_sync_agent_lag_revisions{host="host-a"}')).toBe(1);
    expect(await metric(lab, 'weft_model_revision')).toBe(rev + 2);

    // Gone: down, the revision it was in step at kept.
    await a.channel.close();
    await until(async () => (await metric(lab!, 'weft_sync_agents{state="down"}')) === 1, 'the agent down');
    expect(await metric(lab, 'weft_sync_agents{state="alive"}')).toBe(0);
    expect(await metric(lab, 'weft_sync_agent_applied_revision{host="host-a"}')).toBe(rev + 1);
    expect(await metric(lab, 'weft_sync_convergence_seconds_count')).toBe(1);
  });
});

describe('ConvergenceTracker', () => {
  it('observes each commit once, when the last agent it was sent to applies it', () => {
    let now = 0;
    const seen: number[] = [];
    const t = new ConvergenceTracker((s) => seen.push(s), 3, () => now);
    t.committed(1, 2);
    now = 1000;
    t.committed(2, 1);
    now = 1500;
    t.applied(2); // commits complete in any order: they reach different agents
    expect(seen).toEqual([0.5]);
    t.applied(1);
    expect(seen).toEqual([0.5]); // one of its two agents
    now = 2000;
    t.applied(1);
    expect(seen).toEqual([0.5, 2]);
    t.applied(1); // already observed
    expect(seen).toEqual([0.5, 2]);
    expect(t.pending).toBe(0);
    // A commit that reached no agent is not measured.
    t.committed(3, 0);
    expect(t.pending).toBe(0);
  });

  it('stops waiting for an agent that goes away, and forgets the oldest when full', () => {
    let now = 0;
    const seen: number[] = [];
    const t = new ConvergenceTracker((s) => seen.push(s), 3, () => now);
    t.committed(1, 2);
    now = 400;
    t.applied(1);
    now = 9000;
    t.abandoned(1); // measured at the last agent that applied it
    expect(seen).toEqual([0.4]);
    t.committed(2, 1);
    t.abandoned(2); // nobody applied it: not measured
    expect(seen).toEqual([0.4]);
    expect(t.pending).toBe(0);
    for (const r of [3, 4, 5, 6]) t.committed(r, 1); // full (3): revision 3 is dropped unmeasured
    expect(t.dropped).toBe(1);
    expect(t.pending).toBe(3);
    t.applied(3);
    expect(seen).toEqual([0.4]);
    now = 10_000;
    t.applied(6);
    expect(seen).toEqual([0.4, 1]);
    expect(t.pending).toBe(2);
  });
});
