// The L3 dead-man switch (agent/l3/dead-man.ts) for real: a stand-in agent (test/helpers/
// dead-man-agent.ts) runs in a host namespace with real veth legs up and guards some of them; it is
// killed with its whole process group (kill -9), as an agent dies; its detached watcher survives
// that, sets exactly the guarded legs down and exits. Also: legs settled silent are left alone, a
// clean stop sets the guarded legs down, a watcher killed under a living agent is replaced, the
// watcher script copes with a line cut by the agent's death, and nothing stays running.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../agent/host/exec.ts';
import { createNetns, deleteNetns, ip } from '../../agent/host/netns.ts';
import { WATCHER_NAME, WATCHER_SCRIPT } from '../../agent/l3/dead-man.ts';
import { processAlive } from '../../agent/host/local-ovs.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const AGENT = join(REPO, 'test/helpers/dead-man-agent.ts');
const NS = `wdm${randomBytes(3).toString('hex')}`;
// Port ids; the legs are tr-<first 11 characters>, as namespace.ts names them.
const GUARDED = ['aaaaaaaaaaa-1', 'bbbbbbbbbbb-2'];
const OTHER = 'ccccccccccc-3'; // a leg of a router without HA: never guarded
const leg = (portId: string) => `tr-${portId.slice(0, 11)}`;

let agent: ChildProcess | undefined;
let out = '';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; stand-in agent output:\n${out}`);
    await sleep(10);
  }
}

async function upLegs(): Promise<string[]> {
  const links = JSON.parse((await ip(NS, ['-j', 'link', 'show'])).stdout) as Array<{ ifname: string; flags: string[] }>;
  return links.filter((l) => l.ifname.startsWith('tr-') && l.flags.includes('UP')).map((l) => l.ifname).sort();
}

async function pidsInNs(): Promise<number[]> {
  return (await run('ip', ['netns', 'pids', NS])).stdout.split('\n').filter(Boolean).map(Number);
}


/** Session and process group of a process (/proc/<pid>/stat fields 6 and 5). */
function sessionAndGroup(pid: number): { sid: number; pgid: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return { pgid: Number(fields[2]), sid: Number(fields[3]) };
}

/** Starts the stand-in agent in the namespace, in its own process group; resolves with its watcher's pid. */
async function startAgent(): Promise<number> {
  out = '';
  agent = spawn('ip', ['netns', 'exec', NS, process.execPath, '--import', 'tsx', AGENT, ...GUARDED], { cwd: REPO, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  agent.stdout!.on('data', (d) => (out += d));
  agent.stderr!.on('data', (d) => (out += d));
  await until('the stand-in agent to arm its guard', () => /armed \d+/.test(out), 30_000);
  return Number(/armed (\d+)/.exec(out)![1]);
}

beforeEach(async () => {
  await createNetns(NS);
  for (const p of [...GUARDED, OTHER]) {
    await ip(NS, ['link', 'add', leg(p), 'type', 'veth', 'peer', 'name', `pe-${p.slice(0, 11)}`]);
    await ip(NS, ['link', 'set', leg(p), 'up']);
  }
});

const kill = (pid: number) => {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
};

afterEach(async () => {
  if (agent?.pid) kill(-agent.pid);
  agent = undefined;
  for (const pid of await pidsInNs().catch(() => [])) kill(pid);
  await deleteNetns(NS);
});

describe('L3 dead-man switch', () => {
  it('an agent killed with its process group: its detached watcher sets exactly the guarded legs down, then exits', async () => {
    const watcher = await startAgent();
    const agentPid = agent!.pid!;
    expect(processAlive(watcher)).toBe(true);
    // Its own session and process group: a signal to the agent's group does not reach it.
    expect(sessionAndGroup(watcher).pgid).not.toBe(sessionAndGroup(agentPid).pgid);
    expect(sessionAndGroup(watcher).sid).not.toBe(sessionAndGroup(agentPid).sid);
    expect(readFileSync(`/proc/${watcher}/cmdline`, 'utf8')).toContain(WATCHER_NAME);
    expect(await upLegs()).toEqual([...GUARDED, OTHER].map(leg));

    const killedAt = Date.now();
    process.kill(-agentPid, 'SIGKILL');
    await until('the guarded legs to go down', async () => (await upLegs()).length === 1);
    const downMs = Date.now() - killedAt;
    expect(await upLegs()).toEqual([leg(OTHER)]);
    await until('the watcher to exit', () => !processAlive(watcher));
    expect(await pidsInNs()).toEqual([]);
    expect(out).toMatch(/"msg":"agent gone: HA router legs set down"/);
    console.log(`dead-man switch: guarded legs down ${downMs} ms after kill -9 of the agent's process group (polled every 10 ms)`);
  }, 60_000);

  it('a command the agent runs to bring a leg up dies with the agent (setpriv --pdeathsig), so none can after the watcher acted', async () => {
    await startAgent();
    const agentPid = agent!.pid!;
    agent!.stdin!.write('spawn\n');
    await until('spawned', () => out.includes('spawned'));
    const cmdline = (pid: number) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      } catch {
        return '';
      }
    };
    const childOf = async (arg: string) => (await pidsInNs()).filter((pid) => cmdline(pid) === `sleep ${arg}`);
    await until('both sleeps running', async () => (await childOf('60')).length === 1 && (await childOf('61')).length === 1);
    const [dies] = await childOf('60');
    const [stays] = await childOf('61');
    process.kill(agentPid, 'SIGKILL'); // the agent alone, not its group
    await until('the command run with diesWithAgent to be killed', () => !processAlive(dies!));
    expect(processAlive(stays!)).toBe(true); // a command run without it outlives the agent (the afterEach ends it)
  }, 60_000);

  it('legs settled silent are not guarded any more: the agent dies and nothing is touched', async () => {
    const watcher = await startAgent();
    await ip(NS, ['link', 'set', leg(GUARDED[0]!), 'down']); // what the agent did before it settled
    agent!.stdin!.write('settle\n');
    await until('settled', () => out.includes('settled'));
    // Someone brings the leg up again behind the agent's back (here: the test); a leftover watcher must not act on it.
    await ip(NS, ['link', 'set', leg(GUARDED[0]!), 'up']);
    process.kill(-agent!.pid!, 'SIGKILL');
    await until('the watcher to exit', () => !processAlive(watcher));
    expect(await upLegs()).toEqual([...GUARDED, OTHER].map(leg));
    expect(await pidsInNs()).toEqual([]);
  }, 60_000);

  it('a clean stop sets the guarded legs down too (the controller fails the gateway over on any close)', async () => {
    const watcher = await startAgent();
    agent!.stdin!.write('close\n');
    await until('closed', () => out.includes('closed'));
    // close() resolved once the watcher was done: the legs are down already.
    expect(await upLegs()).toEqual([leg(OTHER)]);
    expect(processAlive(watcher)).toBe(false);
    await until('the stand-in agent to exit', () => agent!.exitCode !== null);
    expect(await pidsInNs()).toEqual([]);
  }, 60_000);

  it('a watcher killed while its agent runs is replaced, and the new one holds the guard', async () => {
    const first = await startAgent();
    process.kill(first, 'SIGKILL');
    let second = 0;
    await until('a new watcher', async () => {
      agent!.stdin!.write('pid\n');
      await sleep(50);
      const m = [...out.matchAll(/watcher (\d+)/g)].at(-1);
      second = m ? Number(m[1]) : 0;
      return second > 0 && second !== first && processAlive(second);
    });
    expect(out).toMatch(/dead-man watcher exited while the agent runs/);
    process.kill(-agent!.pid!, 'SIGKILL');
    await until('the guarded legs to go down', async () => (await upLegs()).length === 1);
    expect(await upLegs()).toEqual([leg(OTHER)]);
    await until('the watcher to exit', () => !processAlive(second));
  }, 60_000);

  it('the watcher script: the last whole line counts, plus the whole names of a line cut short; in the namespace it is given', async () => {
    // Run from this (root) namespace with the legs' namespace as $1, as an agent with hostNetns runs it.
    const w = spawn('bash', ['-c', WATCHER_SCRIPT, WATCHER_NAME, NS, 'test'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let log = '';
    w.stderr!.on('data', (d) => (log += d));
    const exited = new Promise((r) => w.once('exit', r));
    w.stdin!.write(`${leg(OTHER)}\n`); // an older list, replaced by the next one
    w.stdin!.write(`${leg(GUARDED[0]!)}\n`);
    w.stdin!.end(`${leg(GUARDED[1]!)} ${leg(OTHER).slice(0, 7)}`); // the agent died mid-line
    await exited;
    expect(await upLegs()).toEqual([leg(OTHER)]);
    expect(JSON.parse(log)).toMatchObject({ host: 'test', msg: 'agent gone: HA router legs set down' });
  }, 60_000);

  it('a SIGTERM to the watcher along with the agent\'s death (systemd stopping the whole control group) does not stop it', async () => {
    const watcher = await startAgent();
    process.kill(watcher, 'SIGTERM');
    process.kill(-agent!.pid!, 'SIGKILL');
    await until('the guarded legs to go down', async () => (await upLegs()).length === 1);
    expect(await upLegs()).toEqual([leg(OTHER)]);
    await until('the watcher to exit', () => !processAlive(watcher));
  }, 60_000);
});
