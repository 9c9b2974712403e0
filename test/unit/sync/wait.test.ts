import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN, ALICE } from '../../helpers/api.ts';
import { collect, hello, reporting, syncLab, until, type SyncLab } from './support.ts';

// X-Weft-Wait-Dataplane / ?wait_for_dataplane=: answered once every alive agent applied the
// request's revision (and a port bound to a host with an alive agent is up), or on timeout.

let lab: SyncLab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

const WAIT = 'x-weft-wait-dataplane';

describe('wait for the dataplane', () => {
  it("answers 'applied' once the agents report the request's revision, 'timeout' when they do not", async () => {
    lab = await syncLab();
    const a = lab.agent('host-a');
    const b = lab.agent('host-b');
    const ra = reporting(a, 'host-a');
    const rb = reporting(b, 'host-b');
    await until(() => a.snapshots.length && b.snapshots.length, 'snapshots');

    const ok = await lab.call(ADMIN, 'POST', '/v2.0/networks', { network: { name: 'w' } }, { [WAIT]: '5' });
    expect(ok.status).toBe(201);
    expect(ok.headers['x-weft-dataplane']).toBe('applied');
    const net = ok.body.network.id;
    const bound = await lab.call(ADMIN, 'POST', '/v2.0/ports', { port: { network_id: net, 'binding:host_id': 'host-a' } }, { [WAIT]: '5' });
    expect(bound.headers['x-weft-dataplane']).toBe('applied');

    // host-b stops reporting: a change in host-a's view only does not wait for it (nothing was sent to it).
    rb.enabled = false;
    const mine = await lab.call(ADMIN, 'POST', '/v2.0/subnets', { subnet: { network_id: net, cidr: '10.2.0.0/24', ip_version: 4 } }, { [WAIT]: '5' });
    expect(mine.headers['x-weft-dataplane']).toBe('applied');
    expect(b.changes.map((m) => m.revision)).not.toContain(lab.store.revision);

    // host-a stops reporting too: a change in its view times out.
    ra.enabled = false;
    const started = Date.now();
    const late = await lab.call(ADMIN, 'POST', '/v2.0/subnets?wait_for_dataplane=0.3', { subnet: { network_id: net, cidr: '10.3.0.0/24', ip_version: 4 } });
    expect(late.status).toBe(201);
    expect(late.headers['x-weft-dataplane']).toBe('timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    const elsewhere = await lab.call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'w2' } });

    // The query form works for updates and deletes too, and is not a list filter.
    ra.enabled = true;
    a.channel.reportApplied(lab.store.revision, {});
    const id = elsewhere.body.network.id;
    const put = await lab.call(ALICE, 'PUT', `/v2.0/networks/${id}?wait_for_dataplane=5`, { network: { name: 'w3' } });
    expect(put.headers['x-weft-dataplane']).toBe('applied');
    const del = await lab.call(ALICE, 'DELETE', `/v2.0/networks/${id}?wait_for_dataplane=5`);
    expect(del.status).toBe(204);
    expect(del.headers['x-weft-dataplane']).toBe('applied');
    await lab.call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'w2' } });
    const list = await lab.call(ALICE, 'GET', '/v2.0/networks?wait_for_dataplane=5&name=w2');
    expect(list.status).toBe(200);
    expect(list.body.networks.map((n: any) => n.name)).toEqual(['w2']);
    expect(list.headers).not.toHaveProperty('x-weft-dataplane');
    await lab.call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'w4' } });
    const paged = await lab.call(ALICE, 'GET', '/v2.0/networks?wait_for_dataplane=1&limit=1');
    expect(paged.status).toBe(200);
    expect(paged.body.networks_links).toHaveLength(2) // next and previous, as Neutron links a full first page;
    expect(JSON.stringify(paged.body.networks_links)).not.toContain('wait_for_dataplane');
  });

  it('an agent is in step at a revision when everything sent to it up to there is applied, whatever came after', async () => {
    lab = await syncLab();
    const a = lab.agent('host-a');
    const ra = reporting(a, 'host-a');
    await until(() => a.snapshots.length, 'snapshot');
    const net = (await lab.call(ADMIN, 'POST', '/v2.0/networks', { network: {} })).body.network.id;
    const port = await lab.call(ADMIN, 'POST', '/v2.0/ports', { port: { network_id: net, 'binding:host_id': 'host-a' } }, { [WAIT]: '5' });
    expect(port.headers['x-weft-dataplane']).toBe('applied');
    // It stops reporting; a change in its view is sent and stays unapplied.
    ra.enabled = false;
    await lab.call(ADMIN, 'POST', '/v2.0/subnets', { subnet: { network_id: net, cidr: '10.4.0.0/24', ip_version: 4 } });
    const unapplied = lab.store.revision;
    // A later change elsewhere waits for it too: the agent is not in step at any revision after the one it has not applied.
    const behind = await lab.call(ALICE, 'POST', '/v2.0/networks?wait_for_dataplane=0.2', { network: {} });
    expect(behind.headers['x-weft-dataplane']).toBe('timeout');
    // It applies the subnet: in step at every revision since, though it never heard of them.
    const pending = lab.call(ALICE, 'POST', '/v2.0/networks?wait_for_dataplane=5', { network: {} });
    a.channel.reportApplied(unapplied, {});
    expect((await pending).headers['x-weft-dataplane']).toBe('applied');
    expect(a.changes.map((m) => m.revision)).not.toContain(lab.store.revision);
  });

  it('without the header nothing waits, and a bad value is a 400 that changes nothing', async () => {
    lab = await syncLab();
    const a = lab.agent('host-a'); // never reports
    await until(() => a.snapshots.length, 'snapshot');
    const plain = await lab.call(ALICE, 'POST', '/v2.0/networks', { network: {} });
    expect(plain.status).toBe(201);
    expect(plain.headers).not.toHaveProperty('x-weft-dataplane');
    const rev = lab.store.revision;
    for (const bad of ['soon', '-1', '', '1e3']) {
      const res = await lab.call(ALICE, 'POST', `/v2.0/networks?wait_for_dataplane=${bad}`, { network: {} });
      expect(res.status, bad).toBe(400);
      expect(res.body.NeutronError.type).toBe('HTTPBadRequest');
      expect(res.body.NeutronError.message).toContain('wait_for_dataplane');
    }
    const badHeader = await lab.call(ALICE, 'POST', '/v2.0/networks', { network: {} }, { [WAIT]: 'x' });
    expect(badHeader.status).toBe(400);
    expect(lab.store.revision).toBe(rev);
    // A failing request does not wait.
    const failed = await lab.call(ALICE, 'POST', '/v2.0/networks', { network: { colour: 'red' } }, { [WAIT]: '5' });
    expect(failed.status).toBe(400);
    expect(failed.headers).not.toHaveProperty('x-weft-dataplane');
  });

  it('waits for a port bound to a host with an alive agent to be reported up', async () => {
    lab = await syncLab();
    const a = lab.agent('host-a');
    const unplugged = new Set<string>();
    reporting(a, 'host-a', (id) => !unplugged.has(id));
    await until(() => a.snapshots.length, 'snapshot');
    const net = (await lab.call(ADMIN, 'POST', '/v2.0/networks', { network: {} })).body.network.id;
    await lab.call(ADMIN, 'POST', '/v2.0/subnets', { subnet: { network_id: net, cidr: '10.2.0.0/24', ip_version: 4 } });

    const up = await lab.call(ADMIN, 'POST', '/v2.0/ports', { port: { network_id: net, 'binding:host_id': 'host-a' } }, { [WAIT]: '5' });
    expect(up.status).toBe(201);
    expect(up.headers['x-weft-dataplane']).toBe('applied');
    // The body shows the port after the wait.
    expect(up.body.port.status).toBe('ACTIVE');
    expect(up.body.port.revision_number).toBe(lab.store.view().get('port', up.body.port.id)!.revision_number);

    // A port the host does not plug: the agent applies the revision but never reports it up.
    const cold = await lab.call(ADMIN, 'POST', '/v2.0/ports', { port: { network_id: net } }, { [WAIT]: '5' });
    expect(cold.headers['x-weft-dataplane']).toBe('applied'); // unbound: nothing to wait for
    unplugged.add(cold.body.port.id);
    const bind = await lab.call(ADMIN, 'PUT', `/v2.0/ports/${cold.body.port.id}`, { port: { 'binding:host_id': 'host-a' } }, { [WAIT]: '0.3' });
    expect(bind.status).toBe(200);
    expect(bind.headers['x-weft-dataplane']).toBe('timeout');
    expect(bind.body.port.status).toBe('DOWN');

    // A port on a host without an agent waits for the agents' revision only.
    const elsewhere = await lab.call(ADMIN, 'POST', '/v2.0/ports', { port: { network_id: net, 'binding:host_id': 'host-z' } }, { [WAIT]: '5' });
    expect(elsewhere.headers['x-weft-dataplane']).toBe('applied');
    expect(elsewhere.body.port.status).toBe('DOWN');
  });

  it('stops counting an agent that stops heartbeating in the middle of a wait', async () => {
    lab = await syncLab({ agentHeartbeatInterval: 0.05, agentDownTime: 0.3 });
    const ws = await lab.raw();
    const got = collect(ws);
    ws.send(hello('mute-host'));
    await until(() => got.some((m) => m.type === 'snapshot'), 'snapshot');
    const started = Date.now();
    const res = await lab.call(ALICE, 'POST', '/v2.0/networks', { network: {} }, { [WAIT]: '10' });
    expect(res.headers['x-weft-dataplane']).toBe('applied');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('with no agent at all answers at once', async () => {
    lab = await syncLab();
    const res = await lab.call(ALICE, 'POST', '/v2.0/networks', { network: {} }, { [WAIT]: '10' });
    expect(res.headers['x-weft-dataplane']).toBe('applied');
  });
});
