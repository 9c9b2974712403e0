// "The outside world" for L3 tests: a namespace on the lab's fabric bridge, untagged, so it sits
// on the flat physical network physnet1 (the hosts' eth1 trunks into br-phys). lab.destroy()
// removes it with the lab's other namespaces (same prefix).
import { run, type RunResult } from '../agent/host/exec.ts';
import { createNetns, createVethPair, ip } from '../agent/host/netns.ts';
import type { Lab } from './lab.ts';
import { FABRIC_BRIDGE } from './lab.ts';
import { execIn, spawnIn, type ExecOptions, type LabProcess } from './lab-process.ts';

export interface ExternalHost {
  readonly netns: string;
  exec(argv: readonly string[], o?: ExecOptions): Promise<RunResult>;
  spawn(argv: readonly string[]): LabProcess;
}

/** A namespace on the provider fabric with address `cidr` (e.g. 172.31.200.100/24: from 172.31.200.0/24 up, outside every lab's underlay). */
export async function attachExternal(lab: Lab, cidr: string, name = 'ext'): Promise<ExternalHost> {
  if (!lab.provider) throw new Error('lab: attachExternal needs a lab created with provider: true');
  const netns = `${lab.prefix}-${name}`;
  const peer = `x-${name}`.slice(0, 15);
  await createNetns(netns);
  await ip(netns, ['link', 'set', 'lo', 'up']);
  await createVethPair({ ns: netns, name: 'eth0', peerNs: lab.fabricNetns, peerName: peer, up: false });
  await ip(lab.fabricNetns, ['link', 'set', peer, 'master', FABRIC_BRIDGE, 'up']);
  await run('ip', ['netns', 'exec', netns, 'ethtool', '-K', 'eth0', 'tx', 'off']);
  await ip(netns, ['addr', 'add', cidr, 'dev', 'eth0']);
  await ip(netns, ['link', 'set', 'eth0', 'up']);
  // Processes spawned here die with the namespace in lab.destroy() (it kills by `ip netns pids`).
  return { netns, exec: (argv, o) => execIn(netns, argv, o), spawn: (argv) => spawnIn(netns, argv) };
}
