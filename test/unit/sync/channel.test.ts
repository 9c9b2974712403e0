import { afterEach, describe, expect, it } from 'vitest';
import { VIEW_KINDS, VIEW_SCHEMAS } from '../../../schemas/agent/view.ts';
import { ADMIN, ALICE } from '../../helpers/api.ts';
import { collect, hello, syncLab, until, type SyncLab } from './support.ts';

let lab: SyncLab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

/** A network with a subnet and a port bound to `host` (made by the admin). */
async function boundPort(l: SyncLab, host: string, networkId?: string) {
  let net = networkId;
  if (!net) {
    net = (await l.call(ADMIN, 'POST', '/v2.0/networks', { network: { name: 'n' } })).body.network.id as string;
    expect((await l.call(ADMIN, 'POST', '/v2.0/subnets', { subnet: { network_id: net, cidr: '10.1.0.0/24', ip_version: 4 } })).status).toBe(201);
  }
  const res = await l.call(ADMIN, 'POST', '/v2.0/ports', { port: { network_id: net, 'binding:host_id': host } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { network: net, port: res.body.port };
}

const agents = async (l: SyncLab, query = '') => (await l.call(ADMIN, 'GET', `/v2.0/agents${query}`)).body.agents as any[];

describe('agent channel', () => {
  it('registers an agent on hello: listed alive with its configuration', async () => {
    lab = await syncLab();
    const a = lab.agent('host-a', { tunnelIp: '192.0.2.1' });
    await until(() => a.snapshots.length, 'snapshot');
    expect(a.welcomes).toHaveLength(1);
    expect(a.welcomes[0].heartbeatInterval).toBe(0.05);
    expect(a.channel.agentId).toBe(a.welcomes[0].agentId);
    const [agent] = await agents(lab);
    expect(agent).toMatchObject({
      id: a.channel.agentId, agent_type: 'Open vSwitch agent', binary: 'weft-agent', host: 'host-a', topic: 'N/A',
      admin_state_up: true, alive: true, availability_zone: null, resources_synced: null, description: null,
      configurations: { tunneling_ip: '192.0.2.1', bridge_mappings: { physnet1: 'br-ex' }, datapath_type: 'netdev', devices: 0, applied_revision: null },
    });
    for (const t of ['created_at', 'started_at', 'heartbeat_timestamp']) expect(agent[t]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(agent).not.toHaveProperty('tunnel_ip');
    // The stored document carries the view's tunnel_ip.
    expect(lab.store.view().get('agent', agent.id)).toMatchObject({ tunnel_ip: '192.0.2.1', host: 'host-a' });
    // devices counts the ports bound to the host.
    await boundPort(lab, 'host-a');
    expect((await agents(lab))[0].configurations.devices).toBe(1);
  });

  it('sends a snapshot of every view kind, trimmed to the view fields', async () => {
    lab = await syncLab();
    const { port } = await boundPort(lab, 'host-a');
    await lab.call(ALICE, 'GET', '/v2.0/security-groups'); // the default group and its rules
    const before = lab.store.revision;
    const a = lab.agent('host-a');
    await until(() => a.snapshots.length, 'snapshot');
    const snap = a.snapshots[0];
    expect(snap.revision).toBe(lab.store.revision);
    expect(snap.revision).toBe(before + 1); // the agent's own registration
    expect(Object.keys(snap.docs).sort()).toEqual([...VIEW_KINDS].sort());
    for (const kind of VIEW_KINDS) {
      for (const doc of snap.docs[kind]) {
        expect(Object.keys(doc).sort(), kind).toEqual(Object.keys(VIEW_SCHEMAS[kind].shape).sort());
        expect(() => VIEW_SCHEMAS[kind].parse(doc), `${kind} ${JSON.stringify(doc)}`).not.toThrow();
      }
    }
    expect(snap.docs.port.map((p) => p.id)).toEqual([port.id]);
    expect(snap.docs.port[0]).not.toHaveProperty('name');
    expect(snap.docs.port[0]['binding:host_id']).toBe('host-a');
    expect(snap.docs.security_group.length).toBeGreaterThan(0);
    expect(snap.docs.security_group_rule.length).toBeGreaterThan(0);
    expect(snap.docs.agent).toEqual([{ id: a.channel.agentId, host: 'host-a', tunnel_ip: '192.0.2.10', gateway_capable: false }]);
  });

  it('streams each later commit that changes the view as one changes message naming the one before', async () => {
    lab = await syncLab();
    const a = lab.agent('host-a');
    await until(() => a.snapshots.length, 'snapshot');
    // host-a has a port on the network, so another host's port on it is in host-a's view.
    const { network } = await boundPort(lab, 'host-a');
    const { port } = await boundPort(lab, 'host-b', network);
    const rev = lab.store.revision;
    await until(() => a.changes.some((m) => m.revision === rev), 'the port change');
    const msg = a.changes.find((m) => m.revision === rev)!;
    const entry = msg.changes.find((c) => c.kind === 'port')!;
    expect(entry).toMatchObject({ kind: 'port', id: port.id, op: 'create' });
    expect(Object.keys(entry.doc!).sort()).toEqual(Object.keys(VIEW_SCHEMAS.port.shape).sort());
    // A commit outside the view (a router), or one that leaves it as it was (a port's name), sends nothing.
    expect((await lab.call(ALICE, 'POST', '/v2.0/routers', { router: { name: 'r' } })).status).toBe(201);
    await lab.call(ADMIN, 'PUT', `/v2.0/ports/${port.id}`, { port: { name: 'renamed' } });
    const quiet = lab.store.revision;
    // Deletes carry a null doc, and name the last message sent as the one they follow.
    await lab.call(ADMIN, 'DELETE', `/v2.0/ports/${port.id}`);
    const delRev = lab.store.revision;
    await until(() => a.changes.some((m) => m.revision === delRev), 'the delete');
    const del = a.changes.find((m) => m.revision === delRev)!;
    expect(del.changes).toEqual([{ kind: 'port', id: port.id, op: 'delete', doc: null }]);
    expect(a.changes.map((m) => m.revision).filter((r) => r > rev && r <= quiet)).toEqual([]);
    // Each message names the one before it: the last changes, or a heartbeat's revision message
    // (the agent's heartbeats every 50 ms may learn of the quiet commits before the delete).
    const sent = a.log.flatMap((m) => (m.type === 'changes' || m.type === 'revision' ? [m] : []));
    expect(sent.map((m) => m.since)).toEqual([a.snapshots[0].revision, ...sent.slice(0, -1).map((m) => m.revision)]);
    expect([rev, ...a.revisions.map((m) => m.revision).filter((r) => r > rev && r <= quiet)]).toContain(del.since);
  });

  it('tells an agent that heard nothing for a while the revision when it heartbeats, and it counts as applied', async () => {
    lab = await syncLab();
    const a = lab.agent('host-a');
    a.channel.on('revision', (m) => a.channel.reportApplied(m.revision));
    await until(() => a.snapshots.length, 'snapshot');
    const first = a.snapshots[0].revision;
    expect((await lab.call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'not-mine' } })).status).toBe(201);
    const rev = lab.store.revision;
    await until(() => a.revisions.some((m) => m.revision === rev), 'a revision message');
    expect(a.changes).toEqual([]);
    expect(a.revisions[0]).toEqual({ type: 'revision', since: first, revision: rev });
    expect(a.channel.revision).toBe(rev);
    await until(async () => (await agents(lab!))[0].configurations.applied_revision === rev, 'applied_revision');
    // Once told, it is not told again until the next commit.
    const told = a.revisions.length;
    await new Promise((r) => setTimeout(r, 200)); // several heartbeats
    expect(a.revisions).toHaveLength(told);
  });

  it("lists an agent the same across commits but for heartbeat_timestamp, configurations and alive (Tempest's test_list_agent)", async () => {
    lab = await syncLab();
    const a = lab.agent('host-a');
    a.channel.on('revision', (m) => a.channel.reportApplied(m.revision));
    await until(() => a.snapshots.length, 'snapshot');
    const [before] = await agents(lab);
    expect((await lab.call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'a-commit' } })).status).toBe(201);
    const rev = lab.store.revision;
    await until(async () => (await agents(lab!))[0].configurations.applied_revision === rev, 'the new revision applied');
    const [after] = await agents(lab);
    expect(after.configurations.applied_revision).not.toBe(before.configurations.applied_revision);
    const stable = ({ heartbeat_timestamp: _h, configurations: _c, alive: _a, ...rest }: Record<string, unknown>) => rest;
    expect(stable(after)).toEqual(stable(before));
  });

  it('writes the agent document only when the host or its configuration changes', async () => {
    lab = await syncLab();
    const a = lab.agent('host-a', { tunnelIp: '192.0.2.1' });
    await until(() => a.snapshots.length, 'snapshot');
    await a.channel.close();
    const rev = lab.store.revision;
    const again = lab.agent('host-a', { tunnelIp: '192.0.2.1' });
    await until(() => again.snapshots.length, 'second snapshot');
    expect(lab.store.revision).toBe(rev);
    expect(again.channel.agentId).toBe(a.channel.agentId);
    // Heartbeats never write.
    await new Promise((r) => setTimeout(r, 200));
    expect(lab.store.revision).toBe(rev);
    // Another host sees the new tunnel endpoint when host-a moves it.
    const b = lab.agent('host-b');
    await until(() => b.snapshots.length, 'host-b snapshot');
    await again.channel.close();
    const moved = lab.agent('host-a', { tunnelIp: '192.0.2.2' });
    await until(() => moved.snapshots.length, 'third snapshot');
    expect(lab.store.revision).toBe(rev + 2); // host-b's registration, then host-a's new tunnel IP
    await until(() => b.changes.some((m) => m.changes.some((c) => c.kind === 'agent' && c.doc?.tunnel_ip === '192.0.2.2')), 'tunnel change at host-b');
    expect((await agents(lab, '?host=host-a'))[0].configurations.tunneling_ip).toBe('192.0.2.2');
    expect(await agents(lab)).toHaveLength(2);
  });

  it("marks the agent's ports ACTIVE and DOWN from its reports, in one transaction, never another host's", async () => {
    lab = await syncLab();
    const a = lab.agent('host-a');
    await until(() => a.snapshots.length, 'snapshot');
    const { port: p1, network } = await boundPort(lab, 'host-a');
    const { port: p2 } = await boundPort(lab, 'host-a', network);
    const { port: other } = await boundPort(lab, 'host-b', network);
    expect(p1.status).toBe('DOWN');
    const rev = lab.store.revision;
    expect(a.channel.reportApplied(rev, { [p1.id]: 'up', [p2.id]: 'up', [other.id]: 'up', 'no-such-port': 'up' })).toBe(true);
    await until(() => lab!.store.view().get('port', p2.id)?.status === 'ACTIVE', 'ACTIVE');
    expect(lab.store.revision).toBe(rev + 1); // one transaction for the whole report
    const show = async (id: string) => (await lab!.call(ADMIN, 'GET', `/v2.0/ports/${id}`)).body.port;
    expect((await show(p1.id)).status).toBe('ACTIVE');
    expect((await show(p1.id)).revision_number).toBe(p1.revision_number + 1);
    expect((await show(other.id)).status).toBe('DOWN');
    // In step with the status commit too: it changed nothing in host-a's view, so nothing was sent.
    await until(async () => (await agents(lab!))[0].configurations.applied_revision === rev + 1, 'applied_revision');
    // The same report again writes nothing (reports are handled in order: the next one's write is the only one).
    a.channel.reportApplied(rev + 1, { [p1.id]: 'up' });
    a.channel.reportApplied(rev + 1, { [p1.id]: 'down' });
    await until(() => lab!.store.view().get('port', p1.id)?.status === 'DOWN', 'DOWN');
    expect(lab.store.revision).toBe(rev + 2);
    expect((await show(p2.id)).status).toBe('ACTIVE');
  });

  it('lists an agent that stops heartbeating, or disconnects, as not alive', async () => {
    lab = await syncLab({ agentHeartbeatInterval: 0.05, agentDownTime: 0.3 });
    const ws = await lab.raw();
    const got = collect(ws);
    ws.send(hello('silent-host'));
    await until(() => got.some((m) => m.type === 'snapshot'), 'snapshot');
    expect((await agents(lab))[0].alive).toBe(true);
    await until(async () => (await agents(lab!))[0].alive === false, 'alive false', 3000);
    ws.send(JSON.stringify({ type: 'heartbeat' }));
    await until(async () => (await agents(lab!))[0].alive === true, 'alive again');
    // A real client keeps it alive well past the down time.
    const a = lab.agent('busy-host');
    await until(() => a.snapshots.length, 'snapshot');
    await new Promise((r) => setTimeout(r, 600));
    expect((await agents(lab, '?host=busy-host'))[0].alive).toBe(true);
    expect((await agents(lab, '?alive=true')).map((x) => x.host)).toEqual(['busy-host']);
    await a.channel.close();
    await until(async () => (await agents(lab!, '?host=busy-host'))[0].alive === false, 'disconnected');
  });

  it('closes connections that break the protocol', async () => {
    lab = await syncLab();
    const closes: number[] = [];
    for (const bad of ['not json', JSON.stringify({ type: 'heartbeat' }), hello('h', { protocol: 1 }), JSON.stringify({ type: 'applied', revision: -1, ports: {} })]) {
      const ws = await lab.raw();
      const closed = new Promise<number>((ok) => ws.once('close', (code) => ok(code)));
      ws.send(bad);
      closes.push(await closed);
    }
    expect(closes).toEqual([1008, 1008, 1008, 1008]);
    expect(await agents(lab)).toEqual([]);
  });

  it('a second connection from the same host replaces the first', async () => {
    lab = await syncLab();
    const first = await lab.raw();
    const closed = new Promise<number>((ok) => first.once('close', (code) => ok(code)));
    const got = collect(first);
    first.send(hello('dup'));
    await until(() => got.some((m) => m.type === 'snapshot'), 'first snapshot');
    const a = lab.agent('dup');
    await until(() => a.snapshots.length, 'second snapshot');
    expect(await closed).toBe(4000);
    expect(await agents(lab)).toHaveLength(1);
    expect((await agents(lab))[0].alive).toBe(true);
  });
});
