// An agent given several controller replicas (sharing one store) moves to the next when its
// replica goes or cannot be reached, and resumes there from what it holds: the other replica
// never saw it, and sends only what changed. The client keeps the delay short while some replica is
// untried, and starts over from a snapshot when a message does not follow the one before.
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { ControllerChannel, reconnectDelay } from '../../../agent/sync/channel-client.ts';
import { CHANNEL_PATH, type HelloMessage } from '../../../schemas/agent/channel.ts';
import { VIEW_KINDS } from '../../../schemas/agent/view.ts';
import { ADMIN } from '../../helpers/api.ts';
import { syncLab, until, type SyncLab } from './support.ts';

const labs: SyncLab[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  // Replicas before the lab that owns the store.
  for (const l of labs.splice(0).reverse()) await l.close();
});

/** Two replicas on one store. */
async function replicas(): Promise<[SyncLab, SyncLab]> {
  const a = await syncLab();
  labs.push(a);
  const b = await syncLab({}, undefined, a.store);
  labs.push(b);
  return [a, b];
}

const network = (id: string) => ({
  id, project_id: 'p', admin_state_up: true, mtu: 1450, 'provider:network_type': 'vxlan', 'provider:physical_network': null,
  'provider:segmentation_id': 100, 'router:external': false,
});
const port = (id: string, networkId: string, host: string) => ({
  id, network_id: networkId, admin_state_up: true, mac_address: 'fa:16:3e:00:00:01', fixed_ips: [], allowed_address_pairs: [],
  port_security_enabled: true, security_groups: [], device_owner: '', device_id: '', 'binding:host_id': host,
});

describe('failover between controller replicas', () => {
  it('moves to the next replica when its replica goes, and resumes there', async () => {
    const [one, two] = await replicas();
    await one.store.transact((tx) => {
      tx.put('network', network('net-1'));
      tx.put('port', port('p1', 'net-1', 'host-a'));
    });
    const a = one.agent('host-a', { urls: [one.url, two.url] });
    await until(() => a.snapshots.length, 'snapshot from the first replica');
    expect(a.channel.url).toBe(one.url);
    const held = a.channel.revision!;

    await one.stopApp(); // the replica dies
    // The model moves on meanwhile (through the replica that lives).
    await two.store.transact((tx) => tx.put('port', port('p2', 'net-1', 'host-b')));
    await until(() => a.welcomes.length === 2 && a.changes.length, 'the resume from the second replica');
    expect(a.channel.url).toBe(two.url);
    expect(a.snapshots).toHaveLength(1);
    expect(a.changes[0]).toMatchObject({ since: held, revision: two.store.revision, changes: [{ kind: 'port', id: 'p2', op: 'create' }] });
    const agents = (await two.call(ADMIN, 'GET', '/v2.0/agents')).body.agents;
    expect(agents).toMatchObject([{ host: 'host-a', alive: true }]);
    // And streams from there.
    await two.store.transact((tx) => tx.put('port', port('p3', 'net-1', 'host-c')));
    await until(() => a.changes.some((m) => m.changes.some((c) => c.id === 'p3')), 'a change from the second replica');
  });

  it('passes over a replica it cannot reach', async () => {
    const [one, two] = await replicas();
    await one.stopApp();
    const a = two.agent('host-a', { urls: [one.url, two.url] });
    await until(() => a.snapshots.length, 'snapshot from the second replica');
    expect(a.channel.url).toBe(two.url);
    expect(a.welcomes).toHaveLength(1);
  });

  it('keeps the delay short while a replica is untried, then backs off per round', () => {
    // failures in a row -> delay, with 3 replicas, 100 ms .. 5 s
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 60].map((f) => reconnectDelay(f, 3, 100, 5000)))
      .toEqual([100, 100, 100, 100, 100, 200, 100, 100, 400, 800, 5000]);
    // One replica: the old backoff, doubling from the first failure.
    expect([1, 2, 3, 4, 10].map((f) => reconnectDelay(f, 1, 100, 5000))).toEqual([100, 200, 400, 800, 5000]);
  });

  it('takes a socket path only with one URL', () => {
    const hello = { host: 'h', tunnelIp: null, bridgeMappings: {}, datapath: 'netdev' as const };
    expect(() => new ControllerChannel({ urls: ['http://a:1', 'http://b:1'], socketPath: '/tmp/x.sock', token: 't', hello })).toThrow(/one controller URL/);
    expect(() => new ControllerChannel({ urls: [], token: 't', hello })).toThrow(/no controller URL/);
  });
});

describe('the client follows the stream', () => {
  /** A fake controller: records each hello, and answers it with `script(connection number, socket)`. */
  async function fakeController(script: (n: number, ws: WebSocket, hello: HelloMessage) => void) {
    const wss = new WebSocketServer({ port: 0, path: CHANNEL_PATH });
    await new Promise<void>((ok) => wss.once('listening', () => ok()));
    const hellos: HelloMessage[] = [];
    wss.on('connection', (ws) => {
      ws.once('message', (data) => {
        const hello = JSON.parse(data.toString()) as HelloMessage;
        hellos.push(hello);
        ws.send(JSON.stringify({ type: 'welcome', agentId: 'agent-1', heartbeatInterval: 60 }));
        script(hellos.length, ws, hello);
      });
    });
    const port = (wss.address() as { port: number }).port;
    cleanups.push(async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((ok) => wss.close(() => ok()));
    });
    return { url: `http://127.0.0.1:${port}`, hellos };
  }

  function client(url: string) {
    const channel = new ControllerChannel({
      urls: [url], token: 't', minBackoffMs: 10, maxBackoffMs: 50,
      hello: { host: 'h', tunnelIp: null, bridgeMappings: {}, datapath: 'netdev' },
    });
    const got: string[] = [];
    channel.on('snapshot', (m) => got.push(`snapshot ${m.revision}`));
    channel.on('changes', (m) => got.push(`changes ${m.since}->${m.revision}`));
    channel.on('revision', (m) => got.push(`revision ${m.since}->${m.revision}`));
    channel.start();
    cleanups.push(() => channel.close());
    return { channel, got };
  }

  const snapshot = (revision: number, ports: string[]) => JSON.stringify({
    type: 'snapshot', revision, docs: Object.fromEntries(VIEW_KINDS.map((k) => [k, k === 'port' ? ports.map((id) => ({ id })) : []])),
  });
  const changes = (since: number, revision: number, entries: Array<[string, 'create' | 'delete']>) => JSON.stringify({
    type: 'changes', since, revision, changes: entries.map(([id, op]) => ({ kind: 'port', id, op, doc: op === 'delete' ? null : { id } })),
  });

  it('accepts skipped revisions, offers what it holds on a reconnect, and starts over on a message out of step', async () => {
    const ctl = await fakeController((n, ws) => {
      if (n === 1) {
        ws.send(snapshot(5, ['p1', 'p2']));
        ws.send(changes(5, 9, [['p3', 'create'], ['p1', 'delete']])); // 6..8 were not for this host
        ws.send(JSON.stringify({ type: 'revision', since: 9, revision: 12 }));
        ws.close(1001, 'going away');
      } else if (n === 2) {
        ws.send(changes(12, 12, []));
        ws.send(changes(13, 14, [['p4', 'create']])); // does not follow 12: out of step
      } else {
        ws.send(snapshot(20, ['p2']));
      }
    });
    const { got } = client(ctl.url);
    await until(() => ctl.hellos.length === 3 && got.includes('snapshot 20'), 'the third connection');
    expect(got).toEqual(['snapshot 5', 'changes 5->9', 'revision 9->12', 'changes 12->12', 'snapshot 20']);
    expect(ctl.hellos[0].resume).toBeUndefined();
    const offered = ctl.hellos[1].resume!;
    expect([offered.agentId, offered.revision, offered.held.port?.sort()]).toEqual(['agent-1', 12, ['p2', 'p3']]);
    // After a message out of step it holds nothing to resume from.
    expect(ctl.hellos[2].resume).toBeUndefined();
  });
});
