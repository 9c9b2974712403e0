// The private Open vSwitch an agent owns when WEFT_OVSDB is unset: ovsdb-server + ovs-vswitchd with
// all their state in the agent's run folder, running in the agent's own network namespace.
//
// The daemons are detached and outlive the agent on purpose: an agent restart adopts them as they
// are (no restart, so the datapath keeps forwarding with the installed flows until the new agent
// has replayed and cleaned up its flows by generation). Only what is dead is started again.
//
//   ownOpenvswitch({runDir, datapath})        -> { ovs, adopted, started }
//   superviseVswitchd(ovs, onRestart, opts)   -> stop(): restarts a dead ovs-vswitchd (never ovsdb-server)
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAndWait, localOvsHandle, startLocalOvs, type LocalOvs } from './local-ovs.ts';

export type Datapath = 'netdev' | 'system';

export interface OwnOvsOptions {
  /** Folder of conf.db, sockets, pid and log files; short (unix socket paths are limited to 107 bytes). */
  runDir: string;
  /** Datapath type of the bridges the agent creates. Default 'netdev'. */
  datapath?: Datapath;
  /**
   * Start the daemons inside this namespace. The agent leaves it unset (it already runs inside the
   * host's namespace); tests that start a host's switch from outside use it.
   */
  netns?: string;
}

export interface OwnedOvs {
  ovs: LocalOvs;
  /** True when both daemons were already running and nothing was started (flows are intact). */
  adopted: boolean;
  /** What this call started ([] when adopted). */
  started: ('ovsdb-server' | 'ovs-vswitchd')[];
}

/** The agent's default run folder for host `host`: short, under the system temp folder. */
export function defaultRunDir(host: string): string {
  return join(tmpdir(), `weft-${host}`.slice(0, 40));
}

/**
 * Adopts the Open vSwitch of `runDir` if its daemons are alive (pid files name live processes of
 * that folder), otherwise starts what is missing:
 * - both alive: adopt, start nothing;
 * - ovsdb-server alive, ovs-vswitchd dead: start ovs-vswitchd only (the database is kept);
 * - ovsdb-server dead: stop a leftover ovs-vswitchd, start both (conf.db in the folder is kept).
 */
export async function ownOpenvswitch(opts: OwnOvsOptions): Promise<OwnedOvs> {
  const lo = { runDir: opts.runDir, datapath: opts.datapath ?? 'netdev', ...(opts.netns ? { netns: opts.netns } : {}) };
  const handle = localOvsHandle(lo);
  if (handle.ovsdbRunning()) {
    if (handle.vswitchdRunning()) return { ovs: handle, adopted: true, started: [] };
    const did = await handle.startVswitchd();
    return { ovs: handle, adopted: false, started: did ? ['ovs-vswitchd'] : [] };
  }
  // A vswitchd whose database is gone is of no use: stop it, then start the pair afresh.
  if (handle.vswitchdRunning()) {
    const pid = handle.vswitchdPid();
    if (pid !== undefined) await killAndWait(pid);
  }
  const ovs = await startLocalOvs(lo);
  return { ovs, adopted: false, started: ['ovsdb-server', 'ovs-vswitchd'] };
}

export interface SuperviseOptions {
  /** Poll period. Default 500 ms. */
  intervalMs?: number;
  /** Called when a restart attempt fails (the next poll tries again). */
  onError?: (e: unknown) => void;
}

/**
 * Polls that ovs-vswitchd of `ovs` is alive; when it died, starts it again (ovsdb-server untouched)
 * and calls `onRestart` (a new vswitchd has an empty flow table: replay). Returns stop().
 * Stop the supervisor before stopping the switch on purpose.
 */
export function superviseVswitchd(
  ovs: LocalOvs,
  onRestart: () => void | Promise<void>,
  opts: SuperviseOptions = {},
): () => void {
  let stopped = false;
  let busy = false;
  const tick = async () => {
    if (stopped || busy || ovs.vswitchdRunning()) return;
    busy = true;
    try {
      const started = await ovs.startVswitchd();
      if (started && !stopped) await onRestart();
    } catch (e) {
      opts.onError?.(e);
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), opts.intervalMs ?? 500);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
