// The page's copy of the topology the caller sees, kept from the event stream (a snapshot, then
// changes), and the scene for one project: what the picture draws, already grouped (subnets and
// ports on their network, floating IPs on their port, routers with the networks they join).

export const KINDS = ['network', 'subnet', 'port', 'router', 'floatingip'];

const ROUTER_INTERFACE_OWNERS = new Set([
  'network:router_interface', 'network:router_interface_distributed', 'network:ha_router_replicated_interface',
]);
export const ROUTER_GATEWAY = 'network:router_gateway';
export const isRouterInterface = (port) => ROUTER_INTERFACE_OWNERS.has(port.device_owner);

const byName = (a, b) => (a.name || a.id).localeCompare(b.name || b.id) || a.id.localeCompare(b.id);

export class TopologyModel {
  constructor() {
    /** kind -> id -> document */
    this.docs = Object.fromEntries(KINDS.map((k) => [k, new Map()]));
    this.revision = -1;
    /** { project_id, admin } of the logged-in caller, from the snapshot. */
    this.caller = null;
  }

  load(snapshot) {
    for (const kind of KINDS) {
      this.docs[kind] = new Map((snapshot.docs[kind] ?? []).map((d) => [d.id, d]));
    }
    this.revision = snapshot.revision;
    this.caller = snapshot.caller;
  }

  /** One `changes` event; false when it is older than what the model holds (ignored). */
  apply(event) {
    if (event.revision <= this.revision) return false;
    for (const change of event.changes) {
      const docs = this.docs[change.kind];
      if (!docs) continue;
      if (change.op === 'upsert') docs.set(change.doc.id, change.doc);
      else if (change.op === 'delete') docs.delete(change.id);
    }
    this.revision = event.revision;
    return true;
  }

  /** Project ids that own something the caller sees, sorted. */
  projects() {
    const ids = new Set();
    for (const kind of KINDS) for (const doc of this.docs[kind].values()) if (doc.project_id) ids.add(doc.project_id);
    return [...ids].sort();
  }

  /**
   * What to draw for `project` ('' = everything the caller sees): the project's networks, routers,
   * ports and floating IPs, plus the networks those use (an external network of a router's gateway,
   * a shared network with one of the project's ports) and the routers' own ports on them.
   */
  scene(project) {
    const all = (kind) => [...this.docs[kind].values()];
    const mine = (doc) => !project || doc.project_id === project;
    const routers = all('router').filter(mine).sort(byName);
    const routerIds = new Set(routers.map((r) => r.id));
    const ports = all('port').filter((p) => mine(p) || routerIds.has(p.device_id) || (project && this.docs.network.get(p.network_id)?.project_id === project));
    const fips = all('floatingip').filter(mine);

    const networkIds = new Set(all('network').filter(mine).map((n) => n.id));
    for (const p of ports) networkIds.add(p.network_id);
    for (const r of routers) if (r.external_gateway_info?.network_id) networkIds.add(r.external_gateway_info.network_id);
    for (const f of fips) networkIds.add(f.floating_network_id);

    const networks = [...networkIds].map((id) => this.docs.network.get(id)).filter(Boolean)
      .sort((a, b) => Number(!!b['router:external']) - Number(!!a['router:external']) || byName(a, b))
      .map((doc) => ({ doc, subnets: [], ports: [], floatingips: [] }));
    const networkById = new Map(networks.map((n) => [n.doc.id, n]));
    for (const subnet of all('subnet')) networkById.get(subnet.network_id)?.subnets.push(subnet);
    const portEntries = new Map();
    for (const port of ports.sort(byName)) {
      const net = networkById.get(port.network_id);
      if (!net) continue;
      const entry = { doc: port, floatingips: [] };
      portEntries.set(port.id, entry);
      net.ports.push(entry);
    }
    // A floating IP hangs on its port when the port is drawn, else on its external network.
    for (const fip of fips) {
      const port = fip.port_id && portEntries.get(fip.port_id);
      if (port) port.floatingips.push(fip);
      else networkById.get(fip.floating_network_id)?.floatingips.push(fip);
    }
    for (const net of networks) net.subnets.sort((a, b) => a.cidr.localeCompare(b.cidr));

    const routerEntries = routers.map((doc) => ({
      doc,
      gatewayNetworkId: doc.external_gateway_info?.network_id ?? null,
      interfaceNetworkIds: [...new Set(ports.filter((p) => p.device_id === doc.id && isRouterInterface(p)).map((p) => p.network_id))]
        .filter((id) => networkById.has(id)),
    }));

    const hosts = new Map();
    for (const port of ports) {
      const host = port['binding:host_id'];
      if (host) hosts.set(host, (hosts.get(host) ?? 0) + 1);
    }
    return { networks, routers: routerEntries, hosts };
  }
}
