// Which routers a batch of model changes can alter the plan of (manager-plan.ts), so that the L3
// manager replans and re-applies those and no others: a remap on a gateway with a thousand routers
// costs what it costs with one. PURE: no I/O.
//
// A router's plan reads: the router; the ports whose device is the router; the subnets and networks
// of those ports; the router's floating IPs; the firewall groups of its interface ports, their
// policies and those policies' rules. Each kind of change maps back to routers through the same
// links, before (prev) and after (next) the change. `model` is the model after the batch.
import type { DocEvent, HostModel, ModelEvent } from '../model/host-model.ts';
import type { ViewDocs, ViewKind } from '../../schemas/agent/view.ts';

/** The document before and after the change (one of them when it was added or removed). */
const docs = <K extends ViewKind>(e: DocEvent<K>): ViewDocs[K][] => [e.prev, e.next].filter((d): d is ViewDocs[K] => d !== undefined);

export function routersTouched(model: HostModel, events: readonly ModelEvent[]): Set<string> {
  const out = new Set<string>();
  const routersOfNetwork = (networkId: string | undefined): void => {
    if (networkId === undefined) return;
    for (const id of model.portsOfNetwork(networkId)) {
      const device = model.get('port', id)?.device_id;
      if (device && model.get('router', device)) out.add(device);
    }
  };
  const routersOfPorts = (portIds: Iterable<string>): void => {
    for (const id of portIds) {
      const device = model.get('port', id)?.device_id;
      if (device) out.add(device);
    }
  };
  const groupsUsingPolicies = (policies: ReadonlySet<string>): void => {
    if (policies.size === 0) return;
    for (const g of model.all('firewall_group')) {
      const uses = (g.ingress_firewall_policy_id !== null && policies.has(g.ingress_firewall_policy_id))
        || (g.egress_firewall_policy_id !== null && policies.has(g.egress_firewall_policy_id));
      if (uses) routersOfPorts(g.ports);
    }
  };
  for (const e of events) {
    if (e.type !== 'doc') continue;
    switch (e.kind) {
      case 'router':
        out.add(e.id);
        break;
      case 'port':
        for (const d of docs(e as DocEvent<'port'>)) if (d.device_id) out.add(d.device_id);
        break;
      case 'floatingip':
        for (const d of docs(e as DocEvent<'floatingip'>)) if (d.router_id) out.add(d.router_id);
        break;
      case 'subnet':
        for (const d of docs(e as DocEvent<'subnet'>)) routersOfNetwork(d.network_id);
        break;
      case 'network':
        routersOfNetwork(e.id);
        break;
      case 'firewall_group':
        for (const d of docs(e as DocEvent<'firewall_group'>)) routersOfPorts(d.ports);
        break;
      case 'firewall_policy':
        groupsUsingPolicies(new Set([e.id]));
        break;
      case 'firewall_rule': {
        const policies = new Set<string>();
        for (const p of model.all('firewall_policy')) if (p.firewall_rules.includes(e.id)) policies.add(p.id);
        groupsUsingPolicies(policies);
        break;
      }
      default:
        break;
    }
  }
  return out;
}
