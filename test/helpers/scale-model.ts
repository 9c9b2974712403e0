// A tenant model at scale for the scale test and benchmark, made through the API the way clouds
// fill up: bulk port creates with binding:host_id, security groups with remote groups, routers.
//
//   ops          one `monitoring` network with a port on every host, in ops' default group: a
//                rule in that group concerns every host.
//   solo-<i>     a small tenant per host: one network whose ports (soloPortsPerHost) are all on
//                host i, in the tenant's default group: a change to one of them concerns host i alone.
//   tenant-<t>   `web` and `db` networks, each spread over 4 hosts (web on hosts 4t..4t+3, db on
//                the 4 hosts half the host list further), groups default (members reach each
//                other: remote group = itself), web (tcp 80/443 from anywhere) and db (tcp 5432
//                from the web group: a remote group on another network, on other hosts).
//   routers      the first `routers` tenants get a router with an interface on each of their subnets.
// Whatever `ports` is, the tenants' networks share what the others leave (router ports included).

export type ApiCall = <T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<T>;

export interface ScalePort {
  id: string;
  network_id: string;
  project_id: string;
  mac_address: string;
  fixed_ips: { subnet_id: string; ip_address: string }[];
  security_groups: string[];
  status: string;
  'binding:host_id': string;
}

export interface ScaleTenant {
  project: string;
  web: { network: string; subnet: string; hosts: string[] };
  db: { network: string; subnet: string; hosts: string[] };
}

export interface ScaleModel {
  /** Every port made by bulk create (router ports not included). */
  ports: ScalePort[];
  /** Per host, the ports of its solo tenant: a network no other host carries. */
  soloPorts: Map<string, ScalePort[]>;
  /** ops' default group: every host has a member of it. */
  fleetGroup: string;
  tenants: ScaleTenant[];
  routers: string[];
}

export interface ScaleModelOptions {
  hosts: readonly string[];
  /** Ports in all (default 10,000). */
  ports?: number;
  /** Default: one per 4 hosts, at most 24. */
  tenants?: number;
  routers?: number;
  soloPortsPerHost?: number;
  /** Ports per bulk create (default 200). */
  bulk?: number;
}

/** Hosts `count` positions from `start` in the host list, wrapping around. */
const hostsFrom = (hosts: readonly string[], start: number, count: number) =>
  Array.from({ length: count }, (_, k) => hosts[(start + k) % hosts.length]);

export async function buildScaleModel(api: ApiCall, o: ScaleModelOptions): Promise<ScaleModel> {
  const hosts = o.hosts;
  const tenantCount = o.tenants ?? Math.max(1, Math.min(24, Math.floor(hosts.length / 4)));
  const routerCount = o.routers ?? 5;
  const soloPerHost = o.soloPortsPerHost ?? 4;
  const bulk = o.bulk ?? 200;
  const tenantPorts = (o.ports ?? 10_000) - hosts.length * (1 + soloPerHost) - 2 * routerCount;
  if (tenantPorts < 2 * tenantCount) throw new Error('scale model: too few ports for the tenants');
  const ports: ScalePort[] = [];

  const createPorts = async (items: Record<string, unknown>[]): Promise<ScalePort[]> => {
    const made: ScalePort[] = [];
    for (let i = 0; i < items.length; i += bulk) {
      made.push(...(await api<{ ports: ScalePort[] }>('POST', '/v2.0/ports', { ports: items.slice(i, i + bulk) })).ports);
    }
    ports.push(...made);
    return made;
  };
  const defaultGroup = async (project: string): Promise<string> =>
    (await api('GET', `/v2.0/security-groups?project_id=${project}&name=default`)).security_groups[0].id;

  // ops: the fleet-wide monitoring network.
  const { network: monitoring } = await api('POST', '/v2.0/networks', { network: { name: 'monitoring', project_id: 'ops' } });
  await api('POST', '/v2.0/subnets', { subnet: { network_id: monitoring.id, project_id: 'ops', cidr: '10.200.0.0/20', ip_version: 4 } });
  await createPorts(hosts.map((host) => ({ network_id: monitoring.id, project_id: 'ops', name: `monitor-${host}`, 'binding:host_id': host })));
  const fleetGroup = await defaultGroup('ops');

  // One small tenant per host.
  const soloProject = (i: number) => `solo-${i}`;
  const { networks: soloNets } = await api('POST', '/v2.0/networks', {
    networks: hosts.map((_, i) => ({ name: 'solo', project_id: soloProject(i) })),
  });
  await api('POST', '/v2.0/subnets', {
    subnets: soloNets.map((n: { id: string; project_id: string }) => ({ network_id: n.id, project_id: n.project_id, cidr: '192.168.0.0/24', ip_version: 4 })),
  });
  const solo = await createPorts(hosts.flatMap((host, i) => Array.from({ length: soloPerHost }, (_, k) => ({
    network_id: soloNets[i].id, project_id: soloProject(i), name: `solo-${i}-${k}`, 'binding:host_id': host,
  }))));
  const soloPorts = new Map(hosts.map((h) => [h, solo.filter((p) => p['binding:host_id'] === h)]));

  // The tenants.
  const tenants: ScaleTenant[] = [];
  const perNetwork = (n: number) => Math.floor(tenantPorts / (2 * tenantCount)) + (n < tenantPorts % (2 * tenantCount) ? 1 : 0);
  for (let t = 0; t < tenantCount; t++) {
    const project = `tenant-${t}`;
    await api('PUT', `/v2.0/quotas/${project}`, { quota: { port: -1 } });
    const { networks: [web, db] } = await api('POST', '/v2.0/networks', {
      networks: [{ name: 'web', project_id: project }, { name: 'db', project_id: project }],
    });
    const { subnets: [webSub, dbSub] } = await api('POST', '/v2.0/subnets', {
      subnets: [
        { network_id: web.id, project_id: project, cidr: `10.${t}.0.0/22`, ip_version: 4 },
        { network_id: db.id, project_id: project, cidr: `10.${t}.8.0/22`, ip_version: 4 },
      ],
    });
    const dflt = await defaultGroup(project);
    const { security_groups: [webGroup, dbGroup] } = await api('POST', '/v2.0/security-groups', {
      security_groups: [{ name: 'web', project_id: project }, { name: 'db', project_id: project }],
    });
    const rule = (group: string, port: number, from: { remote_ip_prefix: string } | { remote_group_id: string }) => ({
      security_group_id: group, project_id: project, direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp',
      port_range_min: port, port_range_max: port, ...from,
    });
    await api('POST', '/v2.0/security-group-rules', {
      security_group_rules: [
        rule(webGroup.id, 80, { remote_ip_prefix: '0.0.0.0/0' }),
        rule(webGroup.id, 443, { remote_ip_prefix: '0.0.0.0/0' }),
        rule(dbGroup.id, 5432, { remote_group_id: webGroup.id }),
      ],
    });
    const webHosts = hostsFrom(hosts, 4 * t, 4);
    const dbHosts = hostsFrom(hosts, 4 * t + Math.floor(hosts.length / 2), 4);
    const tier = (network: string, groups: string[], on: string[], count: number, name: string) =>
      Array.from({ length: count }, (_, j) => ({
        network_id: network, project_id: project, name: `${name}-${j}`, security_groups: groups, 'binding:host_id': on[j % on.length],
      }));
    await createPorts(tier(web.id, [dflt, webGroup.id], webHosts, perNetwork(2 * t), 'web'));
    await createPorts(tier(db.id, [dflt, dbGroup.id], dbHosts, perNetwork(2 * t + 1), 'db'));
    tenants.push({
      project,
      web: { network: web.id, subnet: webSub.id, hosts: webHosts },
      db: { network: db.id, subnet: dbSub.id, hosts: dbHosts },
    });
  }

  const routers: string[] = [];
  for (const t of tenants.slice(0, routerCount)) {
    const { router } = await api('POST', '/v2.0/routers', { router: { name: 'edge', project_id: t.project } });
    for (const subnet of [t.web.subnet, t.db.subnet]) {
      await api('PUT', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: subnet });
    }
    routers.push(router.id);
  }
  return { ports, soloPorts, fleetGroup, tenants, routers };
}
