import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { processAlive } from '../../agent/host/local-ovs.ts';

// A benchmark or a test run interrupted with Ctrl-C stops what it started (lab/teardown.ts): no
// etcd member, controller, switch or namespace outlives it, and their folders are gone.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const etcdRunningIn = (dir: string) => {
  try {
    return execFileSync('pgrep', ['-f', `data-dir ${dir}/`]).toString().trim() !== '';
  } catch {
    return false;
  }
};
let child: ReturnType<typeof spawn> | undefined;
let group = false;
afterEach(async () => {
  // A failed test still lets the run stop what it started; SIGKILL only if it does not.
  const c = child;
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const signal = (s: NodeJS.Signals) => (group ? process.kill(-c.pid!, s) : c.kill(s));
  const exited = new Promise((r) => c.once('exit', r));
  signal('SIGINT');
  const timer = setTimeout(() => signal('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
});

/** What follows `marker` on the first line the child prints with it (after any colour codes), parsed. */
function announced<T>(c: ReturnType<typeof spawn>, marker: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let out = '';
    c.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const line = out.split('\n').find((l) => l.includes(`${marker}{`) && l.trimEnd().endsWith('}'));
      if (line) resolve(JSON.parse(line.slice(line.indexOf(`${marker}{`) + marker.length)));
    });
    c.once('exit', (code) => reject(new Error(`the run exited (${code}) before it started:\n${out.slice(-2000)}`)));
  });
}

it('SIGINT stops the etcd members and controllers the run started', async () => {
  group = false;
  child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/helpers/interrupted-run.ts')], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const started = await announced<{ etcdDir: string; controllerPid: number }>(child, '');
  expect(processAlive(started.controllerPid)).toBe(true);
  expect(etcdRunningIn(started.etcdDir)).toBe(true);

  const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
  child.kill('SIGINT');
  expect(await exited).toBe(130);
  expect(processAlive(started.controllerPid)).toBe(false);
  expect(etcdRunningIn(started.etcdDir)).toBe(false);
  expect(existsSync(started.etcdDir)).toBe(false);
}, 60_000);

it('Ctrl-C on a vitest run stops what its test started: switches, namespaces, agent, controller, etcd', async () => {
  // Its own process group, which a terminal's Ctrl-C signals as a whole: vitest and its test process.
  group = true;
  child = spawn(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'test/helpers/interrupted-suite.config.ts'], {
    cwd: root, stdio: ['ignore', 'pipe', 'inherit'], detached: true,
  });
  const started = await announced<{ etcdDir: string; controllerPid: number; controllerDir: string; labPrefix: string; labRunRoot: string }>(child, 'STARTED ');
  const namespaces = () => execFileSync('ip', ['netns', 'list']).toString().split('\n').filter((l) => l.startsWith(`${started.labPrefix}-`));
  expect(namespaces().length).toBeGreaterThan(1);
  expect(etcdRunningIn(started.etcdDir)).toBe(true);

  const exited = new Promise((r) => child!.once('exit', r));
  process.kill(-child.pid!, 'SIGINT');
  await exited;
  // The test process may outlive vitest by its teardown's few seconds.
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && (namespaces().length || [started.labRunRoot, started.etcdDir, started.controllerDir].some(existsSync))) await new Promise((r) => setTimeout(r, 200));
  expect(namespaces()).toEqual([]);
  expect(existsSync(started.labRunRoot)).toBe(false);
  expect(processAlive(started.controllerPid)).toBe(false);
  expect(existsSync(started.controllerDir)).toBe(false);
  expect(etcdRunningIn(started.etcdDir)).toBe(false);
  expect(existsSync(started.etcdDir)).toBe(false);
}, 120_000);

it('a run that exits without a signal while its controller starts leaves neither the controller nor its folder', async () => {
  // Its own TMPDIR, so that what it leaves there is all this test looks at.
  const tmp = mkdtempSync(join(tmpdir(), 'weft-exit-during-start-'));
  const cwdIn = (dir: string) => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return readlinkSync(`/proc/${p}/cwd`).startsWith(dir);
    } catch {
      return false;
    }
  });
  try {
    // Before the controller answers (tsx alone takes longer) and, for the second, once it may have.
    for (const delayMs of [300, 1500]) {
      group = false;
      child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/helpers/exit-during-start.ts'), String(delayMs)], {
        cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, TMPDIR: tmp },
      });
      const c = child;
      expect(await new Promise((r) => c.once('exit', (code) => r(code)))).toBe(1);
      expect(readdirSync(tmp).filter((n) => n.startsWith('weft-e2e-'))).toEqual([]); // tsx keeps its cache there too
      expect(cwdIn(tmp)).toEqual([]);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}, 60_000);
