// A private ovs-vswitchd (userspace datapath) in a namespace of this run, with br-int, for benches
// that need a real switch; stopped, and its namespace and run folder removed, whatever `fn` does.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalOvs, type LocalOvs } from '../../agent/host/local-ovs.ts';
import { createNetns, deleteNetns } from '../../agent/host/netns.ts';

export const PRIVATE_BRIDGE = 'br-int';

export interface PrivateSwitch { ovs: LocalOvs; dir: string; netns: string }

export async function withPrivateSwitch<T>(failMode: 'secure' | 'standalone', fn: (s: PrivateSwitch) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'wfb-'));
  const netns = `wfb${randomBytes(4).toString('hex')}`;
  let ovs: LocalOvs | undefined;
  try {
    await createNetns(netns);
    ovs = await startLocalOvs({ runDir: dir, netns });
    await ovs.vsctl('add-br', PRIVATE_BRIDGE, '--', 'set', 'bridge', PRIVATE_BRIDGE, 'datapath_type=netdev', `fail-mode=${failMode}`);
    return await fn({ ovs, dir, netns });
  } finally {
    try {
      await ovs?.stop();
    } finally {
      await deleteNetns(netns).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
