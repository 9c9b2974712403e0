// `npm start` as a new user meets it: the all-in-one (controller + local agent with its own Open
// vSwitch + the public network on this machine) and README's quick start block, run as written,
// with two differences for isolation: everything happens in a network namespace of this test (so
// 127.0.0.1:9696 and 172.24.4.1 are its own), and the VM and router namespaces get this run's prefix.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../agent/host/exec.ts';
import { localOvsHandle } from '../../agent/host/local-ovs.ts';
import { createNetns, deleteNetns, ip, listNetns } from '../../agent/host/netns.ts';

const REPO = join(import.meta.dirname, '../..');
const TSX = pathToFileURL(createRequire(join(REPO, 'package.json')).resolve('tsx')).href;
const TAG = randomBytes(3).toString('hex');
const NS = `aio${TAG}`;
const ROUTER_PREFIX = `aio${TAG}r-`;
const work = mkdtempSync(join(tmpdir(), 'weft-aio-'));
let aio: ChildProcess | undefined;
let output = '';

/** README's quick start block, with this run's namespace names. */
function quickStart(): string {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const at = readme.indexOf('<!-- quick-start');
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  if (at < 0 || !block) throw new Error('README has no quick-start block');
  return block[1].replace(/\bvm([12])\b/g, `${NS}-vm$1`).replace('$PWD/bin', join(REPO, 'bin'));
}

const inNs = (argv: string[], timeoutMs = 30_000) =>
  run('nsenter', [`--net=/run/netns/${NS}`, '--', ...argv], { cwd: work, allowFail: true, timeoutMs });

beforeAll(async () => {
  await createNetns(NS);
  await ip(NS, ['link', 'set', 'lo', 'up']);
  aio = spawn('nsenter', [`--net=/run/netns/${NS}`, '--', process.execPath, '--import', TSX, join(REPO, 'all-in-one/main.ts')], {
    cwd: work, // ./data is the all-in-one's data dir, as after `npm start` in a fresh clone
    env: { ...process.env, WEFT_ROUTER_NAMESPACE_PREFIX: ROUTER_PREFIX, WEFT_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  aio.stdout!.on('data', (d) => (output += d));
  aio.stderr!.on('data', (d) => (output += d));
  for (let i = 0; i < 600 && !/local agent '.*' running/.test(output); i++) {
    if (aio.exitCode !== null) throw new Error(`npm start exited: ${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!/local agent '.*' running/.test(output)) throw new Error(`the local agent did not start: ${output}`);
}, 120_000);

afterAll(async () => {
  if (aio && aio.exitCode === null) aio.kill('SIGKILL');
  await localOvsHandle({ runDir: join(work, 'data', 'agent'), datapath: 'netdev' }).stop().catch(() => undefined);
  for (const ns of await listNetns().catch(() => [] as string[])) {
    if (ns.startsWith(`${NS}-`) || ns.startsWith(ROUTER_PREFIX)) await deleteNetns(ns).catch(() => undefined);
  }
  await deleteNetns(NS).catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe('all-in-one (npm start) and the README quick start', () => {
  it('says what it started: the controller, and the local agent with the public network on this machine', () => {
    expect(output).toMatch(/weft controller listening on http:\/\/127\.0\.0\.1:9696/);
    expect(output).toMatch(/physical network 'public' is br-ex, where this machine is 172\.24\.4\.1\/24/);
  });

  it('runs the quick start: two VMs ping each other, a floating IP answers from this machine', async () => {
    const r = await inNs(['bash', '-e', '-c', quickStart()], 240_000);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    // Both pings of the block got answers (bash -e stops at the first that gets none).
    expect(r.stdout.match(/3 packets transmitted, [123] received/g) ?? [], r.stdout).toHaveLength(2);
    expect(r.stdout).toMatch(/plugged port p1 .* into namespace aio\w+-vm1/);
  }, 300_000);

  it('stops everything it started on Ctrl-C', async () => {
    const pid = localOvsHandle({ runDir: join(work, 'data', 'agent'), datapath: 'netdev' }).vswitchdPid();
    expect(pid).toBeDefined();
    const exited = new Promise<number | null>((resolve) => aio!.once('exit', (code) => resolve(code)));
    aio!.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(localOvsHandle({ runDir: join(work, 'data', 'agent'), datapath: 'netdev' }).vswitchdRunning()).toBe(false);
  }, 60_000);
});
