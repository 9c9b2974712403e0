import type { Doc, Tx } from '../store/types.ts';
import { revise } from './standard-attrs.ts';

// The link between ports and firewall groups, apart from fwaas-groups.ts so that ports.ts can use
// it without importing the FWaaS domain (and through it, routers.ts, which imports ports.ts).

/** Claim scope of a port in a firewall group: key = port id, owner = group id (one group per port). */
export const FIREWALL_PORT_SCOPE = 'firewall_group_port';

/** A port goes away: it leaves its firewall group (neutron-fwaas's port association is ON DELETE CASCADE). */
export function dropPortFromFirewallGroups(tx: Tx, portId: string): void {
  for (const group of tx.find('firewall_group', 'port', portId)) {
    tx.put('firewall_group', revise(group, { ports: (group.ports as string[]).filter((p) => p !== portId) } as Partial<Doc>));
  }
  tx.release(FIREWALL_PORT_SCOPE, portId);
}
