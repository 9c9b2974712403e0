// The local host of the all-in-one start: what its agent is configured with, and the host's own
// port on the public (external) network, so that floating IPs are reachable from this machine the
// way devstack's br-ex makes them reachable (172.24.4.1/24 on the host, by default).
import { join } from 'node:path';
import { hostname } from 'node:os';
import type { AgentConfig } from '../agent/config.ts';
import { loadAgentConfig } from '../agent/config.ts';
import { run } from '../agent/host/exec.ts';
import { localOvsHandle } from '../agent/host/local-ovs.ts';

export interface PublicNetwork {
  /** Physical network name of the external network (`provider:physical_network`). */
  physnet: string;
  /** The OVS bridge of that physical network. */
  bridge: string;
  /** The host's address on it, CIDR form (the external subnet's gateway). */
  hostCidr: string;
  /** The host's interface on the bridge (an OVS internal port). */
  hostPort: string;
}

export const DEFAULT_PUBLIC: PublicNetwork = { physnet: 'public', bridge: 'br-ex', hostCidr: '172.24.4.1/24', hostPort: 'weft-public' };

/** Why the local agent cannot run here, or null when it can. */
export function agentUnavailable(where: { env: NodeJS.ProcessEnv; platform: string; uid: number | undefined }): string | null {
  if (where.env.WEFT_ALL_IN_ONE === '0') return 'WEFT_ALL_IN_ONE=0';
  if (where.platform !== 'linux') return `the agent needs Linux (this is ${where.platform})`;
  if (where.uid !== 0) return 'the agent needs root (it runs Open vSwitch, network namespaces and iptables); run `sudo npm start` for the all-in-one';
  return null;
}

/**
 * The local agent's configuration: its own Open vSwitch in `<dataDir>/agent`, the public network
 * mapped to br-ex, VXLAN on loopback (one host: no peers, but tenant VXLAN networks work), and any
 * WEFT_* agent variable the user set on top. Its credential the all-in-one mints (main.ts).
 */
export function localAgentConfig(opts: { controllerUrl: string; dataDir: string; env: NodeJS.ProcessEnv; publicNet: PublicNetwork }): AgentConfig {
  return loadAgentConfig({
    WEFT_HOST: hostname(),
    WEFT_RUN_DIR: join(opts.dataDir, 'agent'),
    WEFT_STATE_DIR: join(opts.dataDir, 'agent'),
    WEFT_TUNNEL_IP: '127.0.0.1',
    WEFT_BRIDGE_MAPPINGS: `${opts.publicNet.physnet}:${opts.publicNet.bridge}`,
    WEFT_DATAPATH: 'netdev',
    ...Object.fromEntries(Object.entries(opts.env).filter(([k]) => k.startsWith('WEFT_') && !['WEFT_LISTEN', 'WEFT_DATA_DIR', 'WEFT_ENROLMENT_TOKEN'].includes(k))),
    WEFT_CONTROLLER_URL: opts.controllerUrl,
  });
}

/** Adds (idempotently) the host's internal port on the public bridge, with its address, up. */
export async function attachHostToPublic(agent: AgentConfig, net: PublicNetwork): Promise<void> {
  const ovs = localOvsHandle({ runDir: agent.runDir, datapath: agent.datapath });
  await ovs.vsctl('--may-exist', 'add-port', net.bridge, net.hostPort, '--', 'set', 'Interface', net.hostPort, 'type=internal');
  // The tap appears when ovs-vswitchd has created it.
  for (let i = 0; i < 100; i++) {
    if ((await run('ip', ['link', 'show', net.hostPort], { allowFail: true })).code === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await run('ip', ['addr', 'replace', net.hostCidr, 'dev', net.hostPort]);
  await run('ip', ['link', 'set', net.hostPort, 'up']);
}

/** Stops the local Open vSwitch the agent started (its VMs' ports go with it). */
export async function stopLocalOvs(agent: AgentConfig): Promise<void> {
  await localOvsHandle({ runDir: agent.runDir, datapath: agent.datapath }).stop();
}
