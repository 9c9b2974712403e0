// `npm start` (all-in-one/main.ts) for end-to-end tests, as a new user meets it, with two differences
// for isolation: it runs in a network namespace of the test (so 127.0.0.1:9696 and 172.24.4.1 are
// the test's own) in a fresh temp working dir (whose ./data is the all-in-one's data dir), and its
// router namespaces get the run's prefix. Every namespace the run makes starts with `netns`:
// the all-in-one's own is `netns`, routers are `<netns>r-...`, VMs should be `<netns>-...`.
// cleanup() removes all of them (after killing what still runs inside them), the all-in-one and its
// Open vSwitch, and the working dir, whatever state a failed test left.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { run, type RunResult } from '../../agent/host/exec.ts';
import { killAndWait, localOvsHandle, type LocalOvs } from '../../agent/host/local-ovs.ts';
import { createNetns, deleteNetns, ip, listNetns } from '../../agent/host/netns.ts';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TSX = pathToFileURL(createRequire(join(REPO, 'package.json')).resolve('tsx')).href;
const READY = /local agent '.*' running/;

export interface AllInOne {
  /** The run's namespace, and the prefix of every namespace of the run. */
  readonly netns: string;
  /** WEFT_ROUTER_NAMESPACE_PREFIX of the local agent. */
  readonly routerPrefix: string;
  /** The working dir `npm start` runs in (./data is its data dir). */
  readonly work: string;
  /** The all-in-one process (undefined before start). */
  readonly process: ChildProcess | undefined;
  /** What the all-in-one wrote to stdout and stderr. */
  output(): string;
  /** Starts `npm start` in the namespace and waits until it says the local agent runs. */
  start(): Promise<void>;
  /** The admin token the all-in-one wrote to ./data/admin-token. */
  adminToken(): string;
  /** The environment README's quick start sets up (OS_* with the admin token, bin/ on PATH). */
  quickStartEnv(): Record<string, string>;
  /** Runs argv in the namespace, in the working dir; never throws on a non-zero exit code. */
  inNs(argv: string[], opts?: { timeoutMs?: number; env?: Record<string, string> }): Promise<RunResult>;
  /** A handle on the local agent's Open vSwitch. */
  ovs(): LocalOvs;
  /** Removes everything (idempotent, never throws): for afterAll. */
  cleanup(): Promise<void>;
}

/** A handle on an all-in-one for one test run; nothing is made until start(). */
export function allInOne(opts: { name?: string; env?: Record<string, string> } = {}): AllInOne {
  const netns = `${opts.name ?? 'aio'}${randomBytes(3).toString('hex')}`;
  const routerPrefix = `${netns}r-`;
  const work = mkdtempSync(join(tmpdir(), 'weft-aio-'));
  let child: ChildProcess | undefined;
  let output = '';
  const ovs = () => localOvsHandle({ runDir: join(work, 'data', 'agent'), datapath: 'netdev' });

  const start = async () => {
    await createNetns(netns);
    await ip(netns, ['link', 'set', 'lo', 'up']);
    child = spawn('nsenter', [`--net=/run/netns/${netns}`, '--', process.execPath, '--import', TSX, join(REPO, 'all-in-one/main.ts')], {
      cwd: work,
      env: { ...process.env, WEFT_ROUTER_NAMESPACE_PREFIX: routerPrefix, WEFT_LOG_LEVEL: 'warn', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    for (let i = 0; i < 600 && !READY.test(output); i++) {
      if (child.exitCode !== null) throw new Error(`npm start exited: ${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!READY.test(output)) throw new Error(`the local agent did not start: ${output}`);
  };

  const adminToken = () => readFileSync(join(work, 'data', 'admin-token'), 'utf8').trim();

  const cleanup = async () => {
    if (child && child.exitCode === null && child.signalCode === null && child.pid) await killAndWait(child.pid, 0).catch(() => undefined);
    await ovs().stop().catch(() => undefined);
    // VMs and routers first, the run's own namespace last.
    const ours = (await listNetns(netns).catch(() => [] as string[])).filter((ns) => ns !== netns);
    for (const ns of [...ours, netns]) {
      // Whatever a failed test left running inside (servers, probes) would outlive the namespace.
      const pids = (await run('ip', ['netns', 'pids', ns], { allowFail: true })).stdout.split(/\s+/).filter(Boolean).map(Number);
      for (const pid of pids) await killAndWait(pid, 0).catch(() => undefined);
      await deleteNetns(ns).catch(() => undefined);
    }
    rmSync(work, { recursive: true, force: true });
  };

  return {
    netns, routerPrefix, work,
    get process() {
      return child;
    },
    output: () => output,
    start,
    adminToken,
    quickStartEnv: () => ({
      OS_AUTH_TYPE: 'admin_token', OS_ENDPOINT: 'http://127.0.0.1:9696', OS_TOKEN: adminToken(),
      PATH: `${join(REPO, 'bin')}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
    }),
    inNs: (argv, o = {}) =>
      run('nsenter', [`--net=/run/netns/${netns}`, '--', ...argv], { cwd: work, allowFail: true, timeoutMs: o.timeoutMs ?? 30_000, ...(o.env ? { env: o.env } : {}) }),
    ovs,
    cleanup,
  };
}
