import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { processAlive } from '../../agent/host/local-ovs.ts';

// A benchmark interrupted with Ctrl-C stops what it started (lab/teardown.ts): no etcd member and
// no controller outlives it, and their folders are gone.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const etcdRunningIn = (dir: string) => {
  try {
    return execFileSync('pgrep', ['-f', `data-dir ${dir}/`]).toString().trim() !== '';
  } catch {
    return false;
  }
};
let child: ReturnType<typeof spawn> | undefined;
afterEach(async () => {
  // A failed test still lets the run stop what it started; SIGKILL only if it does not.
  const c = child;
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGINT');
  const timer = setTimeout(() => c.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
});

it('SIGINT stops the etcd members and controllers the run started', async () => {
  child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/helpers/interrupted-run.ts')], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const started = await new Promise<{ etcdDir: string; controllerPid: number }>((resolve, reject) => {
    let out = '';
    child!.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line));
    });
    child!.once('exit', (code) => reject(new Error(`the run exited (${code}) before it started`)));
  });
  expect(processAlive(started.controllerPid)).toBe(true);
  expect(etcdRunningIn(started.etcdDir)).toBe(true);

  const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
  child.kill('SIGINT');
  expect(await exited).toBe(130);
  expect(processAlive(started.controllerPid)).toBe(false);
  expect(etcdRunningIn(started.etcdDir)).toBe(false);
  expect(existsSync(started.etcdDir)).toBe(false);
}, 60_000);
