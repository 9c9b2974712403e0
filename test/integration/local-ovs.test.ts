// startLocalOvs: a private ovsdb-server + ovs-vswitchd inside a per-run namespace.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processAlive, startLocalOvs, type LocalOvs } from '../../agent/host/local-ovs.ts';
import { createNetns, deleteNetns, execInNetns } from '../../agent/host/netns.ts';
import { missingOvsPieces } from '../../agent/host/packages.ts';

const tag = `wt${randomBytes(6).toString('hex').slice(0, 6)}`;
const NS = `${tag}h1`;
const runRoot = mkdtempSync(join(tmpdir(), 'wt-'));
const runDir = join(runRoot, 'h1');
let ovs: LocalOvs | undefined;

const sameNetns = (pid: number, ns: string) => statSync(`/proc/${pid}/ns/net`).ino === statSync(`/run/netns/${ns}`).ino;

async function retry<T>(fn: () => Promise<T>, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

beforeAll(async () => {
  expect(missingOvsPieces()).toEqual([]);
  await createNetns(NS);
});

afterAll(async () => {
  await ovs?.stop().catch(() => undefined);
  await deleteNetns(NS).catch(() => undefined);
  rmSync(runRoot, { recursive: true, force: true });
});

describe('startLocalOvs', () => {
  it('refuses run dirs whose socket paths Node could not reach', async () => {
    await expect(startLocalOvs({ runDir: join('/tmp', 'x'.repeat(100)) })).rejects.toThrow(/too long/);
  });

  it('starts both daemons in the namespace with everything in the run dir', async () => {
    ovs = await startLocalOvs({ runDir, netns: NS });
    expect(ovs.dbSocket).toBe(join(runDir, 'db.sock'));
    expect(ovs.mgmtSocket('br-int')).toBe(join(runDir, 'br-int.mgmt'));
    for (const f of ['conf.db', 'db.sock', 'ovsdb-server.pid', 'ovs-vswitchd.pid', 'ovs-vswitchd.ctl', 'ovsdb-server.ctl', 'ovs-vswitchd.log']) {
      expect(existsSync(join(runDir, f)), f).toBe(true);
    }
    const vpid = ovs.vswitchdPid()!;
    const dpid = ovs.ovsdbPid()!;
    expect(processAlive(vpid)).toBe(true);
    expect(processAlive(dpid)).toBe(true);
    expect(sameNetns(vpid, NS)).toBe(true);
    expect(sameNetns(process.pid, NS)).toBe(false);
    expect(await ovs.appctl('version')).toMatch(/ovs-vswitchd/);
    expect(await ovs.ovsdbAppctl('version')).toMatch(/ovsdb-server/);
  });

  it('serves vsctl, ofctl (OpenFlow13 on the mgmt socket) and creates the bridge port in the namespace', async () => {
    await ovs!.vsctl('add-br', 'br-t', '--', 'set', 'bridge', 'br-t', 'datapath_type=netdev', 'fail-mode=secure');
    expect((await ovs!.vsctl('list-br')).split('\n')).toContain('br-t');
    await ovs!.ofctl('add-flow', 'br-t', 'table=0,priority=10,actions=drop');
    expect(await ovs!.ofctl('dump-flows', 'br-t')).toMatch(/priority=10 actions=drop/);
    expect((await execInNetns(NS, 'ip', ['link', 'show', 'br-t'])).stdout).toMatch(/br-t/);
  });

  it('restartVswitchd gets a new ovs-vswitchd that keeps the db, the bridge and its flows table reachable', async () => {
    const before = ovs!.vswitchdPid()!;
    const dbPid = ovs!.ovsdbPid();
    await ovs!.restartVswitchd();
    const after = ovs!.vswitchdPid()!;
    expect(after).not.toBe(before);
    expect(processAlive(before)).toBe(false);
    expect(processAlive(after)).toBe(true);
    expect(sameNetns(after, NS)).toBe(true);
    expect(ovs!.ovsdbPid()).toBe(dbPid);
    expect((await ovs!.vsctl('list-br')).split('\n')).toContain('br-t');
    // a restarted vswitchd starts with an empty flow table (our agent must replay)
    const flows = await retry(() => ovs!.ofctl('dump-flows', 'br-t'));
    expect(flows).not.toMatch(/priority=10/);
  });

  it('stop() kills both daemons; a new start on the same run dir keeps the database', async () => {
    const pids = [ovs!.vswitchdPid()!, ovs!.ovsdbPid()!];
    await ovs!.stop();
    for (const p of pids) expect(processAlive(p)).toBe(false);
    ovs = await startLocalOvs({ runDir, netns: NS });
    expect((await ovs.vsctl('list-br')).split('\n')).toContain('br-t');
    expect(await ovs.vsctl('get', 'bridge', 'br-t', 'fail_mode')).toBe('secure');
    await ovs.stop();
    ovs = undefined;
  });

  it('works without a namespace too (daemons in the caller namespace)', async () => {
    const d = join(runRoot, 'n');
    const o = await startLocalOvs({ runDir: d });
    try {
      expect(sameNetns(o.vswitchdPid()!, NS)).toBe(false);
      expect(await o.vsctl('show')).toMatch(/ovs_version|^[0-9a-f-]{36}/m);
    } finally {
      await o.stop();
    }
  });
});
