// Makes sure the Open vSwitch binaries are present. When they are missing and we are root, installs
// Debian's openvswitch-switch with apt-get. We never want the distribution's service: Weft runs its own
// daemons with private paths. A temporary policy-rc.d (exit 101) asks invoke-rc.d not to start it; if a
// system instance was started anyway, it is left alone (we never touch the default paths).
import { accessSync, constants, existsSync, unlinkSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { run, type RunOptions, type RunResult } from './exec.ts';
import { VSWITCH_SCHEMA } from './local-ovs.ts';

export const OVS_BINARIES = ['ovsdb-tool', 'ovsdb-server', 'ovs-vswitchd', 'ovs-vsctl', 'ovs-ofctl', 'ovs-appctl'] as const;
const POLICY_RC_D = '/usr/sbin/policy-rc.d';

export interface EnsureOvsOptions {
  /** Where progress lines go (default console.log). */
  log?: (line: string) => void;
  /** Command runner (injectable for tests). */
  runner?: (cmd: string, args: readonly string[], opts?: RunOptions) => Promise<RunResult>;
  /** Override the root check (tests). */
  isRoot?: boolean;
  /** Override the binary lookup (tests): returns the names that are missing. */
  findMissing?: () => string[];
}

export interface EnsureOvsResult {
  /** True when this call installed the package. */
  installed: boolean;
  /** What was missing before the call. */
  missing: string[];
}

/** Searches PATH plus the sbin folders (ovsdb-server and ovs-vswitchd live in /usr/sbin). */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export function missingOvsPieces(): string[] {
  const missing: string[] = OVS_BINARIES.filter((b) => !findExecutable(b));
  if (!existsSync(VSWITCH_SCHEMA)) missing.push(VSWITCH_SCHEMA);
  return missing;
}

export async function ensureOpenvswitchInstalled(opts: EnsureOvsOptions = {}): Promise<EnsureOvsResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const runner = opts.runner ?? run;
  const missing = (opts.findMissing ?? missingOvsPieces)();
  if (missing.length === 0) return { installed: false, missing };
  const isRoot = opts.isRoot ?? process.getuid?.() === 0;
  if (!isRoot) {
    throw new Error(`Open vSwitch is not installed (missing: ${missing.join(', ')}); run as root or install openvswitch-switch`);
  }
  log(`weft: Open vSwitch pieces missing (${missing.join(', ')}); installing openvswitch-switch with apt-get`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  const known = await runner('apt-cache', ['show', 'openvswitch-switch'], { env, allowFail: true, timeoutMs: 60_000 });
  if (known.code !== 0 || !known.stdout.trim()) {
    log('weft: apt-get update');
    await runner('apt-get', ['update'], { env, timeoutMs: 600_000 });
  }
  // Keep the Debian service from starting during the install, unless a policy is already in place.
  let policyWritten = false;
  if (!opts.runner && !existsSync(POLICY_RC_D)) {
    writeFileSync(POLICY_RC_D, '#!/bin/sh\n# written by weft during apt-get install; removed afterwards\nexit 101\n', { mode: 0o755 });
    policyWritten = true;
  }
  try {
    log('weft: apt-get install -y openvswitch-switch (the system service is not started by us)');
    await runner('apt-get', ['install', '-y', '--no-install-recommends', 'openvswitch-switch'], { env, timeoutMs: 900_000 });
  } finally {
    if (policyWritten) {
      try {
        unlinkSync(POLICY_RC_D);
      } catch {
        /* already gone */
      }
    }
  }
  const still = (opts.findMissing ?? missingOvsPieces)();
  if (still.length) throw new Error(`openvswitch-switch installed but still missing: ${still.join(', ')}`);
  log('weft: Open vSwitch installed');
  return { installed: true, missing };
}

/** The other tools an agent with routers uses: command (or absolute path of a file) -> Debian package. */
export const AGENT_TOOLS: Readonly<Record<string, string>> = {
  ip: 'iproute2',
  iptables: 'iptables',
  nft: 'nftables', // and with it libnftables1, which the agent calls in process (l3/nftables-client.ts)
  conntrack: 'conntrack',
  busybox: 'busybox', // arping for gratuitous ARPs, udhcpc in namespace VMs
  python3: 'python3', // gratuitous ARPs for many addresses at once (l3/garp.py)
};

const isPresent = (what: string): boolean => (what.startsWith('/') ? existsSync(what) : findExecutable(what) !== undefined);

/** Installs the Debian packages of missing commands with apt-get (root only), saying so. */
export async function ensureCommandsInstalled(tools: Readonly<Record<string, string>>, opts: EnsureOvsOptions = {}): Promise<string[]> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const runner = opts.runner ?? run;
  const packages = [...new Set(Object.entries(tools).filter(([what]) => !isPresent(what)).map(([, pkg]) => pkg))];
  if (packages.length === 0) return [];
  if (!(opts.isRoot ?? process.getuid?.() === 0)) throw new Error(`missing system packages: ${packages.join(', ')} (run as root to install them with apt-get)`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  log(`weft: installing with apt-get: ${packages.join(' ')}`);
  await runner('apt-get', ['update'], { env, timeoutMs: 600_000 });
  await runner('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { env, timeoutMs: 900_000 });
  return packages;
}
