// A lab: several "hypervisors" as network namespaces on this machine, an L2 underlay between them,
// and VMs as namespaces plugged into a host's br-int the way Nova/os-vif or a CNI plugin would.
// ENVIRONMENT.md §1.2, except that each host's Open vSwitch is owned by the host's weft-agent
// (WEFT_OVSDB unset, WEFT_RUN_DIR = host.runDir) instead of being started by the lab.
//
//   const lab = await createLab({ hosts: ['h1', 'h2'], provider: true });   // prefix: 'wl' + 4 hex
//   const again = openLab(lab.describe())             // the same lab from another process (weft lab down)
//   lab.host('h1').netns / .runDir / .tunnelIp / .brPhyMac / .ovs (LocalOvs handle, starts nothing)
//   lab.host('h1').agentEnv(controllerUrl, enrolment)  // WEFT_* for weft-agent in that namespace
//   lab.host('h1').exec(argv) / .spawn(argv, {env})    // in the host namespace
//   // ... start the agents (they start Open vSwitch and create br-int / br-phys) ...
//   await lab.attachUnderlay('h1')                      // br-phy + eth0, VTEP IP, MTU 1600, tnl neighbours; eth1 -> br-phys
//   const vm = await lab.plug('h1', { name: 'vm1', portId, mac, ip: '10.0.0.5/24', ip6?, mtu?, gateway?, gateway6? })
//   await vm.exec(['busybox', 'ping', '-c1', '-W2', '10.0.0.6'])  // {code, stdout, stderr}; never throws on non-zero
//   const p = vm.spawn(['busybox', 'nc', '-l', '-p', '80']); p.output(); p.write('x'); await p.stop('SIGINT')
//   await vm.ofport()                                  // OpenFlow port OVS gave the VM's tap
//   await lab.unplug(vm)                                // OVS port and VM namespace gone
//   const text = await lab.tcpdump('fabric', ['-c', '2', 'vlan 100'], async () => {...})
//   await lab.destroy()                                 // everything gone; safe to call twice
//
// Topology (n = 1-based host index, N = a per-lab number from the prefix):
//   <prefix>-fabric   Linux bridge `brf` (vlan_filtering off, so tagged frames cross it), MTU 1600
//   <prefix>-<host>   eth0 <-> fabric u<n> (underlay), eth1 <-> fabric p<n> (provider trunk, with provider)
//                     eth0/eth1: MTU 1600, `arp off`, IPv6 off (ENVIRONMENT pitfalls 3 and 4)
//                     after attachUnderlay: br-phy (netdev, standalone) with eth0, VTEP 172.31.N.(10+n)/24 on br-phy (N < 200),
//                     br-phy hwaddr 02:77:NN:00:ff:nn, mtu_request 1600; with provider eth1 is a port of br-phys
//   <prefix>-vm-<name> eth0 (the VM NIC: MAC, addresses, MTU, `tx off`) <-> host tap<portId[:11]> on br-int with
//                     external_ids iface-id/attached-mac/iface-status=active/vm-id (no ofport_request); vm.ts
// Addresses exist only inside namespaces the lab made. Run folders are short (/tmp/wl-XXXXXX/<host>, or
// <runRoot>/<host>). destroy() also removes VMs plugged from outside (weft plug), found by their vm-id.
//
// Process plumbing (exec that never throws, background processes, tcpdump captures) is in lab-process.ts,
// plugging a VM in vm.ts, the agents of a lab in agents.ts. Cleanup kills by pid only: processes the lab
// spawned, the OVS daemons named by the pid files of its run folders, and whatever still runs inside the
// lab's own namespaces (`ip netns pids`). Nothing is ever killed by name.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { run, runOut, type RunResult } from '../agent/host/exec.ts';
import { localOvsHandle, type LocalOvs } from '../agent/host/local-ovs.ts';
import { checkNetnsName, createNetns, createVethPair, deleteNetns, ip, listNetns } from '../agent/host/netns.ts';
import { captureIn, execIn, killNetnsProcesses, spawnIn, type ExecOptions, type LabProcess } from './lab-process.ts';
import { FABRIC_MTU, PROVIDER_BRIDGE, PROVIDER_PHYSNET, attachHostUnderlay } from './underlay.ts';
import { listVmInterfaces, ofportOf, plugVm, unplugVm, type VmSwitch } from './vm.ts';
import { whileAlive } from './teardown.ts';

export type { ExecOptions, LabProcess } from './lab-process.ts';

export const FABRIC_BRIDGE = 'brf';
export { FABRIC_MTU, PROVIDER_BRIDGE, PROVIDER_PHYSNET, UNDERLAY_BRIDGE } from './underlay.ts';

export interface LabOptions {
  /** Host names (short: they become namespace names and WEFT_HOST). */
  hosts: string[];
  /** Namespace prefix; default 'wl' + 4 random hex. Every namespace of the lab starts with it. */
  prefix?: string;
  /** Give every host eth1 on the fabric, mapped as physnet1 -> br-phys (VLAN/flat provider networks). */
  provider?: boolean;
  /** Folder of the hosts' run folders (created; removed by destroy). Default: a new /tmp/wl-XXXXXX. Keep it short. */
  runRoot?: string;
}

/** What it takes to find a lab again from another process: openLab(description). */
export interface LabDescription {
  prefix: string;
  hosts: string[];
  provider: boolean;
  runRoot: string;
}

export interface LabHost {
  readonly name: string;
  /** 1-based position in LabOptions.hosts. */
  readonly index: number;
  readonly netns: string;
  /** The host's Open vSwitch folder (WEFT_RUN_DIR of its agent). */
  readonly runDir: string;
  /** VTEP address on the underlay (on br-phy once attached). */
  readonly tunnelIp: string;
  /** MAC address of br-phy (fixed, so that other hosts can pre-seed their tunnel neighbour cache). */
  readonly brPhyMac: string;
  /** A handle on the host's Open vSwitch (vsctl/ofctl/appctl with explicit sockets). Starts nothing. */
  readonly ovs: LocalOvs;
  /**
   * Environment for weft-agent on this host: it enrols with the one-time `enrolmentToken` and keeps
   * its credential in runDir (WEFT_STATE_DIR), where a restarted agent finds it.
   */
  agentEnv(controllerUrl: string, enrolmentToken: string): Record<string, string>;
  exec(argv: readonly string[], opts?: ExecOptions): Promise<RunResult>;
  spawn(argv: readonly string[], opts?: { env?: Record<string, string> }): LabProcess;
}

export interface PlugOptions {
  /** VM name; its namespace is <prefix>-vm-<name>. Unique among plugged VMs. */
  name: string;
  /** Logical port (Neutron port id): external_ids:iface-id. */
  portId: string;
  mac: string;
  /** IPv4 address in CIDR form, e.g. 10.0.0.5/24. */
  ip?: string;
  /** IPv6 address in CIDR form (added with nodad). */
  ip6?: string;
  /** MTU of the VM NIC and its tap. Default 1500 (the underlay carries 1500-byte frames over VXLAN). */
  mtu?: number;
  /** IPv4 default gateway. */
  gateway?: string;
  /** IPv6 default gateway. */
  gateway6?: string;
}

export interface LabVm {
  readonly name: string;
  readonly host: string;
  readonly netns: string;
  readonly portId: string;
  readonly mac: string;
  readonly ip: string | undefined;
  /** The host-side device (the OVS port on br-int). */
  readonly tap: string;
  exec(argv: readonly string[], opts?: ExecOptions): Promise<RunResult>;
  spawn(argv: readonly string[], opts?: { env?: Record<string, string> }): LabProcess;
  /** The OpenFlow port OVS assigned to the tap (waits until it has one). */
  ofport(): Promise<number>;
}

export interface Lab {
  readonly prefix: string;
  readonly hosts: readonly string[];
  readonly provider: boolean;
  /** Namespace of the fabric (the Linux bridge `brf` joining all hosts). */
  readonly fabricNetns: string;
  /** Underlay subnet, e.g. 172.31.37.0/24. */
  readonly underlayCidr: string;
  /** Root of the hosts' run folders. */
  readonly runRoot: string;
  host(name: string): LabHost;
  vms(): LabVm[];
  attachUnderlay(host: string, opts?: { timeoutMs?: number }): Promise<void>;
  plug(host: string, opts: PlugOptions): Promise<LabVm>;
  unplug(vm: LabVm | string): Promise<void>;
  /**
   * Captures with tcpdump while `fn` runs and returns the text. `where` is 'fabric' (default
   * interface brf), a host name (eth0) or a VM (eth0). `-l -e -n` are always added; `-i` unless given.
   */
  tcpdump(where: string | LabVm, args: readonly string[], fn: () => Promise<unknown>): Promise<string>;
  /** Namespaces that currently exist with this lab's prefix. */
  namespaces(): Promise<string[]>;
  describe(): LabDescription;
  destroy(): Promise<void>;
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

export async function createLab(opts: LabOptions): Promise<Lab> {
  if (!opts.hosts.length) throw new Error('lab: at least one host');
  if (new Set(opts.hosts).size !== opts.hosts.length) throw new Error('lab: duplicate host names');
  if (opts.hosts.length > 200) throw new Error('lab: too many hosts');
  const prefix = checkNetnsName(opts.prefix ?? `wl${randomBytes(2).toString('hex')}`);
  for (const h of opts.hosts) checkNetnsName(`${prefix}-${h}`);
  let runRoot: string;
  if (opts.runRoot) {
    runRoot = resolve(opts.runRoot);
    mkdirSync(runRoot, { recursive: true, mode: 0o700 });
  } else {
    runRoot = mkdtempSync('/tmp/wl-');
  }
  const lab = labOf({ prefix, hosts: [...opts.hosts], provider: opts.provider ?? false, runRoot });
  lab.destroy = whileAlive(lab.destroy);
  try {
    await lab.build();
  } catch (e) {
    await lab.destroy().catch(() => undefined);
    throw e;
  }
  return lab;
}

/**
 * The lab of `d` as another process created it (its namespaces and run folders exist): enough to
 * look at its hosts, plug VMs and destroy it. Processes the other process spawned are not known
 * here; destroy() still kills whatever runs in the lab's namespaces.
 */
export function openLab(d: LabDescription): Lab {
  return labOf(d);
}

/** The third octet of 172.31.x.0/24 from which the lab's external networks (lab-external.ts) may be. */
export const EXTERNAL_THIRD_OCTET_FIRST = 200;

function labOf(d: LabDescription): Lab & { build(): Promise<void> } {
  const { prefix, provider, runRoot } = d;
  // A per-lab /24 (only ever inside our namespaces; it just makes captures of two labs tell apart).
  // Below 172.31.200.0/24: tests and benches put their external networks at 172.31.200-209 on the
  // same fabric, and a floating IP that took a VTEP's address cut the underlay (l3.test.ts, CI).
  const N = createHash('sha1').update(prefix).digest()[0]! % EXTERNAL_THIRD_OCTET_FIRST;
  const underlayCidr = `172.31.${N}.0/24`;
  const fabricNetns = `${prefix}-fabric`;

  const processes = new Set<LabProcess>();
  const namespaces: string[] = []; // made by this process, in creation order
  const vms = new Map<string, LabVm>();
  const hosts = new Map<string, LabHost>();

  // Background processes are tracked so that destroy() can stop them.
  const track = (ns: string, argv: readonly string[], o?: { env?: Record<string, string> }): LabProcess => {
    if (destroyed) throw new Error('lab: destroyed');
    const p = spawnIn(ns, argv, o);
    processes.add(p);
    void p.exited.then(() => processes.delete(p));
    return p;
  };

  const makeHost = (name: string, index: number): LabHost => {
    const netns = checkNetnsName(`${prefix}-${name}`);
    const runDir = join(runRoot, name);
    const tunnelIp = `172.31.${N}.${10 + index}`;
    const brPhyMac = `02:77:${hex2(N)}:00:ff:${hex2(index)}`;
    const ovs = localOvsHandle({ runDir, netns, datapath: 'netdev' });
    return {
      name,
      index,
      netns,
      runDir,
      tunnelIp,
      brPhyMac,
      ovs,
      agentEnv: (controllerUrl, enrolmentToken) => ({
        WEFT_CONTROLLER_URL: controllerUrl,
        WEFT_ENROLMENT_TOKEN: enrolmentToken,
        WEFT_HOST: name,
        WEFT_RUN_DIR: runDir,
        WEFT_STATE_DIR: runDir,
        WEFT_DATAPATH: 'netdev',
        WEFT_TUNNEL_IP: tunnelIp,
        // Lab prefix: destroy() removes them; host name: each agent owns the namespaces with its prefix.
        WEFT_ROUTER_NAMESPACE_PREFIX: `${prefix}-${name}-qr-`,
        ...(provider ? { WEFT_BRIDGE_MAPPINGS: `${PROVIDER_PHYSNET}:${PROVIDER_BRIDGE}` } : {}),
      }),
      exec: (argv, o) => execIn(netns, argv, o),
      spawn: (argv, o) => track(netns, argv, o),
    };
  };
  for (const [i, name] of d.hosts.entries()) hosts.set(name, makeHost(name, i + 1));

  const getHost = (name: string): LabHost => {
    const h = hosts.get(name);
    if (!h) throw new Error(`lab: no host '${name}' (have ${[...hosts.keys()].join(', ')})`);
    return h;
  };
  const switchOf = (h: LabHost): VmSwitch => ({ hostNetns: h.netns, ovsdb: h.ovs.dbTarget });

  const newNetns = async (name: string) => {
    await createNetns(name);
    namespaces.push(name);
  };

  // --- teardown -------------------------------------------------------------------------------
  let destroyed = false;
  let destroying: Promise<void> | undefined;
  const destroy = (): Promise<void> => {
    destroying ??= (async () => {
      destroyed = true;
      const errors: unknown[] = [];
      const attempt = async (f: () => Promise<unknown>) => {
        try {
          await f();
        } catch (e) {
          errors.push(e);
        }
      };
      await Promise.all([...processes].map((p) => attempt(() => p.stop('SIGKILL'))));
      // VMs plugged by name from outside the lab (weft plug): their namespaces are named in the switch.
      const outsiders = new Set<string>();
      for (const h of hosts.values()) {
        if (!h.ovs.ovsdbRunning()) continue;
        for (const v of await listVmInterfaces(switchOf(h)).catch(() => [])) if (v.netns && !v.netns.startsWith(`${prefix}-`)) outsiders.add(v.netns);
      }
      // Open vSwitch daemons of our run folders, by pid file (vswitchd first).
      await Promise.all([...hosts.values()].map((h) => attempt(() => h.ovs.stop())));
      const ours = new Set([...namespaces, ...(await listNetns(`${prefix}-`).catch(() => []))]);
      for (const ns of [...ours, ...outsiders]) await attempt(() => killNetnsProcesses(ns));
      // VMs first (their veths go with them), then hosts, then the fabric.
      const order = [...outsiders, ...[...ours].sort((a, b) => rank(a) - rank(b))];
      for (const ns of order) await attempt(() => deleteNetns(ns));
      vms.clear();
      await attempt(async () => rmSync(runRoot, { recursive: true, force: true }));
      if (errors.length) throw new AggregateError(errors, `lab ${prefix}: ${errors.length} clean-up step(s) failed`);
    })();
    return destroying;
  };
  const rank = (ns: string) => (ns.startsWith(`${prefix}-vm-`) ? 0 : ns === fabricNetns ? 2 : 1);

  // --- build ----------------------------------------------------------------------------------
  const build = async () => {
    await newNetns(fabricNetns);
    await ip(fabricNetns, ['link', 'add', FABRIC_BRIDGE, 'mtu', String(FABRIC_MTU), 'type', 'bridge']);
    await ip(fabricNetns, ['link', 'set', FABRIC_BRIDGE, 'up']);
    for (const h of hosts.values()) {
      mkdirSync(h.runDir, { recursive: true, mode: 0o700 });
      await newNetns(h.netns);
      const nics: [string, string][] = [['eth0', `u${h.index}`]];
      if (provider) nics.push(['eth1', `p${h.index}`]);
      for (const [nic, port] of nics) {
        await createVethPair({ ns: h.netns, name: nic, peerNs: fabricNetns, peerName: port, mtu: FABRIC_MTU, up: false });
        await ip(fabricNetns, ['link', 'set', port, 'master', FABRIC_BRIDGE, 'up']);
        // PITFALL 3: the kernel still sees frames on NICs that OVS owns; keep it from answering ARP or talking IPv6.
        await ip(h.netns, ['link', 'set', nic, 'arp', 'off']);
        await run('ip', ['netns', 'exec', h.netns, 'sysctl', '-qw', `net.ipv6.conf.${nic}.disable_ipv6=1`]);
        await ip(h.netns, ['link', 'set', nic, 'up']);
      }
    }
  };

  // --- operations -----------------------------------------------------------------------------
  const attachUnderlay = (name: string, o: { timeoutMs?: number } = {}) =>
    attachHostUnderlay(getHost(name), [...hosts.values()], provider, o.timeoutMs ?? 30_000);

  const plug = async (hostName: string, p: PlugOptions): Promise<LabVm> => {
    if (destroyed) throw new Error('lab: destroyed');
    const h = getHost(hostName);
    if (vms.has(p.name)) throw new Error(`lab: a VM named '${p.name}' is plugged already`);
    const sw = switchOf(h);
    const { name, ...spec } = p;
    const plugged = await plugVm(sw, { ...spec, netns: `${prefix}-vm-${name}` });
    namespaces.push(plugged.netns);
    const vm: LabVm = {
      name,
      host: h.name,
      netns: plugged.netns,
      portId: p.portId,
      mac: plugged.mac,
      ip: p.ip,
      tap: plugged.tap,
      exec: (argv, o) => execIn(plugged.netns, argv, o),
      spawn: (argv, o) => track(plugged.netns, argv, o),
      ofport: () => ofportOf(sw, plugged.tap),
    };
    vms.set(name, vm);
    return vm;
  };

  const unplug = async (v: LabVm | string) => {
    const vm = typeof v === 'string' ? vms.get(v) : v;
    if (!vm) throw new Error(`lab: no VM '${String(v)}'`);
    await unplugVm(switchOf(getHost(vm.host)), vm);
    const i = namespaces.indexOf(vm.netns);
    if (i >= 0) namespaces.splice(i, 1);
    vms.delete(vm.name);
  };

  const tcpdump = (where: string | LabVm, args: readonly string[], fn: () => Promise<unknown>): Promise<string> => {
    if (typeof where !== 'string') return captureIn(where.netns, 'eth0', args, fn);
    if (where === 'fabric') return captureIn(fabricNetns, FABRIC_BRIDGE, args, fn);
    const v = vms.get(where);
    return captureIn(v ? v.netns : getHost(where).netns, 'eth0', args, fn);
  };

  return {
    prefix,
    hosts: [...d.hosts],
    provider,
    fabricNetns,
    underlayCidr,
    runRoot,
    host: getHost,
    vms: () => [...vms.values()],
    attachUnderlay,
    plug,
    unplug,
    tcpdump,
    namespaces: () => listNetns(`${prefix}-`),
    describe: () => ({ prefix, hosts: [...d.hosts], provider, runRoot }),
    destroy,
    build,
  };
}

/** `ovs-ofctl -O OpenFlow13 add-flows` on a host's bridge from a list of flow lines. */
export async function addFlows(h: LabHost, bridge: string, flows: readonly string[]): Promise<void> {
  await runOut('ovs-ofctl', ['-O', 'OpenFlow13', 'add-flows', `unix:${h.ovs.mgmtSocket(bridge)}`, '-'], { input: `${flows.join('\n')}\n` });
}
