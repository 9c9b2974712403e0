// Processes inside lab namespaces (used by lab.ts): one-shot commands that never throw on a non-zero
// exit, background processes with their output and an open stdin, detached processes that outlive
// this one (weft lab up), and tcpdump captures around an action. `ip netns exec NS cmd` execs cmd
// after setns, so a child's pid is the command's own pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { run, type RunOptions, type RunResult } from '../agent/host/exec.ts';
import { killAndWait } from '../agent/host/local-ovs.ts';

export interface ExecOptions {
  timeoutMs?: number;
  input?: string;
  env?: Record<string, string>;
}

/** A background process in a lab namespace; killed by lab.destroy() if still running. */
export interface LabProcess {
  readonly pid: number;
  readonly argv: readonly string[];
  /** stdout and stderr so far, interleaved as they arrived. */
  output(): string;
  readonly running: boolean;
  /** Resolves with the exit code (null when killed by a signal or not started). */
  readonly exited: Promise<number | null>;
  /** Writes to its stdin. stdin stays open until endInput() or the end (some servers, e.g. busybox nc -l, quit at EOF). */
  write(data: string | Buffer): void;
  endInput(): void;
  /** Sends `signal` (default SIGTERM), SIGKILL after 5 s, resolves once it has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value; errors count as "not yet" and the last one is reported. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`lab: timed out waiting for ${what}${last ? ` (${(last as Error).message ?? last})` : ''}`);
    await sleep(50);
  }
}

/** Runs argv in namespace `ns`; resolves with {code, stdout, stderr} whatever the exit code. */
export function execIn(ns: string, argv: readonly string[], o: ExecOptions = {}): Promise<RunResult> {
  if (!argv.length) throw new Error('lab: empty command');
  const ro: RunOptions = { allowFail: true, timeoutMs: o.timeoutMs ?? 60_000 };
  if (o.input !== undefined) ro.input = o.input;
  if (o.env) ro.env = o.env;
  return run('ip', ['netns', 'exec', ns, ...argv], ro);
}

/** Starts argv in namespace `ns` in the background. */
export function spawnIn(ns: string, argv: readonly string[], o: { env?: Record<string, string> } = {}): LabProcess {
  if (!argv.length) throw new Error('lab: empty command');
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns, ...argv], {
    env: o.env ? { ...process.env, ...o.env } : process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin!.on('error', () => undefined);
  let out = '';
  let running = true;
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (e) => {
      out += `lab: spawn failed: ${e.message}\n`;
      running = false;
      resolve(null);
    });
    child.once('close', (code) => {
      running = false;
      resolve(code);
    });
  });
  return {
    pid: child.pid ?? -1,
    argv: [...argv],
    output: () => out,
    get running() {
      return running;
    },
    exited,
    write: (data) => void child.stdin!.write(data),
    endInput: () => void child.stdin!.end(),
    stop: async (signal = 'SIGTERM') => {
      if (!running) return;
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/**
 * Starts argv detached from this process (its own session, output appended to `logFile`), inside
 * namespace `ns` unless ns is undefined, and returns its pid. It keeps running after we exit; stop
 * it by pid (or by destroying its namespace, which kills what runs inside).
 */
export function spawnDetached(ns: string | undefined, argv: readonly string[], o: { env?: Record<string, string>; logFile: string }): number {
  if (!argv.length) throw new Error('lab: empty command');
  const fd = openSync(o.logFile, 'a', 0o600);
  try {
    const [cmd, ...args] = ns ? ['ip', 'netns', 'exec', ns, ...argv] : argv;
    const child = spawn(cmd!, args, { env: o.env ? { ...process.env, ...o.env } : process.env, stdio: ['ignore', fd, fd], detached: true });
    child.unref();
    if (child.pid === undefined) throw new Error(`lab: could not start ${argv.join(' ')}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Kills (SIGTERM, then SIGKILL) every process inside namespace `ns` except this one; a missing namespace is fine. */
export async function killNetnsProcesses(ns: string): Promise<void> {
  const r = await run('ip', ['netns', 'pids', ns], { allowFail: true });
  if (r.code !== 0) return;
  const pids = r.stdout.split(/\s+/).map(Number).filter((p) => Number.isInteger(p) && p > 1 && p !== process.pid);
  await Promise.all(pids.map((p) => killAndWait(p, 3000).catch(() => undefined)));
}

/**
 * Runs tcpdump in `ns` while `fn` runs and returns what it printed. `-l -e -n` are always added, and
 * `-i iface` unless args name an interface. Waits until tcpdump listens before calling fn, and
 * lets late packets arrive for 300 ms after it (tcpdump may also stop by itself, e.g. with -c).
 */
export async function captureIn(ns: string, iface: string, args: readonly string[], fn: () => Promise<unknown>): Promise<string> {
  const hasIface = args.some((a, i) => /^-[A-Za-z]*i$/.test(a) && i + 1 < args.length) || args.some((a) => a.startsWith('--interface'));
  const argv = ['tcpdump', '-l', '-e', '-n', ...(hasIface ? [] : ['-i', iface]), ...args];
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  let done = false;
  const exited = new Promise<void>((resolve) => {
    child.once('error', (e) => ((err += e.message), (done = true), resolve()));
    child.once('close', () => ((done = true), resolve()));
  });
  try {
    const deadline = Date.now() + 10_000;
    while (!/listening on/.test(err)) {
      if (done) throw new Error(`lab: ${argv.join(' ')} exited: ${err.trim()}`);
      if (Date.now() > deadline) throw new Error(`lab: ${argv.join(' ')} did not start listening: ${err.trim()}`);
      await sleep(20);
    }
    await fn();
    const settle = Date.now() + 300;
    while (!done && Date.now() < settle) await sleep(20);
  } finally {
    if (!done) {
      child.kill('SIGINT');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
  }
  return out;
}
