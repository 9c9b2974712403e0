import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../controller/app.ts';
import { noAuth } from '../../controller/auth/noauth.ts';
import { testConfig } from '../../controller/config.ts';
import { MODEL_INDEXES } from '../../controller/domain/indexes.ts';
import { openEtcdStore } from '../../controller/store/etcd/etcd-store.ts';
import { openStore } from '../../controller/store/open.ts';
import type { Store } from '../../controller/store/types.ts';
import { startEtcdCluster, type EtcdCluster } from '../../lab/etcd.ts';
import { startController, type ControllerProcess } from '../helpers/controller-process.ts';
import { percentile } from './stats.ts';

// SQLite against etcd (3 members on this machine, data on disk), side by side, as JSON lines:
// port creates per second through the API, one at a time and 32 at once, with their p50/p99; port
// shows 32 at once (on etcd each waits for a quorum read, shared among the reads that wait); and
// the resident memory of each controller process (two replicas on etcd) with 10,000 ports.

const SEQUENTIAL = Number(process.env.WEFT_BENCH_SEQUENTIAL ?? 500);
const PARALLEL = Number(process.env.WEFT_BENCH_PARALLEL ?? 4000);
const RSS_PORTS = Number(process.env.WEFT_BENCH_PORTS ?? 10_000);
const WAYS = 32;

const line = (o: object) => console.log(JSON.stringify({ bench: 'store', ...o }));
const round = (n: number, digits = 2) => Number(n.toFixed(digits));

async function portCreatesAndShows(label: string, store: Store, quorumReads?: () => Promise<number>): Promise<void> {
  const app = await buildApp({ config: testConfig(), store, authenticator: noAuth() });
  const call = async (method: 'POST' | 'PUT', url: string, payload: object) => {
    const res = await app.inject({ method, url, payload });
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
    return res.json();
  };
  try {
    await call('PUT', '/v2.0/quotas/admin', { quota: { port: -1 } });
    const net = (await call('POST', '/v2.0/networks', { network: { name: 'bench' } })).network;
    await call('POST', '/v2.0/subnets', { subnet: { network_id: net.id, cidr: '10.0.0.0/16', ip_version: 4 } });
    const ids: string[] = [];
    const timed = async (fn: () => Promise<unknown>) => {
      const t = performance.now();
      await fn();
      return performance.now() - t;
    };
    /** `count` calls of `op`, `ways` at a time: calls per second and latency percentiles. */
    const measure = async (ways: number, count: number, op: (i: number) => Promise<unknown>) => {
      const latencies: number[] = [];
      let next = 0;
      const start = performance.now();
      await Promise.all(Array.from({ length: ways }, async () => {
        while (next < count) {
          const i = next++;
          latencies.push(await timed(() => op(i)));
        }
      }));
      const seconds = (performance.now() - start) / 1000;
      latencies.sort((a, b) => a - b);
      return { per_second: round(count / seconds, 0), p50_ms: round(percentile(latencies, 50)), p99_ms: round(percentile(latencies, 99)) };
    };
    const create = async (i: number) => ids.push((await call('POST', '/v2.0/ports', { port: { network_id: net.id, name: `p${i}` } })).port.id);
    for (const [ways, count] of [[1, SEQUENTIAL], [WAYS, PARALLEL]] as const) {
      line({ store: label, metric: 'port_creates', concurrency: ways, ports: count, ...(await measure(ways, count, (i) => create(ways * 100_000 + i))) });
    }
    const show = async (i: number) => {
      const res = await app.inject({ method: 'GET', url: `/v2.0/ports/${ids[i % ids.length]}` });
      if (res.statusCode !== 200) throw new Error(`GET port: ${res.statusCode} ${res.body}`);
    };
    const readsBefore = await quorumReads?.();
    const shows = await measure(WAYS, PARALLEL, show);
    const reads = quorumReads ? (await quorumReads()) - readsBefore! : undefined;
    line({ store: label, metric: 'port_shows', concurrency: WAYS, shows: PARALLEL, ...shows, ...(reads !== undefined ? { quorum_reads: reads } : {}) });
  } finally {
    await app.close();
  }
}

/** Range requests the members have answered, from their own metrics. */
async function rangesServed(cluster: EtcdCluster): Promise<number> {
  let total = 0;
  for (const m of cluster.members) {
    const text = await (await fetch(`${m.clientUrl}/metrics`)).text();
    const served = /^grpc_server_handled_total\{grpc_code="OK",grpc_method="Range",[^}]*\} (\d+)/m.exec(text);
    total += Number(served?.[1] ?? 0);
  }
  return total;
}

function rssMiB(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024, 1);
}

/** Fills the model with `ports` ports through `writer`; resolves once every replica holds them. */
async function fill(writer: ControllerProcess, readers: ControllerProcess[], ports: number): Promise<void> {
  const api = async (replica: ControllerProcess, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${replica.url}${path}`, {
      method, headers: { 'x-auth-token': writer.adminToken, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const net = (await api(writer, 'POST', '/v2.0/networks', { network: { name: 'rss' } })).network;
  await api(writer, 'PUT', `/v2.0/quotas/${net.project_id}`, { quota: { port: -1 } });
  await api(writer, 'POST', '/v2.0/subnets', { subnet: { network_id: net.id, cidr: '10.8.0.0/16', ip_version: 4 } });
  for (let i = 0; i < ports; i += 200) {
    const bulk = Array.from({ length: Math.min(200, ports - i) }, (_, j) => ({ network_id: net.id, name: `rss${i + j}`, device_id: `vm${(i + j) % 500}` }));
    await api(writer, 'POST', '/v2.0/ports', { ports: bulk });
  }
  for (const r of readers) await api(r, 'GET', `/v2.0/ports?network_id=${net.id}&limit=1`);
}

async function residentMemory(cluster: EtcdCluster): Promise<void> {
  const single = await startController({ env: { WEFT_LOG_LEVEL: 'warn' } });
  try {
    await fill(single, [], RSS_PORTS);
    line({ store: 'sqlite', metric: 'rss_mib', ports: RSS_PORTS, replica: 1, value: rssMiB(single.pid) });
  } finally {
    await single.cleanup();
  }
  const env = { WEFT_STORE: 'etcd', WEFT_ETCD_ENDPOINTS: cluster.endpoints.join(','), WEFT_ETCD_PREFIX: '/bench-rss/', WEFT_LOG_LEVEL: 'warn' };
  // Replicas share the tokens the first one writes to etcd.
  const a = await startController({ env, controllerMakesTokens: true });
  const b = await startController({ env, controllerMakesTokens: true });
  try {
    await fill(a, [b], RSS_PORTS);
    line({ store: 'etcd', metric: 'rss_mib', ports: RSS_PORTS, replica: 1, role: 'writer', value: rssMiB(a.pid) });
    line({ store: 'etcd', metric: 'rss_mib', ports: RSS_PORTS, replica: 2, role: 'follower', value: rssMiB(b.pid) });
  } finally {
    await Promise.all([a.cleanup(), b.cleanup()]);
  }
}

export async function storeBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-store-'));
  const cluster = await startEtcdCluster({ members: 3, parentDir: process.env.WEFT_BENCH_ETCD_DIR });
  try {
    const sqlite = openStore(dir);
    try {
      await portCreatesAndShows('sqlite', sqlite);
    } finally {
      await sqlite.close();
    }
    const etcd = await openEtcdStore({ endpoints: cluster.endpoints, prefix: '/bench-creates/', indexes: MODEL_INDEXES });
    try {
      await portCreatesAndShows('etcd', etcd, () => rangesServed(cluster));
    } finally {
      await etcd.close();
    }
    await residentMemory(cluster);
  } finally {
    await cluster.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}
