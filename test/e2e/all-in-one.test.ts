// `npm start` as a new user meets it: the all-in-one (controller + local agent with its own Open
// vSwitch + the public network on this machine) and README's quick start block, run as written,
// with two differences for isolation (test/helpers/all-in-one.ts): everything happens in a network
// namespace of this test (so 127.0.0.1:9696 and 172.24.4.1 are its own), and the VM and router
// namespaces get this run's prefix.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allInOne, REPO } from '../helpers/all-in-one.ts';

const aio = allInOne({ name: 'aio' });

/** README's quick start block, with this run's namespace names. */
function quickStart(): string {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const at = readme.indexOf('<!-- quick-start');
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  if (at < 0 || !block) throw new Error('README has no quick-start block');
  return block[1].replace(/\bvm([12])\b/g, `${aio.netns}-vm$1`).replace('$PWD/bin', join(REPO, 'bin'));
}

beforeAll(() => aio.start(), 120_000);
afterAll(() => aio.cleanup(), 60_000);

describe('all-in-one (npm start) and the README quick start', () => {
  it('says what it started: the controller, and the local agent with the public network on this machine', () => {
    expect(aio.output()).toMatch(/weft controller listening on http:\/\/127\.0\.0\.1:9696/);
    expect(aio.output()).toMatch(/physical network 'public' is br-ex, where this machine is 172\.24\.4\.1\/24/);
  });

  it('runs the quick start: two VMs ping each other, a floating IP answers from this machine', async () => {
    const r = await aio.inNs(['bash', '-e', '-c', quickStart()], { timeoutMs: 240_000 });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    // Both pings of the block got answers (bash -e stops at the first that gets none).
    expect(r.stdout.match(/3 packets transmitted, [123] received/g) ?? [], r.stdout).toHaveLength(2);
    expect(r.stdout).toMatch(/plugged port p1 .* into namespace aio\w+-vm1/);
  }, 300_000);

  it('stops everything it started on Ctrl-C', async () => {
    const pid = aio.ovs().vswitchdPid();
    expect(pid).toBeDefined();
    const exited = new Promise<number | null>((resolve) => aio.process!.once('exit', (code) => resolve(code)));
    aio.process!.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(aio.ovs().vswitchdRunning()).toBe(false);
  }, 60_000);
});
