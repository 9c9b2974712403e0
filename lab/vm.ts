// A "VM" plugged into br-int the way Nova/os-vif or a CNI plugin does it: a network namespace whose
// eth0 is one end of a veth, the other end (tap<port id[:11]>) an OVS port of br-int with
// external_ids iface-id (the Neutron port), attached-mac, iface-status=active and vm-id (the VM's
// namespace, so that whoever finds the OVS port also finds the VM). Used by lab.ts for lab hosts
// and by `weft plug` for this machine's switch, so tests and the CLI plug the same way.
//
//   await plugVm({ hostNetns: 'wl1a2b-h1', ovsdb: 'unix:/tmp/wl-x/h1/db.sock' },
//                { netns: 'wl1a2b-vm-a', portId, mac, ip: '10.0.0.5/24', gateway: '10.0.0.1' })
//   await unplugVm(switch, { netns, tap })
import { run, runOut } from '../agent/host/exec.ts';
import { checkIfName, checkNetnsName, createNetns, createVethPair, deleteNetns, ip } from '../agent/host/netns.ts';
import { killNetnsProcesses, until } from './lab-process.ts';

export const INTEGRATION_BRIDGE = 'br-int';

/** The switch a VM is plugged into. */
export interface VmSwitch {
  /** Namespace Open vSwitch runs in, where the tap goes; undefined: this process's namespace. */
  hostNetns?: string;
  /** OVSDB target of that switch, e.g. unix:/tmp/weft-h1/db.sock. */
  ovsdb: string;
}

export interface VmSpec {
  /** The VM's namespace (created here; an existing one is an error). */
  netns: string;
  /** Logical port (Neutron port id): external_ids:iface-id. */
  portId: string;
  mac: string;
  /** IPv4 address in CIDR form, e.g. 10.0.0.5/24. */
  ip?: string;
  /** IPv6 address in CIDR form (added with nodad). */
  ip6?: string;
  /** MTU of the VM NIC and its tap. Default 1500. */
  mtu?: number;
  /** IPv4 default gateway. */
  gateway?: string;
  /** IPv6 default gateway. */
  gateway6?: string;
  /** How long to wait for br-int to exist (the agent creates it). Default 30 s. */
  bridgeTimeoutMs?: number;
}

export interface PluggedVm {
  readonly netns: string;
  /** The host-side device (the OVS port on br-int). */
  readonly tap: string;
  readonly portId: string;
  readonly mac: string;
}

/** Nova's naming: tap + the first 11 characters of the port id. */
export const tapName = (portId: string): string => checkIfName(`tap${portId.replace(/[\s/:]/g, '').slice(0, 11)}`);

export const vsctl = (sw: VmSwitch, ...args: string[]): Promise<string> => runOut('ovs-vsctl', [`--db=${sw.ovsdb}`, '--timeout=20', ...args]);

/** `cmd args` inside `ns`, or here when ns is undefined. */
const inNs = (ns: string | undefined, argv: string[]) => (ns ? run('ip', ['netns', 'exec', ns, ...argv]) : run(argv[0]!, argv.slice(1)));

export async function waitForBridge(sw: VmSwitch, bridge: string, timeoutMs: number): Promise<void> {
  await until(`${bridge} in the Open vSwitch at ${sw.ovsdb}`, async () => {
    const r = await run('ovs-vsctl', [`--db=${sw.ovsdb}`, '--timeout=5', 'br-exists', bridge], { allowFail: true });
    return r.code === 0;
  }, timeoutMs);
}

export async function plugVm(sw: VmSwitch, spec: VmSpec): Promise<PluggedVm> {
  const netns = checkNetnsName(spec.netns);
  const tap = tapName(spec.portId);
  const mac = spec.mac.toLowerCase();
  const mtu = spec.mtu ?? 1500;
  await waitForBridge(sw, INTEGRATION_BRIDGE, spec.bridgeTimeoutMs ?? 30_000);
  await createNetns(netns);
  try {
    // Born in place: the tap in the switch's namespace, eth0 in the VM's.
    await createVethPair({ ns: sw.hostNetns, name: tap, peerNs: netns, peerName: 'eth0', peerMac: mac, mtu, up: false });
    // The tap is an OVS port: keep the host kernel from answering ARP or sending IPv6 on it (ENVIRONMENT pitfall 3).
    await inNs(sw.hostNetns, ['sysctl', '-qw', `net.ipv6.conf.${tap}.disable_ipv6=1`]);
    await ip(sw.hostNetns, ['link', 'set', tap, 'arp', 'off', 'up']);
    // Pitfall 2: no TX checksum offload on the VM NIC, or TCP/UDP leaves OVS userspace with bad checksums.
    await inNs(netns, ['ethtool', '-K', 'eth0', 'tx', 'off']);
    if (spec.ip) await ip(netns, ['addr', 'add', spec.ip, 'dev', 'eth0']);
    if (spec.ip6) await ip(netns, ['-6', 'addr', 'add', spec.ip6, 'dev', 'eth0', 'nodad']);
    await ip(netns, ['link', 'set', 'eth0', 'up']);
    if (spec.gateway) await ip(netns, ['route', 'replace', 'default', 'via', spec.gateway, 'dev', 'eth0']);
    if (spec.gateway6) await ip(netns, ['-6', 'route', 'replace', 'default', 'via', spec.gateway6, 'dev', 'eth0']);
    await vsctl(sw,
      '--', '--may-exist', 'add-port', INTEGRATION_BRIDGE, tap,
      '--', 'set', 'interface', tap,
      `external_ids:iface-id=${spec.portId}`,
      `external_ids:attached-mac=${mac}`,
      'external_ids:iface-status=active',
      `external_ids:vm-id=${netns}`,
    );
  } catch (e) {
    await vsctl(sw, '--if-exists', 'del-port', INTEGRATION_BRIDGE, tap).catch(() => undefined);
    await deleteNetns(netns).catch(() => undefined);
    throw e;
  }
  return { netns, tap, portId: spec.portId, mac };
}

/** Removes the OVS port, whatever runs in the VM's namespace, and the namespace (its eth0, and so the tap, go with it). */
export async function unplugVm(sw: VmSwitch, vm: { netns: string; tap: string }): Promise<void> {
  await vsctl(sw, '--if-exists', 'del-port', INTEGRATION_BRIDGE, vm.tap);
  await killNetnsProcesses(vm.netns);
  await deleteNetns(vm.netns);
}

/** The OpenFlow port OVS gave `iface` (waits until it has one). */
export function ofportOf(sw: VmSwitch, iface: string, timeoutMs = 10_000): Promise<number> {
  return until(`ofport of ${iface}`, async () => {
    const n = Number(await vsctl(sw, 'get', 'interface', iface, 'ofport'));
    return Number.isInteger(n) && n > 0 ? n : undefined;
  }, timeoutMs);
}

/** A VM interface found on a switch: what plugVm wrote into its external_ids. */
export interface FoundVm {
  tap: string;
  portId: string;
  mac: string | undefined;
  /** The VM's namespace (external_ids:vm-id), when the plug was ours. */
  netns: string | undefined;
  ofport: number | undefined;
}

/** Interfaces of the switch that carry an iface-id (VMs, router legs), from the OVSDB. */
export async function listVmInterfaces(sw: VmSwitch): Promise<FoundVm[]> {
  const text = await vsctl(sw, '--format=json', '--columns=name,ofport,external_ids', 'list', 'interface');
  return parseInterfaceList(text);
}

/** Parses `ovs-vsctl --format=json --columns=name,ofport,external_ids list interface`. */
export function parseInterfaceList(text: string): FoundVm[] {
  const out: FoundVm[] = [];
  for (const row of parseVsctlRows(text)) {
    const ids = (row.external_ids ?? {}) as Record<string, string>;
    if (!ids['iface-id']) continue;
    out.push({
      tap: String(row.name),
      portId: ids['iface-id'],
      mac: ids['attached-mac'],
      netns: ids['vm-id'],
      ofport: typeof row.ofport === 'number' && row.ofport > 0 ? row.ofport : undefined,
    });
  }
  return out;
}

/**
 * Rows of `ovs-vsctl --format=json list TABLE`, keyed by column: OVSDB maps become objects, sets
 * arrays (an empty set, e.g. an ofport not assigned yet, undefined), uuids strings.
 */
export function parseVsctlRows(text: string): Record<string, unknown>[] {
  const table = JSON.parse(text) as { headings: string[]; data: unknown[][] };
  const decode = (v: unknown): unknown => {
    if (!Array.isArray(v)) return v;
    const [tag, body] = v as [string, unknown];
    if (tag === 'map') return Object.fromEntries((body as [unknown, unknown][]).map(([k, x]) => [String(decode(k)), decode(x)]));
    if (tag === 'set') return (body as unknown[]).length ? (body as unknown[]).map(decode) : undefined;
    if (tag === 'uuid' || tag === 'named-uuid') return body;
    return v;
  };
  return table.data.map((row) => Object.fromEntries(table.headings.map((h, i) => [h, decode(row[i])])));
}
