// A lab host's uplinks, once its agent has started Open vSwitch: br-phy (netdev, standalone) owning
// eth0 with the host's VTEP address, tunnel neighbours pre-seeded, and with a provider fabric eth1 as
// a port of br-phys (which the agent creates from WEFT_BRIDGE_MAPPINGS). Idempotent.
import { run } from '../agent/host/exec.ts';
import { ip } from '../agent/host/netns.ts';
import type { LabHost } from './lab.ts';
import { until } from './lab-process.ts';

export const UNDERLAY_BRIDGE = 'br-phy';
export const PROVIDER_PHYSNET = 'physnet1';
export const PROVIDER_BRIDGE = 'br-phys';
export const FABRIC_MTU = 1600;

export async function attachHostUnderlay(h: LabHost, all: readonly LabHost[], provider: boolean, timeoutMs: number): Promise<void> {
  await until(`Open vSwitch of ${h.name} (${h.runDir})`, async () => h.ovs.vswitchdRunning() && h.ovs.ovsdbRunning() && (await h.ovs.vsctl('show'), true), timeoutMs);
  // Userspace tunnelling: the VTEP address lives on br-phy's internal port, eth0 is a port of br-phy.
  await h.ovs.vsctl(
    '--', '--may-exist', 'add-br', UNDERLAY_BRIDGE,
    '--', 'set', 'bridge', UNDERLAY_BRIDGE, 'datapath_type=netdev', 'fail-mode=standalone', `other_config:hwaddr=${h.brPhyMac}`,
    '--', 'set', 'interface', UNDERLAY_BRIDGE, `mtu_request=${FABRIC_MTU}`,
    '--', '--may-exist', 'add-port', UNDERLAY_BRIDGE, 'eth0',
  );
  await until(`${UNDERLAY_BRIDGE} device in ${h.netns}`, async () => (await ip(h.netns, ['link', 'show', UNDERLAY_BRIDGE], { allowFail: true })).code === 0, timeoutMs);
  await run('ip', ['netns', 'exec', h.netns, 'sysctl', '-qw', `net.ipv6.conf.${UNDERLAY_BRIDGE}.disable_ipv6=1`]);
  await ip(h.netns, ['addr', 'replace', `${h.tunnelIp}/24`, 'dev', UNDERLAY_BRIDGE]);
  await ip(h.netns, ['link', 'set', UNDERLAY_BRIDGE, 'up']);
  // PITFALL 5: pre-seed the tunnel neighbours (their br-phy MACs are fixed), so first packets are not lost.
  for (const other of all) {
    if (other === h) continue;
    await h.ovs.appctl('tnl/neigh/set', UNDERLAY_BRIDGE, other.tunnelIp, other.brPhyMac);
  }
  if (provider) {
    await until(`${PROVIDER_BRIDGE} on ${h.name} (created by the agent from WEFT_BRIDGE_MAPPINGS)`, async () => {
      const r = await run('ovs-vsctl', [`--db=${h.ovs.dbTarget}`, 'br-exists', PROVIDER_BRIDGE], { allowFail: true });
      return r.code === 0;
    }, timeoutMs);
    await h.ovs.vsctl('--may-exist', 'add-port', PROVIDER_BRIDGE, 'eth1');
  }
}
