// NftablesClient (agent/l3/nftables-client.ts): one helper process (libnftables) for several
// namespaces, with nft's errors, transactions, order, and a new helper when the old one dies.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NftablesClient, NftablesError } from '../../agent/l3/nftables-client.ts';
import { createNetns, deleteNetns, execInNetns } from '../../agent/host/netns.ts';
import { run } from '../../agent/host/exec.ts';

const TAG = randomBytes(3).toString('hex');
const NS = `nft${TAG}`;
const OTHER = `nfu${TAG}`;
let nft: NftablesClient;

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
    nft.forget(`gone${TAG}`);
  });

  it('keeps order across concurrent callers, and starts a new helper if the old one dies', async () => {
    await Promise.all([1, 2, 3, 4, 5].map((i) => nft.run(NS, `add element ip t1 s { 192.0.2.${10 + i} }`)));
    const pid = nft.pid;
    expect(pid).toBeTruthy();
    process.kill(pid!, 'SIGKILL');
    for (let i = 0; i < 100 && nft.pid === pid; i++) await new Promise((r) => setTimeout(r, 10));
    expect(nft.pid).toBeUndefined();
    await nft.run(NS, 'add element ip t1 s { 192.0.2.99 }');
    expect(nft.pid).toBeTruthy();
    const out = await listed();
    for (const i of [11, 12, 13, 14, 15, 99]) expect(out).toContain(`192.0.2.${i}`);
  });

  it('fails what is pending when the helper dies', async () => {
    const pending = nft.run(NS, 'add element ip t1 s { 192.0.2.50 }');
    const pid = nft.pid;
    process.kill(pid!, 'SIGKILL');
    // Answered before the kill, or failed by it: never left hanging.
    await Promise.race([pending.catch(() => undefined), new Promise((_, no) => setTimeout(() => no(new Error('hangs')), 5000))]);
    // The next test starts with the death seen (a request written to a dying helper fails with it).
    for (let i = 0; i < 100 && nft.pid === pid; i++) await new Promise((r) => setTimeout(r, 10));
  });

  it('forgets a namespace (it can then be deleted) and stops with the last one', async () => {
    await nft.run(OTHER, 'add table ip t8');
    nft.forget(OTHER);
    expect(nft.pid).toBeTruthy();
    await nft.run(NS, 'add element ip t1 s { 192.0.2.100 }');
    nft.forget(NS);
    expect(nft.pid).toBeUndefined();
    await nft.run(NS, 'add element ip t1 s { 192.0.2.101 }'); // a new helper
    expect(await listed()).toContain('192.0.2.101');
  });
});
