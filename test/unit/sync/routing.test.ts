// A commit costs the hub nothing for the hosts whose view it does not change: only the sessions
// the CommitRouter finds fold it in (HostInterest.apply), the rest are not looked at. With many
// hosts, each commit below is folded in by exactly the sessions it concerns.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openStore } from '../../../controller/store/open.ts';
import type { Store } from '../../../controller/store/types.ts';
import type { SyncHub } from '../../../controller/sync/hub.ts';
import { HostInterest } from '../../../controller/sync/interest.ts';
import { connect, hubOn, type FoldingAgent } from './host-view-support.ts';

const HOSTS = 60;

const network = (i: number) => ({
  id: `net-${i}`, project_id: 'p', admin_state_up: true, mtu: 1450, 'provider:network_type': 'vxlan', 'provider:physical_network': null,
  'provider:segmentation_id': 100 + i, 'router:external': false,
});
const port = (id: string, net: number, host: string, groups: string[] = [], extra: Record<string, unknown> = {}) => ({
  id, network_id: `net-${net}`, admin_state_up: true, mac_address: 'fa:16:3e:00:00:01', fixed_ips: [], allowed_address_pairs: [],
  port_security_enabled: true, security_groups: groups, device_owner: 'compute:nova', device_id: '', 'binding:host_id': host, status: 'DOWN', ...extra,
});
const rule = (id: string, group: string, remote: string | null) => ({
  id, security_group_id: group, direction: 'ingress', ethertype: 'IPv4', protocol: null, port_range_min: null, port_range_max: null,
  normalized_cidr: null, remote_group_id: remote,
});

let store: Store | undefined;
let hub: SyncHub | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  hub?.close();
  await store?.close();
  hub = store = undefined;
});

/** Host h-i has a port on its own network net-i; h-0 and h-1 are in group web, whose rule lets group db in. */
async function fleet() {
  store = openStore(':memory:');
  await store.transact((tx) => {
    tx.put('security_group', { id: 'web', project_id: 'p' });
    tx.put('security_group', { id: 'db', project_id: 'p' });
    tx.put('security_group_rule', rule('web-from-db', 'web', 'db'));
    for (let i = 0; i < HOSTS; i++) {
      tx.put('network', network(i));
      tx.put('port', port(`vm-${i}`, i, `h-${i}`, i < 2 ? ['web'] : []));
    }
  });
  hub = hubOn(store);
  const agents: FoldingAgent[] = [];
  for (let i = 0; i < HOSTS; i++) agents.push(await connect(hub, `h-${i}`));
  const folds = vi.spyOn(HostInterest.prototype, 'apply');
  /** Commits `write`; the hosts that folded it in, and those that were sent a message. */
  const commit = async (write: Parameters<Store['transact']>[0]) => {
    folds.mockClear();
    const sent = agents.map((a) => a.changes.size);
    await store!.transact(write);
    const folded = folds.mock.contexts.map((c) => (c as HostInterest).host).sort();
    const messaged = agents.filter((a, i) => a.changes.size > sent[i]).map((a) => a.host).sort();
    for (const a of agents) if (!a.session.closed) a.expectInStep(store!);
    return { folded, messaged };
  };
  return { commit, agents };
}

describe('commit routing', () => {
  it('folds a commit into the sessions of the hosts it concerns, and no other', async () => {
    const { commit } = await fleet();
    // Another host's port on h-7's network.
    expect(await commit((tx) => tx.put('port', port('guest', 7, 'elsewhere')))).toEqual({ folded: ['h-7'], messaged: ['h-7'] });
    // A port moved from h-3 to h-4 (onto h-4's network).
    expect(await commit((tx) => tx.put('port', port('vm-3', 4, 'h-4')))).toEqual({ folded: ['h-3', 'h-4'], messaged: ['h-3', 'h-4'] });
    // A member of group db, anywhere: the hosts whose watched rules name db as remote.
    expect(await commit((tx) => tx.put('port', port('db-1', 30, 'elsewhere', ['db'])))).toEqual({ folded: ['h-0', 'h-1', 'h-30'], messaged: ['h-0', 'h-1', 'h-30'] });
    // A rule of the watched group web.
    expect(await commit((tx) => tx.put('security_group_rule', rule('web-ssh', 'web', null)))).toEqual({ folded: ['h-0', 'h-1'], messaged: ['h-0', 'h-1'] });
    // Outside every view: a network nobody uses, a router; a status change (not a view field).
    expect(await commit((tx) => tx.put('network', network(999)))).toEqual({ folded: [], messaged: [] });
    expect(await commit((tx) => tx.put('router', { id: 'r', project_id: 'p', admin_state_up: true, external_gateway_info: null, routes: [] }))).toEqual({ folded: [], messaged: [] });
    expect(await commit((tx) => tx.put('port', port('vm-9', 9, 'h-9', [], { status: 'ACTIVE' })))).toEqual({ folded: [], messaged: [] });
    // Every agent is in every view: a new tunnel endpoint concerns everyone.
    const all = await commit((tx) => tx.put('agent', { id: 'agent-x', host: 'x', tunnel_ip: '192.0.2.99' }));
    expect([all.folded.length, all.messaged.length]).toEqual([HOSTS, HOSTS]);
  });

  it('stops routing to a closed session, and follows a session whose interest moved', async () => {
    const { commit, agents } = await fleet();
    // h-5 now has a port on net-6 too: it watches net-6.
    expect((await commit((tx) => tx.put('port', port('second', 6, 'h-5')))).folded).toEqual(['h-5', 'h-6']);
    expect((await commit((tx) => tx.put('port', port('guest', 6, 'elsewhere')))).folded).toEqual(['h-5', 'h-6']);
    // It leaves net-6: no longer routed there.
    expect((await commit((tx) => tx.remove('port', 'second'))).folded).toEqual(['h-5', 'h-6']);
    expect((await commit((tx) => tx.put('port', port('guest', 6, 'elsewhere', [], { mac_address: 'fa:16:3e:00:00:02' })))).folded).toEqual(['h-6']);
    // h-6's agent goes.
    agents[6].session.close(1000, 'bye');
    expect(await commit((tx) => tx.put('port', port('guest', 6, 'elsewhere', [], { mac_address: 'fa:16:3e:00:00:03' })))).toEqual({ folded: [], messaged: [] });
  });
});
