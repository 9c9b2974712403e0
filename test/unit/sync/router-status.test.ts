import { describe, expect, it } from 'vitest';
import { openStore } from '../../../controller/store/open.ts';
import { appliedMessage } from '../../../schemas/agent/channel.ts';
import { connect, hubOn } from './host-view-support.ts';

// An agent's `applied` report sets the status of the routers placed on its host (a router port
// bound there) and of those routers' floating IPs, in one transaction, only where it changes.

const port = (id: string, router: string, host: string) => ({
  id, network_id: 'n', name: '', status: 'DOWN', admin_state_up: true, mac_address: 'fa:16:3e:00:00:01', fixed_ips: [],
  allowed_address_pairs: [], port_security_enabled: false, security_groups: [], device_owner: 'network:router_gateway',
  device_id: router, 'binding:host_id': host,
});
const router = (id: string) => ({ id, project_id: 'p', admin_state_up: true, status: 'ACTIVE', external_gateway_info: null, routes: [], revision_number: 1 });
const fip = (id: string, routerId: string | null) => ({
  id, project_id: 'p', status: 'DOWN', floating_network_id: 'n', floating_ip_address: '203.0.113.5', router_id: routerId, port_id: null,
  fixed_ip_address: null, revision_number: 1,
});

describe('router and floating IP status from agent reports', () => {
  it('parses the optional fields', () => {
    expect(appliedMessage.parse({ type: 'applied', revision: 1, ports: {} })).toEqual({ type: 'applied', revision: 1, ports: {} });
    expect(appliedMessage.safeParse({ type: 'applied', revision: 1, ports: {}, routers: { r: 'active' }, floatingips: { f: 'down' } }).success).toBe(true);
    expect(appliedMessage.safeParse({ type: 'applied', revision: 1, ports: {}, routers: { r: 'down' } }).success).toBe(false);
    expect(appliedMessage.safeParse({ type: 'applied', revision: 1, ports: {}, floatingips: { f: 'error' } }).success).toBe(false);
  });

  it('writes statuses of routers on the reporting host and their floating IPs, in one commit, only when different', async () => {
    const store = openStore(':memory:');
    const hub = hubOn(store);
    try {
      await store.transact((tx) => {
        tx.put('port', port('p-here', 'r-here', 'h0'));
        tx.put('port', port('p-there', 'r-there', 'h1'));
        tx.put('router', router('r-here'));
        tx.put('router', router('r-there'));
        tx.put('floatingip', fip('f-here', 'r-here'));
        tx.put('floatingip', fip('f-there', 'r-there'));
        tx.put('floatingip', fip('f-free', null));
      });
      const agent = await connect(hub, 'h0');
      const report = async (msg: Record<string, unknown>) => {
        const before = store.revision;
        agent.session.receive(JSON.stringify({ type: 'applied', revision: store.revision, ports: {}, ...msg }));
        for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
        return store.revision - before;
      };
      const status = (kind: string, id: string) => store.view().get(kind, id)?.status;

      const commits = await report({
        routers: { 'r-here': 'error', 'r-there': 'error', 'r-missing': 'error' },
        floatingips: { 'f-here': 'active', 'f-there': 'active', 'f-free': 'active' },
      });
      expect(commits).toBe(1);
      expect(status('router', 'r-here')).toBe('ERROR');
      expect(status('floatingip', 'f-here')).toBe('ACTIVE');
      // Not this host's router, nor its floating IP, nor an unassociated one.
      expect(status('router', 'r-there')).toBe('ACTIVE');
      expect(status('floatingip', 'f-there')).toBe('DOWN');
      expect(status('floatingip', 'f-free')).toBe('DOWN');
      expect(store.view().get('router', 'r-here')?.revision_number).toBe(2);

      // Same again: nothing to write.
      expect(await report({ routers: { 'r-here': 'error' }, floatingips: { 'f-here': 'active' } })).toBe(0);
      // Back the other way, with a port in the same commit.
      expect(await report({ ports: { 'p-here': 'up' }, routers: { 'r-here': 'active' }, floatingips: { 'f-here': 'down' } })).toBe(1);
      expect(status('router', 'r-here')).toBe('ACTIVE');
      expect(status('floatingip', 'f-here')).toBe('DOWN');
      expect(status('port', 'p-here')).toBe('ACTIVE');
      expect(agent.closed).toBeUndefined();
    } finally {
      hub.close();
      await store.close();
    }
  });
});
