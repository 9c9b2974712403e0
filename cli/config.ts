// Where the CLI's settings come from, flag first, then environment, then a default: the controller
// (--url, WEFT_URL), the admin token (--token, OS_TOKEN, data/admin-token), the lab folder, and the Open vSwitch that plug/unplug/trace work on (the agent's rules:
// WEFT_OVSDB, else the private switch in WEFT_RUN_DIR, or a lab host's).
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { defaultRunDir } from '../agent/host/own-ovs.ts';
import type { VmSwitch } from '../lab/vm.ts';
import { CliError, UsageError, type OptionValue } from './args.ts';
import { readLabState, type LabState } from './lab-state.ts';

export type Env = Record<string, string | undefined>;
type Options = Record<string, OptionValue>;

export const DEFAULT_URL = 'http://127.0.0.1:9696';
export const DEFAULT_LAB_DIR = '/tmp/weft-lab';

const str = (o: Options, name: string): string | undefined => (typeof o[name] === 'string' ? (o[name] as string) : undefined);
const nonEmpty = (v: string | undefined) => (v && v.trim() ? v.trim() : undefined);

/** The controller's data folder, as the controller finds it (WEFT_DATA_DIR, else ./data). */
const dataDir = (env: Env, cwd: string) => resolve(cwd, nonEmpty(env.WEFT_DATA_DIR) ?? 'data');

function readTokenFile(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  return nonEmpty(readFileSync(path, 'utf8'));
}

export function controllerUrl(o: Options, env: Env): string {
  const url = str(o, 'url') ?? nonEmpty(env.WEFT_URL) ?? DEFAULT_URL;
  if (!/^https?:\/\/[^/]+/.test(url)) throw new UsageError(`--url must be http(s)://HOST:PORT, not '${url}'`);
  return url.replace(/\/+$/, '');
}

export function adminToken(o: Options, env: Env, cwd = process.cwd()): string | undefined {
  return str(o, 'token') ?? nonEmpty(env.OS_TOKEN) ?? readTokenFile(join(dataDir(env, cwd), 'admin-token'));
}

export function labDir(o: Options, env: Env): string {
  return resolve(str(o, 'lab-dir') ?? nonEmpty(env.WEFT_LAB_DIR) ?? DEFAULT_LAB_DIR);
}

/** A switch plug/unplug/trace work on, and what is known about where it is. */
export interface SwitchTarget extends VmSwitch {
  /** ovs-appctl target of its ovs-vswitchd and the OVS_RUNDIR to resolve it in. */
  appctl: { target: string; rundir: string | undefined };
  /** The lab and host when it is a lab host's switch. */
  lab?: { state: LabState; host: string };
  /** The agent host name this switch belongs to, when known (lab host, WEFT_HOST). */
  host: string | undefined;
  /** For a port bound nowhere: the host of this machine's own agent (its name defaults to the machine's). */
  unboundHost?: string;
}

/**
 * The switch, in this order: --lab-host (the lab's state), --ovsdb / WEFT_OVSDB (an existing Open
 * vSwitch), else the agent's private switch in WEFT_RUN_DIR (default: the all-in-one's
 * <WEFT_DATA_DIR or ./data>/agent if it has one, else /tmp/weft-<WEFT_HOST or hostname>).
 */
export function switchTarget(o: Options, env: Env): SwitchTarget {
  const labHost = str(o, 'lab-host');
  if (labHost) {
    const state = readLabState(labDir(o, env));
    if (!state.hosts.includes(labHost)) throw new CliError(`the lab in ${state.runRoot} has no host '${labHost}' (hosts: ${state.hosts.join(', ')})`);
    const runDir = join(state.runRoot, labHost);
    return {
      ovsdb: `unix:${join(runDir, 'db.sock')}`,
      hostNetns: `${state.prefix}-${labHost}`,
      appctl: { target: join(runDir, 'ovs-vswitchd.ctl'), rundir: runDir },
      lab: { state, host: labHost },
      host: labHost,
    };
  }
  const hostNetns = str(o, 'host-netns');
  const host = nonEmpty(env.WEFT_HOST);
  const ovsdb = str(o, 'ovsdb') ?? nonEmpty(env.WEFT_OVSDB);
  if (ovsdb) {
    if (!/^(unix|tcp):/.test(ovsdb)) throw new UsageError(`--ovsdb must be unix:PATH or tcp:HOST:PORT, not '${ovsdb}'`);
    // A private switch has its unixctl socket beside the database socket; a system one is found by pid file.
    const dir = ovsdb.startsWith('unix:') ? dirname(ovsdb.slice(5)) : undefined;
    const ctl = dir ? join(dir, 'ovs-vswitchd.ctl') : undefined;
    const appctl = ctl && existsSync(ctl) ? { target: ctl, rundir: dir } : { target: 'ovs-vswitchd', rundir: dir };
    return { ovsdb, appctl, host, ...(hostNetns ? { hostNetns } : {}) };
  }
  // The all-in-one (`npm start`) keeps its agent's switch in <data dir>/agent.
  const allInOne = join(nonEmpty(env.WEFT_DATA_DIR) ?? 'data', 'agent');
  const runDir = resolve(nonEmpty(env.WEFT_RUN_DIR) ?? (existsSync(join(allInOne, 'db.sock')) ? allInOne : defaultRunDir(host ?? hostname())));
  return {
    ovsdb: `unix:${join(runDir, 'db.sock')}`,
    appctl: { target: join(runDir, 'ovs-vswitchd.ctl'), rundir: runDir },
    host,
    // The private switch of this machine's agent, whose host name is WEFT_HOST or the machine's
    // (as for the agent itself): `plug` binds a port that is bound nowhere there, as Nova does.
    unboundHost: host ?? hostname(),
    ...(hostNetns ? { hostNetns } : {}),
  };
}

/** Throws a clear error unless the switch's database socket exists (for unix: targets). */
export function checkSwitchReachable(sw: SwitchTarget): void {
  if (!sw.ovsdb.startsWith('unix:')) return;
  const path = sw.ovsdb.slice(5);
  if (!existsSync(path)) {
    throw new CliError(`no Open vSwitch at ${sw.ovsdb} (${path} does not exist): point --ovsdb, WEFT_OVSDB or WEFT_RUN_DIR at the agent's switch, or use --lab-host`);
  }
}
