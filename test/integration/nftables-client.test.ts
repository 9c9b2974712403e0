// NftablesClient (agent/l3/nftables-client.ts): libnftables in the test's own process, a context per
// namespace, with nft's errors and transactions, and the calling thread back home after each visit.
import { randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NftablesClient, NftablesError } from '../../agent/l3/nftables-client.ts';
import { createNetns, deleteNetns, execInNetns } from '../../agent/host/netns.ts';
import { run } from '../../agent/host/exec.ts';

const TAG = randomBytes(3).toString('hex');
const NS = `nft${TAG}`;
const OTHER = `nfu${TAG}`;
let nft: NftablesClient;
const homeNs = readlinkSync('/proc/thread-self/ns/net');

const listed = async (ns = NS): Promise<string> => (await execInNetns(ns, 'nft', ['list', 'ruleset'])).stdout;

beforeAll(async () => {
  await createNetns(NS);
  await createNetns(OTHER);
  nft = new NftablesClient();
});
afterAll(async () => {
  nft?.close();
  await deleteNetns(NS).catch(() => undefined);
  await deleteNetns(OTHER).catch(() => undefined);
});

describe('NftablesClient', () => {
  it('runs one line as one transaction in the namespace it names, and only there', async () => {
    await nft.run(NS, 'add table ip t1; add set ip t1 s { type ipv4_addr; }; add element ip t1 s { 192.0.2.1 }');
    await nft.run(OTHER, 'add table ip t9');
    expect(await listed()).toContain('192.0.2.1');
    expect(await listed()).not.toContain('t9');
    expect(await listed(OTHER)).toContain('table ip t9');
    expect((await run('nft', ['list', 'tables'])).stdout).not.toMatch(/\bt1\b|\bt9\b/);
  });

  it("rejects a failing line with nft's error, and none of the line applies", async () => {
    const err = await nft.run(NS, 'add element ip t1 s { 192.0.2.2 }; add element ip t1 nosuchset { 192.0.2.3 }').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NftablesError);
    expect(String((err as Error).message)).toMatch(/No such file or directory|does not exist/);
    expect(await listed()).not.toContain('192.0.2.2');
    await nft.run(NS, 'add element ip t1 s { 192.0.2.4 }'); // it goes on
    expect(await listed()).toContain('192.0.2.4');
  });

  it('refuses a line with a newline or a tab (a second command would escape the transaction), and a bad namespace', async () => {
    await expect(nft.run(NS, 'add table ip t2\nflush ruleset')).rejects.toThrow(/newline/);
    await expect(nft.run(NS, 'add table ip t2\tx')).rejects.toThrow(/tab/);
    await expect(nft.run('../etc', 'add table ip t2')).rejects.toThrow();
    await expect(nft.run(`gone${TAG}`, 'add table ip t2')).rejects.toThrow(/No such file/);
    expect(nft.open).not.toContain(`gone${TAG}`);
  });

  it('keeps order across concurrent callers', async () => {
    await Promise.all([1, 2, 3, 4, 5].map((i) => nft.run(NS, `add element ip t1 s { 192.0.2.${10 + i} }`)));
    const out = await listed();
    for (const i of [11, 12, 13, 14, 15]) expect(out).toContain(`192.0.2.${i}`);
  });

  it('leaves the agent in its own namespace: what it opens afterwards is in the host namespace', async () => {
    await nft.run(NS, 'add table ip t3');
    // A context made now in the host namespace would list the host's tables, not the router's.
    const own = (await run('nft', ['list', 'tables'])).stdout;
    expect(own).not.toContain('table ip t3');
    expect(readlinkSync('/proc/thread-self/ns/net')).toBe(homeNs);
  });

  it('follows a namespace deleted and made again under the same name', async () => {
    await nft.run(OTHER, 'add table ip t5');
    await deleteNetns(OTHER);
    await createNetns(OTHER);
    await nft.run(OTHER, 'add table ip t6');
    expect(await listed(OTHER)).toContain('table ip t6');
  });

  it('forgets a namespace (it can then be deleted), and a forgotten one starts a new context', async () => {
    await nft.run(OTHER, 'add table ip t8');
    expect(nft.open).toContain(OTHER);
    nft.forget(OTHER);
    expect(nft.open).not.toContain(OTHER);
    await nft.run(OTHER, 'add table ip t7');
    expect(await listed(OTHER)).toContain('table ip t7');
    nft.forget(OTHER);
    nft.forget(OTHER); // twice is nothing
  });
});
