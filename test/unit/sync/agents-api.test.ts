import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { registerAgent } from '../../../controller/sync/agents.ts';
import { ADMIN, ALICE, testApi, type TestApi } from '../../helpers/api.ts';
import { booleanish, nastyString } from '../../helpers/arbitraries.ts';
import { fuzzEndpoint, resourceEndpoints, type ResourceFuzz } from '../api/fuzz-support.ts';
import { syncLab, until, type SyncLab } from './support.ts';

// GET/PUT/DELETE /v2.0/agents: Neutron's agent extension, admin-only.

let lab: SyncLab | undefined;
let api: TestApi | undefined;
afterEach(async () => {
  await lab?.close();
  await api?.close();
  lab = undefined;
  api = undefined;
});

async function twoAgents() {
  const l = (lab = await syncLab());
  const a = l.agent('host-a', { tunnelIp: '192.0.2.1' });
  const b = l.agent('host-b', { tunnelIp: '192.0.2.2' });
  await until(() => a.snapshots.length && b.snapshots.length, 'snapshots');
  return { l, a, b };
}

describe('agents API', () => {
  it('lists agents with Neutron filters, fields, sorting and paging', async () => {
    const { l, a } = await twoAgents();
    const list = async (q: string) => {
      const res = await l.call(ADMIN, 'GET', `/v2.0/agents${q}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body;
    };
    expect((await list('')).agents.map((x: any) => x.host).sort()).toEqual(['host-a', 'host-b']);
    expect((await list('?host=host-a')).agents.map((x: any) => x.id)).toEqual([a.channel.agentId]);
    expect((await list('?agent_type=Open%20vSwitch%20agent')).agents).toHaveLength(2);
    expect((await list('?agent_type=DHCP%20agent')).agents).toHaveLength(0);
    expect((await list('?binary=weft-agent&alive=true&admin_state_up=True')).agents).toHaveLength(2);
    expect((await list('?alive=false')).agents).toHaveLength(0);
    expect((await list('?fields=host&fields=alive&host=host-b')).agents).toEqual([{ host: 'host-b', alive: true }]);
    expect((await list('?sort_key=host&sort_dir=desc')).agents.map((x: any) => x.host)).toEqual(['host-b', 'host-a']);
    const page = await list('?limit=1&sort_key=host');
    expect(page.agents.map((x: any) => x.host)).toEqual(['host-a']);
    expect(page.agents_links.map((x: any) => x.rel)).toEqual(['next', 'previous']);
    const bad = await l.call(ADMIN, 'GET', '/v2.0/agents?colour=red');
    expect(bad.status).toBe(400);
    expect(bad.body.NeutronError.message).toContain('colour');
  });

  it('shows, updates and deletes an agent (admin only)', async () => {
    const { l, a } = await twoAgents();
    const id = a.channel.agentId!;
    const show = await l.call(ADMIN, 'GET', `/v2.0/agents/${id}`);
    expect(show.status).toBe(200);
    expect(show.body.agent).toMatchObject({ id, host: 'host-a', alive: true });
    expect((await l.call(ADMIN, 'GET', `/v2.0/agents/${id}?fields=id`)).body.agent).toEqual({ id });
    const missing = await l.call(ADMIN, 'GET', '/v2.0/agents/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.NeutronError.type).toBe('AgentNotFound');

    const put = await l.call(ADMIN, 'PUT', `/v2.0/agents/${id}`, { agent: { admin_state_up: false, description: 'maintenance' } });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.agent).toMatchObject({ id, admin_state_up: false, description: 'maintenance', alive: true });
    expect((await l.call(ADMIN, 'GET', '/v2.0/agents?admin_state_up=false')).body.agents.map((x: any) => x.id)).toEqual([id]);
    const rev = l.store.revision;
    expect((await l.call(ADMIN, 'PUT', `/v2.0/agents/${id}`, { agent: { description: 'maintenance' } })).status).toBe(200);
    expect(l.store.revision).toBe(rev); // no change, no write
    for (const body of [{ agent: { host: 'x' } }, { agent: { admin_state_up: 'maybe' } }, { agents: {} }, []]) {
      const res = await l.call(ADMIN, 'PUT', `/v2.0/agents/${id}`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect((await l.call(ADMIN, 'PUT', '/v2.0/agents/nope', { agent: { description: 'x' } })).status).toBe(404);

    // Deleting a connected agent disconnects it; it registers again as a new agent.
    const del = await l.call(ADMIN, 'DELETE', `/v2.0/agents/${id}`);
    expect(del.status).toBe(204);
    expect((await l.call(ADMIN, 'DELETE', `/v2.0/agents/${id}`)).status).toBe(404);
    await until(() => a.welcomes.length === 2, 'a new welcome');
    expect(a.channel.agentId).not.toBe(id);
    const hosts = (await l.call(ADMIN, 'GET', '/v2.0/agents')).body.agents.map((x: any) => [x.host, x.admin_state_up]);
    expect(hosts.sort()).toEqual([['host-a', true], ['host-b', true]]);
  });

  it("hides agents from members, as Neutron's policy does: an empty list, and 404 for one agent", async () => {
    const { l, a } = await twoAgents();
    const id = a.channel.agentId!;
    const rev = l.store.revision;
    const list = await l.call(ALICE, 'GET', '/v2.0/agents');
    expect([list.status, list.body]).toEqual([200, { agents: [] }]);
    for (const [method, url, body] of [
      ['GET', `/v2.0/agents/${id}`, undefined],
      ['PUT', `/v2.0/agents/${id}`, { agent: { admin_state_up: false } }],
      ['DELETE', `/v2.0/agents/${id}`, undefined],
    ] as const) {
      const res = await l.call(ALICE, method, url, body);
      expect(res.status, `${method} ${url}`).toBe(404);
      expect(res.body.NeutronError).toMatchObject({ type: 'AgentNotFound', message: `Agent ${id} could not be found.` });
    }
    expect(l.store.revision).toBe(rev);
  });

  it('advertises the agent extension and documents the routes', async () => {
    api = await testApi();
    const ext = await api.call(ALICE, 'GET', '/v2.0/extensions/agent');
    expect(ext.status).toBe(200);
    expect(ext.body.extension).toMatchObject({ alias: 'agent', name: 'agent', description: 'The agent management extension.' });
    const doc = JSON.parse((await api.app.inject({ method: 'GET', url: '/docs/json' })).body);
    expect(Object.keys(doc.paths['/v2.0/agents'])).toEqual(['get']);
    expect(Object.keys(doc.paths['/v2.0/agents/{id}']).sort()).toEqual(['delete', 'get', 'put']);
    const put = doc.paths['/v2.0/agents/{id}'].put.requestBody.content['application/json'].schema;
    expect(Object.keys(put.properties.agent.properties).sort()).toEqual(['admin_state_up', 'description']);
    // Without a listening server (inject only) the API still answers.
    expect((await api.call(ADMIN, 'GET', '/v2.0/agents')).body).toEqual({ agents: [] });
  });

  it('fuzz: never a 5xx, errors are NeutronErrors, rejected requests change nothing', async () => {
    api = await testApi();
    const ids: string[] = [];
    for (const host of ['fx-a', 'fx-b']) {
      const { result } = await api.store.transact((tx) => registerAgent(tx, { host, tunnelIp: '192.0.2.5', bridgeMappings: {}, datapath: 'system' }, Date.now()));
      ids.push(result.id);
    }
    const agents: ResourceFuzz = {
      path: 'agents', kind: 'agent', singular: 'agent', collection: 'agents', tags: false,
      attributes: ['id', 'host', 'agent_type', 'binary', 'alive', 'admin_state_up', 'topic', 'description', 'configurations'],
      createFields: () => ({ host: fc.string(), admin_state_up: booleanish }),
      updateFields: () => ({ admin_state_up: booleanish, description: fc.oneof(fc.string({ maxLength: 300 }), nastyString, fc.constant(null)), host: fc.string() }),
    };
    for (const endpoint of resourceEndpoints(agents)) {
      const statuses = await fuzzEndpoint(api, { ids: { agent: ids } }, endpoint, 40);
      expect([...statuses.keys()].every((s) => s < 500), endpoint.name).toBe(true);
    }
  });
});
