import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../controller/app.ts';
import { noAuth } from '../../controller/auth/noauth.ts';
import { testConfig } from '../../controller/config.ts';
import { openStore } from '../../controller/store/open.ts';

// API and store figures: how fast ports are created into a file-backed store, and what
// show, filtered list and one more create cost with 10,000 ports in the model.

const PORTS = Number(process.env.WEFT_BENCH_PORTS ?? 10_000);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function timeEach(n: number, fn: (i: number) => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out.sort((a, b) => a - b);
}

const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

export async function apiBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-'));
  const store = openStore(dir);
  const app = await buildApp({ config: testConfig(), store, authenticator: noAuth() });
  const call = async (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) => {
    const res = await app.inject({ method, url, payload });
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
    return res.json();
  };
  try {
    await call('PUT', '/v2.0/quotas/admin', { quota: { port: -1 } });
    const net = (await call('POST', '/v2.0/networks', { network: { name: 'bench' } })).network;
    const subnet = (await call('POST', '/v2.0/subnets', { subnet: { network_id: net.id, cidr: '10.0.0.0/16', ip_version: 4 } })).subnet;
    const start = performance.now();
    const batch = 100;
    for (let i = 0; i < PORTS; i += batch) {
      const ports = Array.from({ length: Math.min(batch, PORTS - i) }, (_, j) => ({ network_id: net.id, name: `p${i + j}`, device_id: `vm${(i + j) % 500}` }));
      await call('POST', '/v2.0/ports', { ports });
    }
    const bulkSeconds = (performance.now() - start) / 1000;
    console.log(`api: ${PORTS} ports created in bulks of ${batch}: ${(PORTS / bulkSeconds).toFixed(0)} ports/s (file-backed SQLite store)`);

    const single = await timeEach(200, async (i) => { await call('POST', '/v2.0/ports', { port: { network_id: net.id, name: `single${i}` } }); });
    console.log(`api: one port create with ${PORTS} ports in the model: median ${fmt(percentile(single, 50))}, p99 ${fmt(percentile(single, 99))}`);

    const ports = (await call('GET', `/v2.0/ports?network_id=${net.id}&limit=50&fields=id`)).ports as { id: string }[];
    const show = await timeEach(500, async (i) => { await call('GET', `/v2.0/ports/${ports[i % ports.length].id}`); });
    console.log(`api: port show: median ${fmt(percentile(show, 50))}, p99 ${fmt(percentile(show, 99))}`);
    const filtered = await timeEach(50, async (i) => { await call('GET', `/v2.0/ports?device_id=vm${i}`); });
    console.log(`api: port list filtered by device_id (20 of ${PORTS}): median ${fmt(percentile(filtered, 50))}, p99 ${fmt(percentile(filtered, 99))}`);
    const t = performance.now();
    const all = await call('GET', '/v2.0/ports');
    console.log(`api: full port list (${all.ports.length} ports): ${fmt(performance.now() - t)}`);
    console.log(`api: subnet ${subnet.cidr} in use: ${all.ports.length} addresses`);
  } finally {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
