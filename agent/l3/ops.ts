// The L3 manager's side effects (namespace, iptables, nft, conntrack, gratuitous ARP), behind one
// interface so that the manager's logic is tested with a fake.
import { run } from '../host/exec.ts';
import type { OvsdbConnection } from '../ovsdb/connection.ts';
import {
  deleteRouterNamespace,
  ensureRouterNamespace,
  listRouterNamespaces,
  type RouterNamespaceOptions,
  type RouterSpec,
} from './namespace.ts';
import { NftablesClient } from './nftables-client.ts';
import { applyRouterRules } from './rules-apply.ts';

/** The side effects, replaceable in tests. */
export interface L3Ops {
  ensure(spec: RouterSpec): Promise<void>;
  applyRules(netns: string, text: string): Promise<void>;
  /** One nft command line (one transaction) in the namespace. */
  nft(netns: string, line: string): Promise<void>;
  /** Lets go of what nft() keeps for the namespace (before the namespace goes away). */
  releaseNft(netns: string): void;
  remove(routerId: string): Promise<void>;
  /** Router ids that have a namespace on this host. */
  list(): Promise<string[]>;
  /** `conntrack <args>` inside the namespace; exit code 1 (nothing matched) is not an error. */
  conntrack(netns: string, args: string[]): Promise<void>;
  /** A gratuitous ARP for `ip` out of `iface` in the namespace, so the outside learns where it is now. */
  announce(netns: string, iface: string, ip: string): Promise<void>;
}

export function defaultL3Ops(ovsdb: OvsdbConnection | undefined, nsOpts: RouterNamespaceOptions = {}): L3Ops {
  const conn = (): OvsdbConnection => {
    if (!ovsdb) throw new Error('L3Manager: no OVSDB connection');
    return ovsdb;
  };
  const nftables = new NftablesClient();
  return {
    ensure: (spec) => ensureRouterNamespace(conn(), spec, nsOpts),
    applyRules: (netns, text) => applyRouterRules(netns, text),
    nft: (netns, line) => nftables.run(netns, line),
    releaseNft: (netns) => nftables.forget(netns),
    remove: (id) => deleteRouterNamespace(conn(), id, nsOpts),
    list: () => listRouterNamespaces({ namespacePrefix: nsOpts.namespacePrefix }),
    conntrack: async (netns, args) => {
      const r = await run('ip', ['netns', 'exec', netns, 'conntrack', ...args], { allowFail: true, timeoutMs: 15_000 });
      if (r.code !== 0 && r.code !== 1) throw new Error(`conntrack ${args.join(' ')} in ${netns}: exit ${r.code}: ${r.stderr.trim()}`);
    },
    announce: async (netns, iface, ip) => {
      // busybox arping: -U unsolicited (gratuitous), one packet, at most one second.
      await run('ip', ['netns', 'exec', netns, 'busybox', 'arping', '-U', '-c', '1', '-w', '1', '-I', iface, '-s', ip, ip], { allowFail: true, timeoutMs: 5000 });
    },
  };
}
