// Examples of what enters and leaves a host's view as the API changes the model (the rules are in
// controller/sync/interest.ts; host-view-property.test.ts checks them on random histories).
import { describe, expect, it } from 'vitest';
import { HostModel } from '../../../agent/model/host-model.ts';
import { ADMIN, testApi } from '../../helpers/api.ts';
import { closedAfterEach, connect, hubOn, idsOf, type FoldingAgent } from './host-view-support.ts';

const t = closedAfterEach();

async function setup() {
  const api = t.api = await testApi();
  const hub = t.hub = hubOn(api.store);
  const a = await connect(hub, 'host-a');
  const b = await connect(hub, 'host-b');
  return { api, a, b };
}

async function ok(method: 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) {
  const res = await t.api!.call(ADMIN, method, url, body);
  expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
  return res.body;
}

const network = async () => (await ok('POST', '/v2.0/networks', { network: { name: 'n' } })).network.id as string;
const subnet = async (net: string, cidr: string) =>
  (await ok('POST', '/v2.0/subnets', { subnet: { network_id: net, cidr, ip_version: 4 } })).subnet.id as string;
const port = async (net: string, host: string, groups: string[] = []) =>
  (await ok('POST', '/v2.0/ports', { port: { network_id: net, 'binding:host_id': host, security_groups: groups } })).port.id as string;
const group = async (name: string) => (await ok('POST', '/v2.0/security-groups', { security_group: { name } })).security_group.id as string;

/** The entries of the last changes message, as "op kind id". */
const lastEntries = (agent: FoldingAgent) =>
  agent.changes.get(agent.revision)!.map((c) => `${c.op} ${c.kind} ${c.id}`).sort();

describe("a host's view", () => {
  it('a port bound to the host on a new network brings the network, its subnets and all its ports', async () => {
    const { api, a, b } = await setup();
    const net = await network();
    const sub = await subnet(net, '10.1.0.0/24');
    const other = await port(net, 'host-b');
    // Nothing of it on host-a yet; host-b has it all.
    expect(idsOf(a.held, 'network')).toEqual([]);
    expect(idsOf(a.held, 'port')).toEqual([]);
    expect(idsOf(b.held, 'network')).toEqual([net]);
    expect(idsOf(b.held, 'port')).toEqual([other]);
    const mine = await port(net, 'host-a');
    expect(lastEntries(a)).toEqual([`create network ${net}`, `create port ${mine}`, `create port ${other}`, `create subnet ${sub}`].sort());
    expect(lastEntries(b)).toEqual([`create port ${mine}`]);
    expect(idsOf(a.held, 'port')).toEqual([mine, other].sort());
    // Both agents know every agent (tunnel endpoints).
    expect(idsOf(a.held, 'agent')).toHaveLength(2);
    a.expectInStep(api.store);
    b.expectInStep(api.store);
  });

  it('the last local port leaving (moved, then deleted) takes the network, its subnets and ports away', async () => {
    const { api, a, b } = await setup();
    const net = await network();
    const sub = await subnet(net, '10.2.0.0/24');
    const p1 = await port(net, 'host-a');
    const p2 = await port(net, 'host-a');
    const remote = await port(net, 'host-b');
    // One of two local ports moves to host-b: still interested, the port is just updated.
    await ok('PUT', `/v2.0/ports/${p1}`, { port: { 'binding:host_id': 'host-b' } });
    expect(lastEntries(a)).toEqual([`update port ${p1}`]);
    // The last one is deleted: everything of the network leaves host-a's view.
    await ok('DELETE', `/v2.0/ports/${p2}`);
    expect(lastEntries(a)).toEqual([`delete network ${net}`, `delete port ${p1}`, `delete port ${p2}`, `delete port ${remote}`, `delete subnet ${sub}`].sort());
    expect(a.changes.get(a.revision)!.every((c) => c.doc === null)).toBe(true);
    expect(idsOf(a.held, 'network')).toEqual([]);
    expect(idsOf(b.held, 'port')).toEqual([p1, remote].sort());
    a.expectInStep(api.store);
    b.expectInStep(api.store);
  });

  it("brings the members of a rule's remote group, from any network, but not that group's rules", async () => {
    const { api, a, b } = await setup();
    const web = await group('web');
    const db = await group('db');
    const webNet = await network();
    await subnet(webNet, '10.3.0.0/24');
    const dbNet = await network();
    await subnet(dbNet, '10.4.0.0/24');
    const w = await port(webNet, 'host-a', [web]);
    const d = await port(dbNet, 'host-b', [db]);
    const dbRules = (await ok('POST', '/v2.0/security-group-rules', {
      security_group_rule: { security_group_id: db, direction: 'ingress', protocol: 'tcp', port_range_min: 5432, port_range_max: 5432 },
    })).security_group_rule.id as string;
    expect(idsOf(a.held, 'port')).toEqual([w]);
    expect(idsOf(a.held, 'security_group')).toEqual([web]);
    // web lets db in: db and its member d enter host-a's view; d's network and db's rules do not.
    const rule = (await ok('POST', '/v2.0/security-group-rules', {
      security_group_rule: { security_group_id: web, direction: 'ingress', protocol: 'tcp', remote_group_id: db },
    })).security_group_rule.id as string;
    expect(lastEntries(a)).toEqual([`create port ${d}`, `create security_group ${db}`, `create security_group_rule ${rule}`].sort());
    expect(idsOf(a.held, 'network')).toEqual([webNet]);
    expect(idsOf(a.held, 'security_group_rule')).not.toContain(dbRules);
    // A port that joins db enters; one that leaves it leaves.
    const d2 = await port(dbNet, 'host-b');
    expect(idsOf(a.held, 'port')).toEqual([w, d].sort());
    await ok('PUT', `/v2.0/ports/${d2}`, { port: { security_groups: [db] } });
    expect(lastEntries(a)).toEqual([`create port ${d2}`]);
    await ok('PUT', `/v2.0/ports/${d}`, { port: { security_groups: [] } });
    expect(lastEntries(a)).toEqual([`delete port ${d}`]);
    // The rule goes: db and its members leave.
    await ok('DELETE', `/v2.0/security-group-rules/${rule}`);
    expect(lastEntries(a)).toEqual([`delete port ${d2}`, `delete security_group ${db}`, `delete security_group_rule ${rule}`].sort());
    a.expectInStep(api.store);
    b.expectInStep(api.store);
  });

  it('a commit outside the view sends nothing; the next message names the revision it follows', async () => {
    const { api, a } = await setup();
    const net = await network();
    const before = a.revision;
    const messages = a.changes.size;
    const sub = await subnet(net, '10.5.0.0/24');
    expect(a.revision).toBe(before);
    expect(api.store.revision).toBeGreaterThan(before);
    a.expectInStep(api.store);
    // A port on the network brings it in: one message, since the last one the agent got.
    const mine = await port(net, 'host-a');
    expect(a.revision).toBe(api.store.revision);
    expect(a.changes.size).toBe(messages + 1);
    expect(lastEntries(a)).toEqual([`create network ${net}`, `create port ${mine}`, `create subnet ${sub}`].sort());
    a.expectInStep(api.store);
  });
});

describe("the agent's model folds creates and deletes idempotently", () => {
  const doc = { id: 'g1', project_id: 'p' };

  it('a create of a document it holds is an update; a delete of one it does not hold changes nothing', () => {
    const m = new HostModel('host-a');
    expect(m.apply('security_group', 'g1', doc)).toMatchObject({ prev: undefined, next: doc });
    // The same doc again: no event; a changed one: an update event.
    expect(m.apply('security_group', 'g1', doc)).toBeUndefined();
    expect(m.apply('security_group', 'g1', { ...doc, project_id: 'q' })).toMatchObject({ prev: doc, next: { ...doc, project_id: 'q' } });
    expect(m.apply('security_group', 'nope', null)).toBeUndefined();
    expect(m.apply('security_group', 'g1', null)).toMatchObject({ next: undefined });
    expect(m.count('security_group')).toBe(0);
  });
});
