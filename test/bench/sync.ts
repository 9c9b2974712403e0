import { openStore } from '../../controller/store/open.ts';
import type { Doc } from '../../controller/store/types.ts';
import { SyncHub } from '../../controller/sync/hub.ts';
import { PROTOCOL_VERSION } from '../../schemas/agent/channel.ts';

// Per-host views: what one commit costs the controller's sync with 10,000 ports in 100 networks
// and 10 connected agents (WEFT_BENCH_HOSTS). Each network belongs to one of 10 projects whose group lets its own
// members in (remote_group_id = itself, like a default group), and spans 3 of the hosts.
// Timed: the hub's commit listener alone (between a listener subscribed before it and one after),
// i.e. working out each host's delta and serializing it. Run with
// `npx tsx -e "import('./test/bench/sync.ts').then((m) => m.syncBench())"`.

const PORTS = Number(process.env.WEFT_BENCH_PORTS ?? 10_000);
const NETWORKS = 100;
/** Connected agents; a commit's cost should not grow with the hosts it does not concern. */
const HOSTS = Number(process.env.WEFT_BENCH_HOSTS ?? 10);
const PROJECTS = 10;

const network = (n: number): Doc => ({
  id: `net-${n}`, project_id: `p${n % PROJECTS}`, admin_state_up: true, mtu: 1450, 'provider:network_type': 'vxlan',
  'provider:physical_network': null, 'provider:segmentation_id': 1000 + n, 'router:external': false,
});
const port = (i: number, n: number, host: string): Doc => ({
  id: `port-${i}`, network_id: `net-${n}`, project_id: `p${n % PROJECTS}`, name: '', admin_state_up: true, status: 'DOWN',
  mac_address: `fa:16:3e:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
  fixed_ips: [{ subnet_id: `sub-${n}`, ip_address: `10.${n}.${(i >> 8) & 255}.${i & 255}` }], allowed_address_pairs: [],
  port_security_enabled: true, security_groups: [`sg-${n % PROJECTS}`], device_owner: 'compute:nova', device_id: `vm-${i}`,
  'binding:host_id': host,
});
/** Port j of network n lives on one of the network's 3 hosts. */
const hostOf = (n: number, j: number) => `host-${(n + (j % 3)) % HOSTS}`;

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const fmt = (ms: number) => `${ms.toFixed(3)} ms`;

export async function syncBench(): Promise<void> {
  const store = openStore(':memory:');
  let t0 = 0;
  let spent = 0;
  store.subscribe(() => (t0 = performance.now()));
  const hub = new SyncHub({ store, heartbeatInterval: 60, downTime: 180, sendBufferLimit: 1 << 30 });
  store.subscribe(() => (spent = performance.now() - t0));
  try {
    await store.transact((tx) => {
      for (let g = 0; g < PROJECTS; g++) {
        tx.put('security_group', { id: `sg-${g}`, project_id: `p${g}` });
        tx.put('security_group_rule', {
          id: `rule-${g}`, security_group_id: `sg-${g}`, direction: 'ingress', ethertype: 'IPv4', protocol: null,
          port_range_min: null, port_range_max: null, normalized_cidr: null, remote_group_id: `sg-${g}`,
        });
      }
      for (let n = 0; n < NETWORKS; n++) {
        tx.put('network', network(n));
        tx.put('subnet', {
          id: `sub-${n}`, network_id: `net-${n}`, ip_version: 4, cidr: `10.${n}.0.0/16`, gateway_ip: null, enable_dhcp: true,
          dns_nameservers: [], host_routes: [],
        });
      }
      for (let i = 0; i < PORTS; i++) tx.put('port', port(i, i % NETWORKS, hostOf(i % NETWORKS, Math.floor(i / NETWORKS))));
    });
    let bytes = 0;
    const sessions = [];
    for (let h = 0; h < HOSTS; h++) {
      const link = { send: (t: string) => void (bytes += t.length), bufferedAmount: 0, close() {} };
      const session = hub.accept(link);
      session.receive(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, host: `host-${h}`, tunnelIp: `192.0.2.${h + 1}`, bridgeMappings: {}, datapath: 'netdev' }));
      sessions.push(session);
    }
    while (hub.connectedAgents().length < HOSTS) await new Promise((r) => setImmediate(r));
    const sizes = hub.connectedAgents().map((a) => Object.values(a.viewSize ?? {}).reduce((x, y) => x + y, 0));
    console.log(`sync: ${PORTS} ports, ${NETWORKS} networks, ${HOSTS} agents; view per agent ${Math.min(...sizes)}..${Math.max(...sizes)} docs; snapshots ${(bytes / 1e6).toFixed(1)} MB`);

    let next = PORTS;
    const time = async (label: string, runs: number, make: (k: number) => Doc, kind = 'port') => {
      const times: number[] = [];
      const commits: number[] = [];
      bytes = 0;
      for (let k = 0; k < runs; k++) {
        const t = performance.now();
        await store.transact((tx) => tx.put(kind, make(k)));
        commits.push(performance.now() - t);
        times.push(spent);
      }
      console.log(`sync: ${label}: hub median ${fmt(pct(times, 50))}, p95 ${fmt(pct(times, 95))}, max ${fmt(Math.max(...times))}`
        + ` (whole commit median ${fmt(pct(commits, 50))}); ${(bytes / runs / 1024).toFixed(1)} KiB sent per commit (${HOSTS} agents connected)`);
    };
    // A port on a network whose hosts already have it: one entry for those 3 hosts and for the
    // hosts watching its group as a remote group.
    await time('one port create (network already in the hosts\' views)', 500, (k) => {
      const n = k % NETWORKS;
      return port(next++, n, hostOf(n, k));
    });
    // A port bound to a host that had nothing of its network or project: the network, its subnet,
    // the project's group and rule, and the group's 1,000 members (10 networks) enter that host's
    // view. Each host/project pair first: 10 commits.
    await time('one port create bringing a new project to its host (~1,000 docs enter)', 10, (k) => {
      const n = k % NETWORKS;
      return port(next++, n, `host-${(n + 5) % HOSTS}`);
    });
    // A commit touching nothing in any view.
    await time('a commit outside every view (router)', 500, (k) => ({ id: `router-${k}`, project_id: 'p0' }) as Doc, 'router');
  } finally {
    hub.close();
    await store.close();
  }
}
