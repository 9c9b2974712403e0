// ownOpenvswitch (start or adopt the agent's private switch) and superviseVswitchd, with real daemons
// in a per-run namespace.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processAlive, type LocalOvs } from '../../agent/host/local-ovs.ts';
import { createNetns, deleteNetns } from '../../agent/host/netns.ts';
import { defaultRunDir, ownOpenvswitch, superviseVswitchd } from '../../agent/host/own-ovs.ts';

const NS = `wt${randomBytes(3).toString('hex')}-o`;
const runRoot = mkdtempSync('/tmp/wt-');
const runDir = join(runRoot, 'h');
let ovs: LocalOvs | undefined;

async function eventually(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  await createNetns(NS);
});

afterAll(async () => {
  await ovs?.stop().catch(() => undefined);
  await deleteNetns(NS).catch(() => undefined);
  rmSync(runRoot, { recursive: true, force: true });
});

describe('ownOpenvswitch', () => {
  it('has a short default run dir', () => {
    expect(defaultRunDir('compute-1')).toMatch(/\/weft-compute-1$/);
    expect(defaultRunDir('x'.repeat(200)).length).toBeLessThan(60);
  });

  it('starts both daemons the first time', async () => {
    const own = await ownOpenvswitch({ runDir, datapath: 'netdev', netns: NS });
    ovs = own.ovs;
    expect(own.adopted).toBe(false);
    expect(own.started).toEqual(['ovsdb-server', 'ovs-vswitchd']);
    expect(ovs.vswitchdRunning()).toBe(true);
    expect(ovs.ovsdbRunning()).toBe(true);
    await ovs.vsctl('add-br', 'br-t', '--', 'set', 'bridge', 'br-t', 'datapath_type=netdev', 'fail-mode=secure');
    await ovs.ofctl('add-flow', 'br-t', 'priority=9,actions=drop');
  });

  it('adopts running daemons without restarting anything (flows stay)', async () => {
    const pids = [ovs!.ovsdbPid(), ovs!.vswitchdPid()];
    const own = await ownOpenvswitch({ runDir, datapath: 'netdev', netns: NS });
    expect(own.adopted).toBe(true);
    expect(own.started).toEqual([]);
    expect([own.ovs.ovsdbPid(), own.ovs.vswitchdPid()]).toEqual(pids);
    expect(await own.ovs.ofctl('dump-flows', 'br-t')).toMatch(/priority=9 actions=drop/);
  });

  it('starts only ovs-vswitchd when it alone is dead (the database is kept)', async () => {
    const dbPid = ovs!.ovsdbPid()!;
    const vPid = ovs!.vswitchdPid()!;
    process.kill(vPid, 'SIGKILL');
    await eventually(() => !processAlive(vPid), 'vswitchd to die');
    const own = await ownOpenvswitch({ runDir, netns: NS });
    expect(own).toMatchObject({ adopted: false, started: ['ovs-vswitchd'] });
    expect(own.ovs.ovsdbPid()).toBe(dbPid);
    expect(own.ovs.vswitchdPid()).not.toBe(vPid);
    expect((await own.ovs.vsctl('list-br')).split('\n')).toContain('br-t');
  });

  it('starts both again when ovsdb-server is gone, keeping conf.db', async () => {
    const dbPid = ovs!.ovsdbPid()!;
    const vPid = ovs!.vswitchdPid()!;
    process.kill(dbPid, 'SIGKILL');
    await eventually(() => !processAlive(dbPid), 'ovsdb-server to die');
    const own = await ownOpenvswitch({ runDir, netns: NS });
    ovs = own.ovs;
    expect(own).toMatchObject({ adopted: false, started: ['ovsdb-server', 'ovs-vswitchd'] });
    expect(processAlive(vPid)).toBe(false); // the orphaned vswitchd was stopped
    expect((await own.ovs.vsctl('list-br')).split('\n')).toContain('br-t');
  });
});

describe('superviseVswitchd', () => {
  it('restarts a killed ovs-vswitchd (SIGKILL or SIGTERM) and reports it; ovsdb-server is untouched', async () => {
    let restarts = 0;
    const stop = superviseVswitchd(ovs!, () => void restarts++, { intervalMs: 100 });
    try {
      const dbPid = ovs!.ovsdbPid();
      for (const [i, sig] of (['SIGKILL', 'SIGTERM'] as const).entries()) {
        const pid = ovs!.vswitchdPid()!;
        process.kill(pid, sig);
        await eventually(() => restarts === i + 1, `restart #${i + 1}`);
        expect(ovs!.vswitchdRunning()).toBe(true);
        expect(ovs!.vswitchdPid()).not.toBe(pid);
      }
      expect(ovs!.ovsdbPid()).toBe(dbPid);
      expect((await ovs!.vsctl('list-br')).split('\n')).toContain('br-t');
      // Quiet while alive.
      await new Promise((r) => setTimeout(r, 400));
      expect(restarts).toBe(2);
    } finally {
      stop();
    }
  });

  it('does nothing after stop(), and a restartVswitchd() in progress is not doubled', async () => {
    let restarts = 0;
    const stop = superviseVswitchd(ovs!, () => void restarts++, { intervalMs: 20 });
    await ovs!.restartVswitchd();
    await new Promise((r) => setTimeout(r, 200));
    expect(ovs!.vswitchdRunning()).toBe(true);
    stop();
    const pid = ovs!.vswitchdPid()!;
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    expect(ovs!.vswitchdRunning()).toBe(false);
    expect(restarts).toBe(0);
    await ovs!.startVswitchd();
  });
});
