import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN } from '../../helpers/api.ts';
import { collect, hello, syncLab, until, type SyncLab } from './support.ts';

// An agent that falls behind gets a fresh snapshot; a controller restart ends in a reconnect that
// resumes from what the agent holds.

let lab: SyncLab | undefined;

/** A network and ports written straight to the store, with every view field. */
const network = (id: string) => ({
  id, project_id: 'p', admin_state_up: true, mtu: 1450, 'provider:network_type': 'vxlan', 'provider:physical_network': null,
  'provider:segmentation_id': 100, 'router:external': false,
});
const port = (id: string, networkId: string, host: string, extra: Record<string, unknown> = {}) => ({
  id, network_id: networkId, admin_state_up: true, mac_address: 'fa:16:3e:00:00:01', fixed_ips: [], allowed_address_pairs: [],
  port_security_enabled: true, security_groups: [], device_owner: '', device_id: '', 'binding:host_id': host, ...extra,
});
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

describe('resync', () => {
  it('stops streaming to an agent that reads too slowly and sends it a fresh snapshot once drained', async () => {
    lab = await syncLab({ agentSendBufferLimit: 64 * 1024 });
    // The host has a port on the network, so every port of the network is in its view.
    await lab.store.transact((tx) => {
      tx.put('network', network('net-slow'));
      tx.put('port', port('local', 'net-slow', 'slow-host'));
    });
    const ws = await lab.raw();
    const got = collect(ws);
    ws.send(hello('slow-host'));
    await until(() => got.some((m) => m.type === 'snapshot'), 'first snapshot');
    const first = lab.store.revision;
    ws.pause(); // the agent stops reading: the kernel buffers fill, then the controller's
    const big = 'x'.repeat(256 * 1024);
    const commits = 80;
    for (let i = 0; i < commits; i++) {
      await lab.store.transact((tx) => tx.put('port', port(`big-${i}`, 'net-slow', 'other-host', { device_id: big })));
    }
    const last = lab.store.revision;
    expect(last).toBe(first + commits);
    ws.resume();
    await until(() => got.filter((m) => m.type === 'snapshot').length === 2, 'fresh snapshot', 20_000);
    const snapshots = got.filter((m) => m.type === 'snapshot');
    expect(snapshots[1].revision).toBe(last);
    expect(snapshots[1].docs.port.filter((p: any) => p.id.startsWith('big-'))).toHaveLength(commits);
    // Changes before the fresh snapshot were contiguous and stopped short of it.
    const before = got.slice(0, got.indexOf(snapshots[1])).filter((m) => m.type === 'changes').map((m) => m.revision);
    expect(before.length).toBeLessThan(commits);
    expect(before).toEqual(before.map((_, i) => first + 1 + i));
    // Streaming resumes after the fresh snapshot.
    await lab.store.transact((tx) => tx.put('port', port('after', 'net-slow', 'other-host')));
    await until(() => got.some((m) => m.type === 'changes' && m.revision === last + 1 && m.since === last), 'change after the snapshot');
  });

  it('reconnects after a controller restart and resumes: only what changed while it was away', async () => {
    lab = await syncLab();
    await lab.store.transact((tx) => {
      tx.put('network', network('net-home'));
      tx.put('port', port('home', 'net-home', 'host-a'));
      tx.put('port', port('leaves', 'net-home', 'host-b'));
    });
    const a = lab.agent('host-a');
    await until(() => a.snapshots.length, 'snapshot');
    const id = a.channel.agentId;
    const held = a.channel.revision!;
    await lab.stopApp();
    await until(() => a.log.some((m) => m.type === 'disconnected'), 'disconnected');
    expect(a.channel.connected).toBe(false);
    // Down for a while: several refused attempts.
    await new Promise((r) => setTimeout(r, 300));
    // The model moves on while the agent is away: a port is bound to its host, another goes.
    await lab.store.transact((tx) => {
      tx.put('network', network('net-away'));
      tx.put('port', port('while-away', 'net-away', 'host-a'));
      tx.remove('port', 'leaves');
    });
    await lab.store.transact((tx) => tx.put('network', { ...network('net-elsewhere') }));
    await lab.restart();
    await until(() => a.welcomes.length === 2 && a.changes.length, 'the resume');
    expect(a.snapshots).toHaveLength(1);
    expect(a.channel.agentId).toBe(id);
    const resume = a.changes[0];
    expect([resume.since, resume.revision]).toEqual([held, lab.store.revision]);
    expect(resume.changes.map((c) => `${c.op} ${c.kind} ${c.id}`).sort()).toEqual([
      'create network net-away', 'create port while-away', 'delete port leaves',
    ]);
    const agents = (await lab.call(ADMIN, 'GET', '/v2.0/agents')).body.agents;
    expect(agents).toHaveLength(1);
    expect(agents[0]).toMatchObject({ id, alive: true });
    // And streams again.
    await lab.store.transact((tx) => tx.put('port', port('later', 'net-away', 'host-c')));
    await until(() => a.changes.some((m) => m.since === resume.revision && m.revision === resume.revision + 1), 'a change after the restart');
  });

  it('leaves no timers behind: close() while the controller is down', async () => {
    const resources = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r.startsWith('TCP')).sort();
    const before = resources();
    lab = await syncLab();
    const a = lab.agent('host-a');
    await until(() => a.snapshots.length, 'snapshot');
    await lab.stopApp();
    await until(() => a.log.some((m) => m.type === 'disconnected'), 'disconnected');
    await a.channel.close();
    const disconnects = a.log.length;
    await new Promise((r) => setTimeout(r, 300));
    await lab.restart();
    await new Promise((r) => setTimeout(r, 300));
    expect(a.log.length).toBe(disconnects);
    expect(a.channel.connected).toBe(false);
    // A client and a controller that had agents leave nothing running once closed.
    await lab.close();
    lab = undefined;
    const timers = (list: string[]) => list.filter((r) => r === 'Timeout').length;
    await until(() => {
      const now = resources();
      return !now.some((r) => r.startsWith('TCP')) && timers(now) <= timers(before);
    }, 'no sockets, servers or new timers left', 2000);
  });
});
