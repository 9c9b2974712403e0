import { readFileSync } from 'node:fs';
import { startEtcdCluster, type EtcdCluster } from '../../lab/etcd.ts';
import { startController, type ControllerProcess } from '../helpers/controller-process.ts';
import { buildScaleModel, type ApiCall, type ScaleModel } from '../helpers/scale-model.ts';
import { closeAll, simulatedHosts, type SimulatedHost } from '../helpers/simulated-host.ts';
import { percentile } from './stats.ts';

// Sync at scale, as JSON lines: a real controller process (SQLite, then etcd with 3 members on this
// machine) and 100 simulated hosts in this process (test/helpers/simulated-host.ts: the agent's
// channel, model and flow compilers over a fake switch) on real WebSockets, with 10,000 ports.
//   commit_to_agents  from sending an API write until every agent whose view it changes has
//                     applied it: a port update on one host (its solo tenant's port), and a rule
//                     in a group every host uses (created, then deleted). The 100 agents share
//                     this process's one thread, so the all-hosts figure includes their compiles
//                     one after another (agent_busy_ms: their summed batch times per write).
//   controller_cpu    the controller's CPU time (utime + stime from /proc) per one-host write, with
//                     100 then 10 hosts connected: the same writes to the same 10 hosts, the other
//                     90 disconnected. Heartbeats every 30 s, so that idle agents cost nothing here.
// `npm run bench -- scale`; WEFT_BENCH_SCALE_STORES=sqlite (default sqlite,etcd), WEFT_BENCH_SCALE_HOSTS,
// WEFT_BENCH_SCALE_PORTS, WEFT_BENCH_SCALE_WRITES, WEFT_BENCH_SCALE_CPU_WRITES.

const HOSTS = Number(process.env.WEFT_BENCH_SCALE_HOSTS ?? 100);
const PORTS = Number(process.env.WEFT_BENCH_SCALE_PORTS ?? 10_000);
const WRITES = Number(process.env.WEFT_BENCH_SCALE_WRITES ?? 200);
const CPU_WRITES = Number(process.env.WEFT_BENCH_SCALE_CPU_WRITES ?? 400);
/** Hosts left connected for the second CPU figure. */
const FEW = 10;
const WARMUP = 20;

const line = (o: object) => console.log(JSON.stringify({ bench: 'scale', ...o }));
const round = (n: number, digits = 2) => Number(n.toFixed(digits));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CLOCK_TICK_MS = 1000 / 100; // getconf CLK_TCK is 100 on Linux

/** The controller's user + system CPU time so far, in ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS; // utime, stime (fields 14, 15)
}

function apiOf(c: ControllerProcess): ApiCall {
  return async (method, path, body, headers = {}) => {
    const res = await fetch(`${c.url}${path}`, {
      method,
      headers: { 'x-auth-token': c.adminToken, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} -> ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
}

async function until(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * When the host has applied the next commit sent to it: performance.now() at its `applied`, and
 * the time its dataplane spent on batches meanwhile. Armed before the write, so that an applied
 * report emitted while the changes are handed over is not missed.
 */
function nextApplied(s: SimulatedHost): Promise<{ at: number; busyMs: number }> {
  return new Promise((resolve) => {
    let wanted: number | undefined;
    let busyMs = 0;
    const applied: Array<{ revision: number; at: number }> = [];
    const check = () => {
      const hit = wanted === undefined ? undefined : applied.find((a) => a.revision >= wanted!);
      if (!hit) return;
      s.channel.off('changes', onChanges);
      s.dataplane.off('applied', onApplied);
      s.dataplane.off('batch', onBatch);
      resolve({ at: hit.at, busyMs });
    };
    const onChanges = (m: { revision: number }) => {
      wanted ??= m.revision;
      check();
    };
    const onApplied = (r: { revision: number }) => {
      applied.push({ revision: r.revision, at: performance.now() });
      check();
    };
    const onBatch = (t: { totalMs: number }) => (busyMs += t.totalMs);
    s.channel.on('changes', onChanges);
    s.dataplane.on('applied', onApplied);
    s.dataplane.on('batch', onBatch);
  });
}

interface Sample {
  /** Until the last concerned host applied it. */
  allMs: number;
  /** Until the median concerned host applied it. */
  medianHostMs: number;
  busyMs: number;
  /** Connected hosts that got a message for it (a check: the concerned ones only). */
  sentTo: number;
}

/** Every simulated host connected in this run (to count who got a message). */
let fleet: readonly SimulatedHost[] = [];

/** Sends `write` and resolves when every host in `concerned` applied it. */
async function timedWrite(concerned: readonly SimulatedHost[], write: () => Promise<unknown>): Promise<Sample> {
  const changesBefore = fleet.map((s) => s.counts.changes);
  const done = concerned.map(nextApplied);
  const t0 = performance.now();
  await write();
  const results = await Promise.all(done);
  const times = results.map((r) => r.at - t0);
  return {
    allMs: Math.max(...times), medianHostMs: percentile(times, 50), busyMs: results.reduce((n, r) => n + r.busyMs, 0),
    sentTo: fleet.filter((s, i) => s.counts.changes > changesBefore[i]).length,
  };
}

function report(store: string, write: string, hosts: number, samples: Sample[]): void {
  const all = samples.map((s) => s.allMs);
  line({
    store, metric: 'commit_to_agents', write, hosts_concerned: hosts, hosts_connected: HOSTS, ports: PORTS, writes: samples.length,
    p50_ms: round(percentile(all, 50)), p99_ms: round(percentile(all, 99)),
    median_host_p50_ms: round(percentile(samples.map((s) => s.medianHostMs), 50)),
    agent_busy_ms: round(percentile(samples.map((s) => s.busyMs), 50)),
    hosts_sent_max: Math.max(...samples.map((s) => s.sentTo)),
  });
}

/** Solo ports that have an allowed address pair now. */
const paired = new Set<string>();

/** Adds or removes an allowed address pair on the solo port of `host`: a write only that host's view holds. */
function soloWrite(api: ApiCall, model: ScaleModel, host: string): () => Promise<unknown> {
  const port = model.soloPorts.get(host)![0];
  const pairs = paired.has(port.id) ? [] : [{ ip_address: '192.168.0.250' }];
  return async () => {
    await api('PUT', `/v2.0/ports/${port.id}`, { port: { allowed_address_pairs: pairs } });
    if (pairs.length) paired.add(port.id);
    else paired.delete(port.id);
  };
}

async function latency(store: string, api: ApiCall, model: ScaleModel, sims: SimulatedHost[]): Promise<void> {
  const one: Sample[] = [];
  for (let k = -WARMUP; k < WRITES; k++) {
    const s = sims[(k + WARMUP) % sims.length];
    const sample = await timedWrite([s], soloWrite(api, model, s.host));
    if (k >= 0) one.push(sample);
  }
  report(store, 'port_update_one_host', 1, one);

  const all: Sample[] = [];
  const rules = Math.max(10, Math.round(WRITES / 4));
  for (let k = -WARMUP / 4; k < rules; k++) {
    const body = { security_group_rule: {
      security_group_id: model.fleetGroup, project_id: 'ops', direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp',
      port_range_min: 9100, port_range_max: 9100, remote_ip_prefix: '10.200.0.0/20',
    } };
    let ruleId = '';
    const created = await timedWrite(sims, async () => (ruleId = (await api('POST', '/v2.0/security-group-rules', body)).security_group_rule.id));
    const deleted = await timedWrite(sims, () => api('DELETE', `/v2.0/security-group-rules/${ruleId}`));
    if (k >= 0) all.push(created, deleted);
  }
  report(store, 'rule_in_group_of_every_host', sims.length, all);
}

/** Controller CPU per one-host write to the first FEW hosts, with `sims` connected. */
async function cpuPerCommit(store: string, api: ApiCall, model: ScaleModel, controller: ControllerProcess, sims: SimulatedHost[]): Promise<void> {
  const targets = sims.slice(0, FEW);
  for (let k = 0; k < WARMUP; k++) await timedWrite([targets[k % FEW]], soloWrite(api, model, targets[k % FEW].host));
  const before = cpuMs(controller.pid!);
  const t0 = performance.now();
  for (let k = 0; k < CPU_WRITES; k++) await timedWrite([targets[k % FEW]], soloWrite(api, model, targets[k % FEW].host));
  const seconds = (performance.now() - t0) / 1000;
  const spent = cpuMs(controller.pid!) - before;
  line({
    store, metric: 'controller_cpu', write: 'port_update_one_host', hosts_connected: sims.length, ports: PORTS, writes: CPU_WRITES,
    cpu_ms_per_commit: round(spent / CPU_WRITES, 3), writes_per_second: round(CPU_WRITES / seconds, 0),
  });
}

async function run(store: 'sqlite' | 'etcd'): Promise<void> {
  let cluster: EtcdCluster | undefined;
  let controller: ControllerProcess | undefined;
  let sims: SimulatedHost[] = [];
  try {
    cluster = store === 'etcd' ? await startEtcdCluster({ members: 3, parentDir: process.env.WEFT_BENCH_ETCD_DIR }) : undefined;
    controller = await startController({
      env: {
        WEFT_AGENT_HEARTBEAT_INTERVAL: '30', WEFT_AGENT_DOWN_TIME: '120',
        ...(cluster ? { WEFT_STORE: 'etcd', WEFT_ETCD_ENDPOINTS: cluster.endpoints.join(','), WEFT_ETCD_PREFIX: '/bench-scale/' } : {}),
      },
    });
    const api = apiOf(controller);
    // The simulated hosts connect with the admin token (an operator's token may speak for any host).
    sims = simulatedHosts(HOSTS, controller.url, controller.adminToken);
    for (const s of sims) s.start();
    fleet = sims;
    await until('every simulated host to apply its snapshot', () => sims.every((s) => s.appliedRevision !== undefined));
    const built = performance.now();
    const model = await buildScaleModel(api, { hosts: sims.map((s) => s.host), ports: PORTS });
    await until('every port ACTIVE', async () => (await api('GET', '/v2.0/ports?status=DOWN&fields=id&limit=1')).ports.length === 0);
    await Promise.all(sims.map((s) => s.dataplane.idle()));
    const views = sims.map((s) => s.held('port').size);
    line({
      store, metric: 'model', hosts_connected: HOSTS, ports: PORTS, build_and_converge_s: round((performance.now() - built) / 1000, 1),
      ports_per_host_view_min: Math.min(...views), ports_per_host_view_max: Math.max(...views),
    });
    await latency(store, api, model, sims);
    await cpuPerCommit(store, api, model, controller, sims);
    await closeAll(sims.slice(FEW));
    fleet = sims.slice(0, FEW);
    await until('the other hosts to disconnect', async () => (await api('GET', '/v2.0/agents?alive=true')).agents.length === FEW, 10_000);
    await cpuPerCommit(store, api, model, controller, sims.slice(0, FEW));
  } finally {
    await closeAll(sims);
    await controller?.cleanup();
    await cluster?.cleanup();
  }
}

export async function scaleBench(): Promise<void> {
  const stores = (process.env.WEFT_BENCH_SCALE_STORES ?? 'sqlite,etcd').split(',') as Array<'sqlite' | 'etcd'>;
  for (const store of stores) await run(store);
}
