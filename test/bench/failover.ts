import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { createFabric, PROBE, type Fabric } from '../helpers/fabric.ts';
import { network, port, portStatus, subnet } from '../helpers/fabric-model.ts';
import { attachExternal } from '../../lab/lab-external.ts';
import { startEtcdCluster } from '../../lab/etcd.ts';
import { percentile } from './stats.ts';

// Floating-IP failover: a UDP probe every 2 ms from the outside to a floating IP, remapped between
// two VMs through the API (after WEFT_BENCH_WARMUP unmeasured remaps); time from sending the PUT to
// the first answer from the new VM, and probes lost. Once with 10 ports in the model, once with 10,000 (the extra ones on the VMs' network);
// with the SQLite store and with the etcd store (3 members on this machine).

const REMAPS = Number(process.env.WEFT_BENCH_REMAPS ?? 40);
/** Floating IPs on the router besides the one remapped (on the first filler ports): a remap must not cost more on a busy router. */
const OTHER_FLOATING = Number(process.env.WEFT_BENCH_FAILOVER_FLOATING ?? 0);
const WARMUP = Number(process.env.WEFT_BENCH_WARMUP ?? 20);
/** The pause after each measured remap. */
const PAUSE_MS = 200;
const epoch = () => performance.timeOrigin + performance.now();
const pct = percentile;

async function run(extraPorts: number, store: 'sqlite' | 'etcd'): Promise<void> {
  const cluster = store === 'etcd' ? await startEtcdCluster({ members: 3, parentDir: process.env.WEFT_BENCH_ETCD_DIR }) : undefined;
  const controllerEnv: Record<string, string> = cluster ? { WEFT_STORE: 'etcd', WEFT_ETCD_ENDPOINTS: cluster.endpoints.join(',') } : {};
  const f: Fabric = await createFabric({ hosts: ['h1', 'h2'], provider: true, controllerEnv }).catch(async (err) => {
    await cluster?.cleanup();
    throw err;
  });
  try {
    const ext = await attachExternal(f.lab, '172.31.200.100/21');
    const extNet = await network(f, 'admin-project', { 'router:external': true, 'provider:network_type': 'flat', 'provider:physical_network': 'physnet1' });
    await subnet(f, 'admin-project', extNet, '172.31.200.0/21', { gateway_ip: '172.31.200.100', allocation_pools: [{ start: '172.31.200.10', end: '172.31.200.99' }, { start: '172.31.201.1', end: '172.31.207.250' }] });
    const net = await network(f, 'bench');
    const sub = await subnet(f, 'bench', net, '10.20.0.0/16', { gateway_ip: '10.20.0.1' });
    await f.api('PUT', '/v2.0/quotas/bench', { quota: { port: -1, floatingip: -1 } });
    const fillers: string[] = [];
    for (let i = 0; i < extraPorts; i += 200) {
      const ports = Array.from({ length: Math.min(200, extraPorts - i) }, (_, j) => ({ network_id: net, project_id: 'bench', name: `filler${i + j}` }));
      fillers.push(...(await f.api('POST', '/v2.0/ports', { ports })).ports.map((p: { id: string }) => p.id));
    }
    const { router } = await f.api('POST', '/v2.0/routers', { router: { name: 'r', project_id: 'bench', external_gateway_info: { network_id: extNet } } });
    await f.api('PUT', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: sub });
    const otherFloating = Math.min(OTHER_FLOATING, fillers.length);
    for (let i = 0; i < otherFloating; i++) {
      await f.api('POST', '/v2.0/floatingips', { floatingip: { floating_network_id: extNet, project_id: 'bench', port_id: fillers[i] } });
    }
    const ids: string[] = [];
    for (const [name, ip] of [['v1', '10.20.200.5'], ['v2', '10.20.200.6']]) {
      const p = await port(f, 'bench', net, 'h2', { name, fixed_ips: [{ ip_address: ip }] });
      ids.push(p.id);
      const vm = await f.lab.plug('h2', { name, portId: p.id, mac: p.mac_address, ip: `${ip}/16`, gateway: '10.20.0.1' });
      await f.until(`${name} ACTIVE`, async () => (await portStatus(f, p.id)) === 'ACTIVE');
      const server = vm.spawn([process.execPath, PROBE, 'serve-udp-tag', '7001', name]);
      await f.until('server', async () => server.output().includes('listening'));
      if (name === 'v1') {
        await f.api('POST', '/v2.0/security-group-rules', { security_group_rule: {
          security_group_id: p.security_groups[0], direction: 'ingress', ethertype: 'IPv4', protocol: 'udp',
          port_range_min: 7001, port_range_max: 7001, remote_ip_prefix: '0.0.0.0/0',
        } });
      }
    }
    const { floatingip: fip } = await f.api('POST', '/v2.0/floatingips', { floatingip: { floating_network_id: extNet, project_id: 'bench', port_id: ids[0] } });
    // The probe writes its answers to a file: read when we look, they wake nobody 500 times a second.
    const answers = join(f.lab.runRoot, 'probe-answers');
    const probe = ext.spawn([process.execPath, PROBE, 'udp-probe', fip.floating_ip_address, '7001', '40002', '2', answers]);
    // Only what the file gained since the last look is read and parsed: watching the probe costs the
    // 2-core lab little CPU, and this process answers its own HTTP exchanges on time.
    const parsed: { t: number; name: string; seq: number; sent: number }[] = [];
    let read = 0;
    let partial = '';
    const chunk = Buffer.alloc(1 << 20);
    const replies = () => {
      if (!existsSync(answers)) return parsed;
      const fd = openSync(answers, 'r');
      let text = partial;
      try {
        for (let n; (n = readSync(fd, chunk, 0, chunk.length, read)) > 0; read += n) text += chunk.toString('utf8', 0, n);
      } finally {
        closeSync(fd);
      }
      const end = text.lastIndexOf('\n') + 1;
      partial = text.slice(end);
      for (const l of text.slice(0, end).split('\n')) {
        if (!l.startsWith('reply ')) continue;
        const [, t, answer, sent] = l.split(' ');
        const [name, seq] = answer.split(':');
        parsed.push({ t: Number(t), name, seq: Number(seq), sent: Number(sent) });
      }
      return parsed;
    };
    // The remap is sent on a kept-alive connection, as an SDK would, so that the figure is not a TCP handshake.
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const remap = (portId: string) => new Promise<void>((resolve, reject) => {
      const body = JSON.stringify({ floatingip: { port_id: portId } });
      const req = http.request(`${f.controller.url}/v2.0/floatingips/${fip.id}`, {
        method: 'PUT', agent: keepAlive,
        headers: { 'x-auth-token': f.controller.adminToken, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`PUT floatingip -> ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
    await remap(ids[0]); // opens the connection
    await f.until('probe answered by v1', async () => replies().some((r) => r.name === 'v1'), 60_000);
    // Warm-up, not measured: a controller and agents that have been up a while have compiled (JIT)
    // the code a remap runs; a fresh one would measure its first few dozen requests instead.
    for (let i = 0; i < WARMUP; i++) {
      await remap(ids[(i + 1) % 2]);
      await new Promise((r) => setTimeout(r, 50));
    }
    await remap(ids[0]);
    await f.until('probe answered by v1 after the warm-up', async () => replies().at(-1)?.name === 'v1', 30_000);
    const latencies: number[] = [];
    const answered: number[] = [];
    const routerApplied: number[] = [];
    const appliedTimes = () => [...f.agents.values()].flatMap((a) => a.output().split('\n')).filter((l) => l.includes('"router applied"')).map((l) => JSON.parse(l).time as number);
    const lost: number[] = [];
    for (let i = 0; i < REMAPS; i++) {
      const to = i % 2 === 0 ? 'v2' : 'v1';
      const from = to === 'v1' ? 'v2' : 'v1';
      const t0 = epoch();
      await remap(ids[to === 'v1' ? 0 : 1]);
      answered.push(epoch() - t0);
      const first = await f.until(`first answer from ${to}`, async () => replies().find((r) => r.name === to && r.t > t0), 30_000);
      latencies.push(first.t - t0);
      const applied = appliedTimes().filter((t) => t >= Math.floor(t0)).sort((a, b) => a - b)[0];
      if (applied !== undefined) routerApplied.push(applied - t0);
      if (process.env.WEFT_BENCH_VERBOSE) console.log('remap', i, 'first', (first.t - t0).toFixed(1), 'put', answered.at(-1)!.toFixed(1), 'applied', appliedTimes().map((t) => t - t0).filter((d) => d > -300).join(','));
      // Probes lost: sequence numbers between the old VM's last answer and the new VM's first.
      const lastOld = replies().filter((r) => r.name === from && r.t <= first.t).at(-1);
      const seen = new Set(replies().map((r) => r.seq));
      let missing = 0;
      for (let s = (lastOld?.seq ?? first.seq) + 1; s < first.seq; s++) if (!seen.has(s)) missing++;
      lost.push(missing);
      await new Promise((r) => setTimeout(r, PAUSE_MS));
    }
    keepAlive.destroy();
    const [txnFloor, spacedTxnFloor] = cluster ? await bareTxnTimes(cluster.endpoints, [{ count: 100, pauseMs: 0 }, { count: 30, pauseMs: PAUSE_MS }]) : [[], []];
    await probe.stop('SIGTERM');
    // The path's own latency on this machine at this time: what no remap can beat.
    const roundTrips = replies().filter((r) => Number.isFinite(r.sent)).map((r) => r.t - r.sent);
    const blackholed = replies().at(-1)?.name !== (REMAPS % 2 === 0 ? 'v1' : 'v2');
    console.log(`failover (${store} store${cluster ? ', 3 members' : ''}): ${extraPorts + 5} ports in the model${otherFloating ? `, ${otherFloating + 1} floating IPs on the router` : ''}, ${REMAPS} remaps, probe every 2 ms: `
      + `API to first answer from the new VM median ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms (median: the PUT answered in ${pct(answered, 50).toFixed(1)} ms, the gateway agent had applied it after ${pct(routerApplied, 50).toFixed(0)} ms); `
      + `probes lost per remap median ${pct(lost, 50)}, max ${Math.max(...lost)}; established flow ${blackholed ? 'BLACK-HOLED' : 'followed every remap'}; `
      + `for scale, a probe's own round trip through the fabric: median ${pct(roundTrips, 50).toFixed(1)} ms, p90 ${pct(roundTrips, 90).toFixed(1)} ms`
      + (txnFloor.length ? `; a bare guarded etcd txn from this process to the same cluster's leader, probe running: back to back median ${pct(txnFloor, 50).toFixed(1)} ms, p90 ${pct(txnFloor, 90).toFixed(1)} ms; `
        + `${PAUSE_MS} ms apart as the remaps are, median ${pct(spacedTxnFloor, 50).toFixed(1)} ms, p90 ${pct(spacedTxnFloor, 90).toFixed(1)} ms` : ''));
  } finally {
    await f.destroy();
    await cluster?.cleanup();
  }
}

/**
 * What one commit costs etcd itself on this machine at this time: guarded txns (compare a key's
 * mod_revision, put it), one at a time, as the store's commit is, on a key outside Weft's prefix,
 * sent to the leader as the store sends its commits. One series per entry of `series`, its txns
 * `pauseMs` apart: a txn after a pause pays for waking etcd's members (and this process) up, as a
 * remap does; back to back, it does not.
 */
async function bareTxnTimes(endpoints: readonly string[], series: ReadonlyArray<{ count: number; pauseMs: number }>): Promise<number[][]> {
  const members = endpoints.map((host) => new Etcd3({ hosts: [host] }));
  const key = Buffer.from('/weft-bench/txn-floor');
  try {
    const statuses = await Promise.all(members.map((m) => m.maintenance.status().catch(() => undefined)));
    const client = members[statuses.findIndex((s) => s && s.header.member_id === s.leader)] ?? members[0];
    let modRevision = Number((await client.kv.txn({ success: [{ request_put: { key, value: Buffer.from('0') } }] })).header.revision);
    const out: number[][] = [];
    for (const { count, pauseMs } of series) {
      const times: number[] = [];
      for (let i = 0; i < count; i++) {
        if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
        const started = performance.now();
        const res = await client.kv.txn({
          compare: [{ key, target: 'Mod', result: 'Equal', mod_revision: modRevision }],
          success: [{ request_put: { key, value: Buffer.from(String(i)) } }],
        });
        times.push(performance.now() - started);
        if (!res.succeeded) throw new Error('bare txn: the guard failed (someone else wrote the key)');
        modRevision = Number(res.header.revision);
      }
      out.push(times);
    }
    return out;
  } finally {
    for (const m of members) m.close();
  }
}

export async function failoverBench(): Promise<void> {
  // The model's own ports: the router's gateway and interface, the floating IP's, and the two VMs'.
  const own = 5;
  // WEFT_BENCH_FAILOVER_STORES: which stores, in order (default both).
  const stores = (process.env.WEFT_BENCH_FAILOVER_STORES ?? 'sqlite,etcd').split(',') as Array<'sqlite' | 'etcd'>;
  for (const store of stores) {
    if (process.env.WEFT_BENCH_FAILOVER_SMALL !== '0') await run(10 - own, store);
    await run(Number(process.env.WEFT_BENCH_FAILOVER_PORTS ?? 10_000) - own, store);
  }
}
