// NftSession (agent/l3/nft-session.ts): a long-lived `nft -i` in a namespace, with commit
// detection, errors, and a restart when the process dies.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NftSession, NftSessionError } from '../../agent/l3/nft-session.ts';
import { createNetns, deleteNetns, execInNetns } from '../../agent/host/netns.ts';

const NS = `nft${randomBytes(3).toString('hex')}`;
let s: NftSession;

const listed = async (): Promise<string> => (await execInNetns(NS, 'nft', ['list', 'ruleset'])).stdout;

beforeAll(async () => {
  await createNetns(NS);
  s = new NftSession(NS);
});
afterAll(async () => {
  s?.close();
  await deleteNetns(NS).catch(() => undefined);
});

describe('NftSession', () => {
  it('runs one line as one transaction and resolves once it is committed', async () => {
    await s.run('add table ip t1; add set ip t1 s { type ipv4_addr; }; add element ip t1 s { 192.0.2.1 }');
    expect(await listed()).toContain('192.0.2.1');
  });

  it('rejects a failing line with nft\'s error, and none of the line applies', async () => {
    const err = await s.run('add element ip t1 s { 192.0.2.2 }; add element ip t1 nosuchset { 192.0.2.3 }').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NftSessionError);
    expect(String((err as Error).message)).toMatch(/No such file or directory|does not exist/);
    expect(await listed()).not.toContain('192.0.2.2');
    await s.run('add element ip t1 s { 192.0.2.4 }'); // the session goes on
    expect(await listed()).toContain('192.0.2.4');
  });

  it('refuses a line with a newline (a second command would escape the transaction)', async () => {
    await expect(s.run('add table ip t2\nflush ruleset')).rejects.toThrow(/newline/);
  });

  it('keeps order across concurrent callers, and starts a new nft if the old one dies', async () => {
    await Promise.all([1, 2, 3, 4, 5].map((i) => s.run(`add element ip t1 s { 192.0.2.${10 + i} }`)));
    const pid = s.pid;
    expect(s.alive && pid).toBeTruthy();
    process.kill(pid!, 'SIGKILL');
    for (let i = 0; i < 100 && s.alive; i++) await new Promise((r) => setTimeout(r, 10));
    expect(s.alive).toBe(false);
    await s.run('add element ip t1 s { 192.0.2.99 }');
    const out = await listed();
    for (const i of [11, 12, 13, 14, 15, 99]) expect(out).toContain(`192.0.2.${i}`);
  });
});
