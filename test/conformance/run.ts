// npm run conformance: Neutron's own API tests (Tempest's tempest.api.network and
// neutron-tempest-plugin's api) against Weft, with a real Keystone, everything on loopback.
// Prints "N passed, M failed, K skipped", writes the failing tests with their first error
// line to <out>/failures.txt, and removes everything it started.
//
//   npm run conformance [-- --regex RE] [--concurrency N] [--out DIR] [--keep] [--store etcd [--replicas N]]
//
// With --store etcd, Weft runs on a 3-member etcd cluster with N replicas (default 2) behind a
// round-robin balancer, so that Tempest's every write and the read after it go to different replicas.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { run } from '../../agent/host/exec.ts';
import { startBalancer, type Balancer } from '../../lab/balancer.ts';
import { startEtcdCluster, type EtcdCluster } from '../../lab/etcd.ts';
import { KEYSTONE_REGION, REPO_ROOT, startKeystone, type Keystone } from '../../lab/keystone.ts';
import type { ControllerProcess } from '../helpers/controller-process.ts';
import { createFabric, type Fabric } from '../helpers/fabric.ts';
import { tempestConf } from './tempest-conf.ts';

// The core set (Tempest's network API tests and the plugin's), and the plugin's FWaaS v2 API tests.
const DEFAULT_REGEX = '^(tempest\\.api\\.network|neutron_tempest_plugin\\.api|neutron_tempest_plugin\\.fwaas\\.api)\\.';
const PHYSNET = 'physnet1';

const { values: args } = parseArgs({
  options: {
    regex: { type: 'string', default: DEFAULT_REGEX },
    // Debian's Tempest sleeps 10 s before every subnet delete: workers mostly wait, so more than the cores.
    concurrency: { type: 'string', default: '4' },
    out: { type: 'string', default: 'conformance-results' },
    keep: { type: 'boolean', default: false },
    store: { type: 'string', default: 'sqlite' },
    replicas: { type: 'string', default: '2' },
  },
});

const say = (line: string) => process.stderr.write(`conformance: ${line}\n`);

async function api(ctl: ControllerProcess, token: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${ctl.url}${path}`, { method, headers: { 'x-auth-token': token, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} -> ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Runs Tempest in its workspace; its per-test lines go to the log, a count to the terminal. */
function runTempest(workspace: string, logPath: string): Promise<number | null> {
  const log = createWriteStream(logPath);
  const child = spawn('tempest', ['run', '--regex', args.regex!, '--concurrency', args.concurrency!], { cwd: workspace, stdio: ['ignore', 'pipe', 'pipe'] });
  let done = 0;
  const onData = (b: Buffer) => {
    log.write(b);
    done += (b.toString().match(/^\{\d+\} /gm) ?? []).length;
    if (process.stderr.isTTY) process.stderr.write(`\rconformance: ${done} tests run`);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  started.tempest = child;
  return new Promise((ok) => child.on('exit', (code) => {
    started.tempest = undefined;
    if (process.stderr.isTTY) process.stderr.write('\n');
    log.end(() => ok(code));
  }));
}

interface Results {
  passed: number;
  skipped: number;
  failed: Array<{ id: string; error: string }>;
  suites: Record<string, { passed: number; failed: number; skipped: number }>;
  skip_reasons: Record<string, number>;
}

async function collect(workspace: string): Promise<Results> {
  // The subunit stream is binary: piped straight from stestr into the parser.
  const script = `stestr last --subunit | /usr/bin/python3 ${join(REPO_ROOT, 'test/conformance/results.py')}`;
  const parsed = await run('bash', ['-o', 'pipefail', '-c', script], { cwd: workspace, allowFail: true, timeoutMs: 120_000 });
  if (!parsed.stdout.trim()) throw new Error(`no results from stestr: ${parsed.stderr}`);
  return JSON.parse(parsed.stdout);
}

/** What this run started, for the one teardown (at the end, or on SIGINT/SIGTERM). */
const started: { workspace?: string; keystone?: Keystone; fabric?: Fabric; tempest?: ChildProcess; etcd?: EtcdCluster; balancer?: Balancer } = {};
let tearingDown: Promise<void> | undefined;
function teardown(): Promise<void> {
  tearingDown ??= (async () => {
    started.tempest?.kill('SIGTERM');
    if (started.workspace) {
      if (args.keep) say(`kept the Tempest workspace ${started.workspace}`);
      else rmSync(started.workspace, { recursive: true, force: true });
    }
    await started.balancer?.close();
    await started.fabric?.destroy();
    await started.etcd?.cleanup();
    if (started.keystone) {
      // Keystone's own log beside the results: a 500 from it shows up in a test's set-up or tear-down.
      try {
        copyFileSync(join(started.keystone.dir, 'keystone.log'), join(resolve(args.out!), 'keystone.log'));
      } catch {
        // nothing logged
      }
      await started.keystone.cleanup();
    }
  })();
  return tearingDown;
}
// Ctrl-C reaches npm and tsx as well, which pass on a signal of their own: that one must wait for
// the same teardown, not end the process half way through it.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (!tearingDown) say(`${signal}: removing what this run started`);
    void teardown().finally(() => process.exit(130));
  });
}

async function main(): Promise<number> {
  const out = resolve(args.out!);
  mkdirSync(out, { recursive: true });
  const workspace = mkdtempSync(join(tmpdir(), 'weft-tempest-'));
  started.workspace = workspace;
  let keystone: Keystone | undefined;
  let fabric: Fabric | undefined;
  try {
    say('starting Keystone');
    keystone = started.keystone = await startKeystone();
    const service = await keystone.createProject('service');
    const neutronPassword = `neutron-${Math.random().toString(36).slice(2, 12)}`;
    await keystone.createUser('neutron', neutronPassword, service, 'admin');

    if (args.store !== 'sqlite' && args.store !== 'etcd') throw new Error(`--store: sqlite or etcd, not '${args.store}'`);
    const replicas = args.store === 'etcd' ? Number(args.replicas) : 1;
    if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`--replicas: a positive integer, not '${args.replicas}'`);
    let storeEnv: Record<string, string> = {};
    if (args.store === 'etcd') {
      say('starting a 3-member etcd cluster');
      const etcd = started.etcd = await startEtcdCluster();
      // The replicas sit behind the balancer, whose address they learn from X-Forwarded-Host.
      storeEnv = { WEFT_STORE: 'etcd', WEFT_ETCD_ENDPOINTS: etcd.endpoints.join(','), WEFT_PROXY_HEADERS: 'true' };
    }

    // One host with its own Open vSwitch and agent: the agent API and port bindings have a real agent.
    say(`starting Weft in keystone mode (${args.store}, ${replicas} replica${replicas > 1 ? 's' : ''}), and one host with its agent`);
    const ks = keystone;
    fabric = started.fabric = await createFabric({
      hosts: ['host1'],
      adminToken: () => ks.adminToken(),
      replicas,
      controllerEnv: {
        ...storeEnv,
        WEFT_AUTH: 'keystone', WEFT_KEYSTONE_URL: keystone.url, WEFT_KEYSTONE_USERNAME: 'neutron',
        WEFT_KEYSTONE_PASSWORD: neutronPassword, WEFT_KEYSTONE_PROJECT: 'service', WEFT_LOG_LEVEL: 'error',
        WEFT_VLAN_RANGES: `${PHYSNET}:100:199`, WEFT_FLAT_NETWORKS: '*',
      },
    });
    const ctl = fabric.controller;
    const balancer = replicas > 1 ? (started.balancer = await startBalancer(fabric.replicas.map((r) => r.url))) : undefined;
    await keystone.registerService('network', 'neutron', balancer?.url ?? ctl.url);

    const admin = await keystone.adminToken();
    const { network: pub } = await api(ctl, admin, 'POST', '/v2.0/networks', { network: { name: 'public', 'router:external': true, 'provider:network_type': 'flat', 'provider:physical_network': 'public' } });
    await api(ctl, admin, 'POST', '/v2.0/subnets', { subnet: { name: 'public-subnet', network_id: pub.id, ip_version: 4, cidr: '172.24.4.0/24', gateway_ip: '172.24.4.1', enable_dhcp: false } });
    const extensions: string[] = (await api(ctl, admin, 'GET', '/v2.0/extensions')).extensions.map((e: { alias: string }) => e.alias);

    const init = await run('tempest', ['init', workspace], { allowFail: true, timeoutMs: 120_000 });
    if (init.code !== 0) throw new Error(`tempest init failed: ${init.stderr}`);
    writeFileSync(join(workspace, 'etc/tempest.conf'), tempestConf({
      keystoneUrl: keystone.url, adminPassword: keystone.adminPassword, region: KEYSTONE_REGION,
      publicNetworkId: pub.id, publicNetworkName: 'public', extensions, logDir: workspace,
      physicalNetwork: PHYSNET, typeDrivers: ['flat', 'vlan', 'vxlan'],
    }));

    say(`running Tempest (${args.regex}, concurrency ${args.concurrency}); log: ${join(out, 'tempest-run.log')}`);
    const startedAt = Date.now();
    const code = await runTempest(workspace, join(out, 'tempest-run.log'));
    const results = await collect(workspace);
    const minutes = ((Date.now() - startedAt) / 60_000).toFixed(1);

    const failures = results.failed.map((f) => `${f.id}\n    ${f.error}`).join('\n');
    writeFileSync(join(out, 'failures.txt'), failures ? `${failures}\n` : '');
    const store = { store: args.store, replicas, requests_per_replica: balancer?.counts ?? null };
    writeFileSync(join(out, 'summary.json'), `${JSON.stringify({ ...results, ...store, extensions, minutes: Number(minutes), tempest_exit: code }, null, 1)}\n`);
    fabric.replicas.forEach((r, i) => writeFileSync(join(out, replicas > 1 ? `weft-${i + 1}.log` : 'weft.log'), r.output()));
    if (balancer) say(`requests per replica: ${balancer.counts.join(', ')}`);
    say(`done in ${minutes} min; failures in ${join(out, 'failures.txt')}`);
    for (const [suite, n] of Object.entries(results.suites).sort()) say(`  ${suite}: ${n.passed} passed, ${n.failed} failed, ${n.skipped} skipped`);
    console.log(`${results.passed} passed, ${results.failed.length} failed, ${results.skipped} skipped`);
    return results.failed.length === 0 && results.passed > 0 ? 0 : 1;
  } finally {
    await teardown();
  }
}

main().then((code) => process.exit(code), (err) => {
  console.error(err);
  process.exit(2);
});
