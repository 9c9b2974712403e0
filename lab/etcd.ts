// An etcd cluster on loopback (Debian's etcd-server), for the etcd store's tests and benchmarks:
// N members in a private folder, each on its own client and peer ports. Members can be killed
// (SIGKILL, as a machine dies) and started again on their data, which rejoins the cluster.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';
import { sleep, until } from './lab-process.ts';
import { whileAlive } from './teardown.ts';

export interface EtcdClusterOptions {
  /** Members (default 3). */
  members?: number;
  /** Parent folder of the cluster's data (default the system's temporary folder). */
  parentDir?: string;
  /** Raft tuning for a test cluster on one machine: election timeout (ms, default 500). */
  electionTimeoutMs?: number;
}

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly running: boolean;
}

export interface EtcdCluster {
  /** Client URLs of every member, in member order. */
  readonly endpoints: readonly string[];
  readonly members: readonly EtcdMember[];
  readonly dir: string;
  /** SIGKILL member i. */
  kill(i: number): Promise<void>;
  /** Start member i again on its data; resolves when it answers. */
  restart(i: number): Promise<void>;
  output(i: number): string;
  /** Stops every member and removes the folder. */
  cleanup(): Promise<void>;
}

/**
 * Weft commits a transaction's whole write set in one etcd txn, so the cluster allows bigger
 * txns than etcd's defaults (128 operations, 1.5 MiB); README's etcd section says the same to operators.
 */
export const ETCD_TXN_LIMITS = ['--max-txn-ops', '16384', '--max-request-bytes', String(32 * 1024 * 1024)] as const;

interface MemberState {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  child: ChildProcess | undefined;
  log: string;
}

export async function startEtcdCluster(o: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  const count = o.members ?? 3;
  const election = o.electionTimeoutMs ?? 500;
  const dir = mkdtempSync(join(o.parentDir ?? tmpdir(), 'weft-etcd-'));
  const token = `weft-${Math.random().toString(36).slice(2, 10)}`;
  const members: MemberState[] = [];
  for (let i = 0; i < count; i++) {
    const [client, peer] = [await freePort(), await freePort()];
    const dataDir = join(dir, `m${i}`);
    mkdirSync(dataDir);
    members.push({ name: `m${i}`, clientUrl: `http://127.0.0.1:${client}`, peerUrl: `http://127.0.0.1:${peer}`, dataDir, child: undefined, log: '' });
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');

  const launch = (m: MemberState) => {
    const child = spawn('etcd', [
      '--name', m.name, '--data-dir', m.dataDir,
      '--listen-client-urls', m.clientUrl, '--advertise-client-urls', m.clientUrl,
      '--listen-peer-urls', m.peerUrl, '--initial-advertise-peer-urls', m.peerUrl,
      '--initial-cluster', initialCluster, '--initial-cluster-token', token, '--initial-cluster-state', 'new',
      '--heartbeat-interval', String(Math.max(10, Math.round(election / 10))), '--election-timeout', String(election),
      ...ETCD_TXN_LIMITS, '--log-level', 'warn',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (b: Buffer) => {
      m.log = (m.log + b.toString()).slice(-64 * 1024);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    m.child = child;
  };

  const healthy = (m: MemberState) =>
    until(`etcd member ${m.name} to answer`, async () => {
      if (m.child && m.child.exitCode !== null) throw new Error(`etcd ${m.name} exited (${m.child.exitCode}):\n${m.log.slice(-2000)}`);
      const res = await fetch(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
      if (!res) return false;
      const body = (await res.json().catch(() => ({}))) as { health?: string };
      return body.health === 'true';
    }, 30_000);

  const stop = async (m: MemberState, signal: NodeJS.Signals) => {
    const child = m.child;
    m.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    if ((await Promise.race([exited, sleep(5000).then(() => 'timeout')])) === 'timeout') {
      child.kill('SIGKILL');
      await exited;
    }
  };

  const cleanup = whileAlive(async () => {
    await Promise.all(members.map((m) => stop(m, 'SIGTERM')));
    rmSync(dir, { recursive: true, force: true });
  });

  try {
    members.forEach(launch);
    await Promise.all(members.map(healthy));
  } catch (err) {
    await cleanup();
    throw err;
  }

  return {
    endpoints: members.map((m) => m.clientUrl),
    members: members.map((m) => ({
      name: m.name,
      clientUrl: m.clientUrl,
      get running() {
        return !!m.child && m.child.exitCode === null && m.child.signalCode === null;
      },
    })),
    dir,
    kill: (i) => stop(members[i], 'SIGKILL'),
    async restart(i) {
      const m = members[i];
      await stop(m, 'SIGTERM');
      launch(m);
      await healthy(m);
    },
    output: (i) => members[i].log,
    cleanup,
  };
}
