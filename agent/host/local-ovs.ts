// A private Open vSwitch instance (ovsdb-server + ovs-vswitchd) whose whole state lives in one short
// run folder. Used by tests, the local lab and an agent that runs its own switch. Every tool call
// names its socket explicitly: the default /var/run/openvswitch paths belong to someone else.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { run, runOut } from './exec.ts';
import { checkNetnsName } from './netns.ts';

export const VSWITCH_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';
/** Node cannot connect to unix socket paths longer than this (sun_path is 108 bytes). */
export const MAX_UNIX_PATH = 107;

export interface LocalOvsOptions {
  /** Folder for conf.db, sockets, pid and log files. Keep it short (see MAX_UNIX_PATH). */
  runDir: string;
  /** Run the daemons inside this network namespace (ovs-vswitchd opens ports by name there). */
  netns?: string;
  /** Datapath type the caller should use for its bridges. Default 'netdev' (userspace). */
  datapath?: 'netdev' | 'system';
  /** Longest bridge name the caller will use; only for the socket path length check. Default 15. */
  maxBridgeName?: number;
}

export interface LocalOvs {
  readonly runDir: string;
  readonly netns: string | undefined;
  readonly datapath: 'netdev' | 'system';
  /** Path of ovsdb-server's unix socket. */
  readonly dbSocket: string;
  /** OVSDB target for ovs-* tools and our client: `unix:<dbSocket>`. */
  readonly dbTarget: string;
  /** ovs-vswitchd's unixctl socket (for ovs-appctl -t). */
  readonly vswitchdCtl: string;
  /** ovsdb-server's unixctl socket. */
  readonly ovsdbCtl: string;
  /** Passive OpenFlow management socket of a bridge: `<runDir>/<bridge>.mgmt`. */
  mgmtSocket(bridge: string): string;
  /** `ovs-vsctl --db=unix:<dbSocket> --timeout=20 args...`; resolves with trimmed stdout. */
  vsctl(...args: string[]): Promise<string>;
  /** `ovs-appctl -t <vswitchdCtl> args...` */
  appctl(...args: string[]): Promise<string>;
  /** `ovs-appctl -t <ovsdbCtl> args...` */
  ovsdbAppctl(...args: string[]): Promise<string>;
  /** `ovs-ofctl -O OpenFlow13 <subcommand> unix:<runDir>/<bridge>.mgmt args...` */
  ofctl(subcommand: string, bridge: string, ...args: string[]): Promise<string>;
  /** Pid of the running ovs-vswitchd (from its pid file), or undefined. */
  vswitchdPid(): number | undefined;
  ovsdbPid(): number | undefined;
  /** True when the pid file names a live ovs-vswitchd of this run dir. */
  vswitchdRunning(): boolean;
  /** True when the pid file names a live ovsdb-server of this run dir. */
  ovsdbRunning(): boolean;
  /**
   * Starts ovs-vswitchd unless it is already running (ovsdb-server must be up). Resolves true when it
   * started one. Serialised with restartVswitchd(), so a supervisor and a restart never start two.
   */
  startVswitchd(): Promise<boolean>;
  /** Kills ovs-vswitchd by pid, waits until it is gone and starts it again. ovsdb-server is untouched. */
  restartVswitchd(): Promise<void>;
  /** Kills ovs-vswitchd then ovsdb-server by pid and waits until both are gone. The run folder stays. */
  stop(): Promise<void>;
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie still answers kill(0); treat it as gone.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, wait up to `graceMs`, then SIGKILL and wait again. */
export async function killAndWait(pid: number, graceMs = 5000): Promise<void> {
  const waitGone = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (processAlive(pid)) {
      if (Date.now() > deadline) return false;
      await sleep(10);
    }
    return true;
  };
  if (!processAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (await waitGone(graceMs)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  if (!(await waitGone(5000))) throw new Error(`process ${pid} did not exit after SIGKILL`);
}

/**
 * A handle on the instance of `opts.runDir` that starts nothing: for daemons that are already
 * running (an agent restart adopting its switch, a test looking at a switch an agent owns).
 */
export function localOvsHandle(opts: LocalOvsOptions): LocalOvs {
  return makeHandle(opts).handle;
}

export async function startLocalOvs(opts: LocalOvsOptions): Promise<LocalOvs> {
  const { handle, D, dbFile, dbTarget, env, startOvsdb, startVswitchdNow, killOurs } = makeHandle(opts);
  // A previous instance on the same folder that is still alive would fight over the sockets.
  for (const pid of [handle.vswitchdPid(), handle.ovsdbPid()]) {
    if (pid !== undefined && processAlive(pid) && isOurDaemon(pid, D)) {
      throw new Error(`an Open vSwitch daemon (pid ${pid}) is already running on ${D}`);
    }
  }

  mkdirSync(D, { recursive: true, mode: 0o700 });
  if (!existsSync(dbFile)) await run('ovsdb-tool', ['create', dbFile, VSWITCH_SCHEMA], { env });
  await startOvsdb();
  try {
    await run('ovs-vsctl', [`--db=${dbTarget}`, '--no-wait', 'init'], { env });
    await startVswitchdNow();
  } catch (e) {
    await killOurs(handle.vswitchdPid()).catch(() => undefined);
    await killOurs(handle.ovsdbPid()).catch(() => undefined);
    throw e;
  }
  return handle;
}

function makeHandle(opts: LocalOvsOptions) {
  const D = resolve(opts.runDir);
  const netns = opts.netns === undefined ? undefined : checkNetnsName(opts.netns);
  const datapath = opts.datapath ?? 'netdev';
  const longest = join(D, `${'x'.repeat(opts.maxBridgeName ?? 15)}.mgmt`);
  if (Buffer.byteLength(longest) > MAX_UNIX_PATH) {
    throw new Error(`run dir '${D}' is too long: socket paths would exceed ${MAX_UNIX_PATH} bytes`);
  }

  const dbFile = join(D, 'conf.db');
  const dbSocket = join(D, 'db.sock');
  const dbTarget = `unix:${dbSocket}`;
  const vswitchdCtl = join(D, 'ovs-vswitchd.ctl');
  const ovsdbCtl = join(D, 'ovsdb-server.ctl');
  const vswitchdPidFile = join(D, 'ovs-vswitchd.pid');
  const ovsdbPidFile = join(D, 'ovsdb-server.pid');
  const env = { OVS_RUNDIR: D, OVS_LOGDIR: D, OVS_DBDIR: D };
  const inNs = (cmd: string, args: string[]): [string, string[]] =>
    netns ? ['ip', ['netns', 'exec', netns, cmd, ...args]] : [cmd, args];

  const startOvsdb = async () => {
    const [c, a] = inNs('ovsdb-server', [
      dbFile,
      `--remote=punix:${dbSocket}`,
      `--pidfile=${ovsdbPidFile}`,
      `--unixctl=${ovsdbCtl}`,
      '--detach',
      '-vconsole:off',
      `--log-file=${join(D, 'ovsdb-server.log')}`,
    ]);
    await run(c, a, { env });
  };
  const startVswitchdNow = async () => {
    const [c, a] = inNs('ovs-vswitchd', [
      dbTarget,
      `--pidfile=${vswitchdPidFile}`,
      `--unixctl=${vswitchdCtl}`,
      '--detach',
      '-vconsole:off',
      `--log-file=${join(D, 'ovs-vswitchd.log')}`,
    ]);
    await run(c, a, { env });
  };

  const vswitchdPid = () => readPid(vswitchdPidFile);
  const ovsdbPid = () => readPid(ovsdbPidFile);
  const running = (pid: number | undefined) => pid !== undefined && processAlive(pid) && isOurDaemon(pid, D);
  // Kill by pid file, but only a process that really is our daemon (pid files can outlive their process).
  const killOurs = async (pid: number | undefined) => {
    if (pid !== undefined && isOurDaemon(pid, D)) await killAndWait(pid);
  };
  const stopVswitchd = () => killOurs(vswitchdPid());
  // vswitchd start/restart/stop run one at a time.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = queue.then(fn, fn);
    queue = p.catch(() => undefined);
    return p;
  };

  const handle: LocalOvs = {
    runDir: D,
    netns,
    datapath,
    dbSocket,
    dbTarget,
    vswitchdCtl,
    ovsdbCtl,
    mgmtSocket: (bridge) => join(D, `${bridge}.mgmt`),
    vsctl: (...args) => runOut('ovs-vsctl', [`--db=${dbTarget}`, '--timeout=20', ...args], { env }),
    appctl: (...args) => runOut('ovs-appctl', ['-t', vswitchdCtl, ...args], { env }),
    ovsdbAppctl: (...args) => runOut('ovs-appctl', ['-t', ovsdbCtl, ...args], { env }),
    ofctl: (sub, bridge, ...args) =>
      runOut('ovs-ofctl', ['-O', 'OpenFlow13', sub, `unix:${join(D, `${bridge}.mgmt`)}`, ...args], { env }),
    vswitchdPid,
    ovsdbPid,
    vswitchdRunning: () => running(vswitchdPid()),
    ovsdbRunning: () => running(ovsdbPid()),
    startVswitchd: () =>
      serial(async () => {
        if (running(vswitchdPid())) return false;
        await startVswitchdNow();
        return true;
      }),
    restartVswitchd: () =>
      serial(async () => {
        await stopVswitchd();
        await startVswitchdNow();
      }),
    stop: () =>
      serial(async () => {
        await stopVswitchd();
        await killOurs(ovsdbPid());
      }),
  };
  return { handle, D, dbFile, dbTarget, env, startOvsdb, startVswitchdNow, killOurs };
}

/** True when /proc says `pid` is an OVS daemon whose command line mentions `runDir` (guards against pid reuse). */
function isOurDaemon(pid: number, runDir: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /ovs(db-server|-vswitchd)/.test(cmdline) && cmdline.includes(`${runDir}/`);
  } catch {
    return false;
  }
}
