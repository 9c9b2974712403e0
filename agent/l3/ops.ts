// The L3 manager's side effects (namespace, iptables, nft, conntrack, gratuitous ARP), behind one
// interface so that the manager's logic is tested with a fake.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../host/exec.ts';
import { checkNetnsName } from '../host/netns.ts';
import type { OvsdbConnection } from '../ovsdb/connection.ts';
import {
  deleteRouterNamespace,
  ensureRouterNamespace,
  listRouterNamespaces,
  setGatewayAddresses,
  setRouterLegs,
  type LegChange,
  type LegState,
  type RouterNamespaceOptions,
  type RouterSpec,
} from './namespace.ts';
import { NftablesClient } from './nftables-client.ts';
import type { NftSetUpdate } from './nft-set-batch.ts';
import { NftSetWriter } from './nft-set-writer.ts';
import { applyRouterRules } from './rules-apply.ts';

/** The side effects, replaceable in tests. */
export interface L3Ops {
  /** Builds the namespace; its legs end up `legs` (default 'active'). */
  ensure(spec: RouterSpec, legs?: LegState): Promise<void>;
  /** A built router's gateway leg gets the spec's addresses, nothing else changes (a floating IP that appears or goes). */
  setGatewayAddresses?(spec: RouterSpec): Promise<void>;
  /** Brings the legs of built routers up or down (HA: standby/fenced <-> active), nothing else; all at once. */
  setLegs?(changes: readonly LegChange[]): Promise<void>;
  applyRules(netns: string, text: string): Promise<void>;
  /** One nft command line (one transaction) in the namespace. */
  nft(netns: string, line: string): Promise<void>;
  /** Changes the contents of sets and maps of table `ip <table>` in the namespace, in one transaction (the same as nft commands, faster). */
  nftSets?(netns: string, table: string, updates: readonly NftSetUpdate[]): Promise<void>;
  /** Lets go of what nft() and nftSets() keep for the namespace (before the namespace goes away). */
  releaseNft(netns: string): void;
  remove(routerId: string): Promise<void>;
  /** Router ids that have a namespace on this host. */
  list(): Promise<string[]>;
  /** `conntrack <args>` inside the namespace; exit code 1 (nothing matched) is not an error. */
  conntrack(netns: string, args: string[]): Promise<void>;
  /** Gratuitous ARPs (`count`, default 1, a second apart) for `ip` out of `iface` in the namespace, so the outside learns where it is now. */
  announce(netns: string, iface: string, ip: string, count?: number): Promise<void>;
  /** The same for many addresses at once, from one process (a failover's promotions; garp.py). */
  announceMany?(items: readonly Announcement[], count: number): Promise<void>;
}

/** An address to announce: `ip` out of `iface` in namespace `netns`. */
export interface Announcement { netns: string; iface: string; ip: string }

const GARP = join(dirname(fileURLToPath(import.meta.url)), 'garp.py');
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export function defaultL3Ops(ovsdb: OvsdbConnection | undefined, nsOpts: RouterNamespaceOptions = {}): L3Ops {
  const conn = (): OvsdbConnection => {
    if (!ovsdb) throw new Error('L3Manager: no OVSDB connection');
    return ovsdb;
  };
  const nftables = new NftablesClient();
  const setWriter = new NftSetWriter();
  return {
    ensure: (spec, legs) => ensureRouterNamespace(conn(), spec, nsOpts, legs),
    setGatewayAddresses: (spec) => setGatewayAddresses(spec, nsOpts),
    setLegs: (changes) => setRouterLegs(changes, nsOpts),
    applyRules: (netns, text) => applyRouterRules(netns, text),
    nft: (netns, line) => nftables.run(netns, line),
    nftSets: (netns, table, updates) => setWriter.update(netns, table, updates),
    releaseNft: (netns) => {
      nftables.forget(netns);
      setWriter.forget(netns);
    },
    remove: (id) => deleteRouterNamespace(conn(), id, nsOpts),
    list: () => listRouterNamespaces({ namespacePrefix: nsOpts.namespacePrefix }),
    conntrack: async (netns, args) => {
      const r = await run('ip', ['netns', 'exec', netns, 'conntrack', ...args], { allowFail: true, timeoutMs: 15_000 });
      if (r.code !== 0 && r.code !== 1) throw new Error(`conntrack ${args.join(' ')} in ${netns}: exit ${r.code}: ${r.stderr.trim()}`);
    },
    announce: async (netns, iface, ip, count = 1) => {
      // busybox arping: -U unsolicited (gratuitous), `count` packets a second apart, then it stops.
      const n = String(count);
      await run('ip', ['netns', 'exec', netns, 'busybox', 'arping', '-U', '-c', n, '-w', n, '-I', iface, '-s', ip, ip], { allowFail: true, timeoutMs: 5000 + count * 1000 });
    },
    announceMany: async (items, count) => {
      if (!items.length) return;
      for (const a of items) checkNetnsName(a.netns);
      const input = items.map((a) => `${a.netns}\t${a.iface}\t${a.ip}\n`).join('');
      const r = await run(PYTHON, [GARP, String(count), '1000'], { input, allowFail: true, timeoutMs: 5000 + count * 1000 });
      if (r.code !== 0) throw new Error(`gratuitous ARPs: ${r.stderr.trim() || `exit ${r.code}`}`);
    },
  };
}

/** `given` (a fake's methods, bound: it may be a class instance) completed with the defaults, made only when needed. */
export function withDefaultOps(given: Partial<L3Ops>, defaults: () => L3Ops): L3Ops {
  let made: L3Ops | undefined;
  const d = (): L3Ops => (made ??= defaults());
  const pick = <K extends keyof L3Ops>(k: K): NonNullable<L3Ops[K]> => {
    const own = given[k] as ((...a: unknown[]) => unknown) | undefined;
    return (own ? own.bind(given) : (...a: unknown[]) => (d()[k] as (...a: unknown[]) => unknown)(...a)) as NonNullable<L3Ops[K]>;
  };
  // A fake that announces one address at a time sees every announcement there.
  const given1 = given.announce?.bind(given);
  const many: L3Ops['announceMany'] = !given.announceMany && given1
    ? async (items, count) => void (await Promise.all(items.map((a) => given1(a.netns, a.iface, a.ip, count))))
    : pick('announceMany');
  // A fake's own nft() sees every nft change: the sets go through it too unless it has its own nftSets.
  const nftSets = given.nftSets || !given.nft ? pick('nftSets') : undefined;
  // Likewise a fake's own ensure() sees every namespace change, the gateway's addresses too.
  const setGatewayAddresses = given.setGatewayAddresses || !given.ensure ? pick('setGatewayAddresses') : undefined;
  return {
    ensure: pick('ensure'), setGatewayAddresses, setLegs: pick('setLegs'), applyRules: pick('applyRules'), nft: pick('nft'), nftSets, releaseNft: pick('releaseNft'),
    remove: pick('remove'), list: pick('list'), conntrack: pick('conntrack'), announce: pick('announce'), announceMany: many,
  };
}
