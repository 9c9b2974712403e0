import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { authenticatorFor } from '../../../controller/auth/index.ts';
import { adoptSharedTokens } from '../../../controller/auth/shared-tokens.ts';
import { ensureTokens } from '../../../controller/auth/static-tokens.ts';
import { ConfigError, testConfig, type Config } from '../../../controller/config.ts';
import { MemorySharedState } from '../../../controller/store/shared-state.ts';

// Replicas agreeing on their tokens, with one MemorySharedState standing for the etcd one (the
// same contract; the real thing runs in test/integration/etcd-replica-tokens.test.ts): two data
// folders are two replicas.

let root: string;
let shared: MemorySharedState;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'weft-shared-tokens-'));
  shared = new MemorySharedState();
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const replica = (name: string, overrides: Partial<Config> = {}) => testConfig({ auth: 'token', dataDir: join(root, name), ...overrides });
const read = (config: Config, name: string) => readFileSync(join(config.dataDir, name), 'utf8').trim();
const accepts = (config: Config, token: string) => authenticatorFor(config).authenticate({ 'x-auth-token': token });

describe('adoptSharedTokens', () => {
  it("gives every replica the first one's tokens, written into its own dataDir", async () => {
    const [a, b] = [replica('a'), replica('b')];
    await adoptSharedTokens(a, shared);
    await adoptSharedTokens(b, shared);
    for (const name of ['tokens.json', 'admin-token', 'agent-token']) expect(read(b, name), name).toBe(read(a, name));
    await expect(accepts(b, read(a, 'admin-token'))).resolves.toMatchObject({ isAdmin: true });
    await expect(accepts(a, read(b, 'agent-token'))).resolves.toMatchObject({ isAgent: true });
    await adoptSharedTokens(a, shared); // a restart changes nothing
    expect(read(a, 'admin-token')).toBe(read(b, 'admin-token'));
  });

  it("offers a lone controller's existing tokens, so that it keeps them as the first replica", async () => {
    const a = replica('a');
    const before = ensureTokens(a);
    const admin = read(a, 'admin-token');
    await adoptSharedTokens(a, shared);
    const b = replica('b');
    await adoptSharedTokens(b, shared);
    expect(ensureTokens(b)).toEqual(before);
    expect(read(b, 'admin-token')).toBe(admin);
  });

  it('refuses a dataDir whose tokens differ from the shared ones and leaves its files alone', async () => {
    await adoptSharedTokens(replica('a'), shared);
    const b = replica('b');
    ensureTokens(b);
    const admin = read(b, 'admin-token');
    const err = await adoptSharedTokens(b, shared).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(join(b.dataDir, 'tokens.json'));
    expect((err as Error).message).not.toContain(admin);
    expect(read(b, 'admin-token')).toBe(admin);
  });

  it('shares nothing for a configured tokens file; a configured agent token is the agent token', async () => {
    const file = join(root, 'etc', 'tokens.json');
    await adoptSharedTokens(replica('a', { tokensFile: file }), shared);
    expect(await shared.get('auth/tokens')).toBeUndefined();
    expect(existsSync(join(root, 'a', 'tokens.json'))).toBe(false);

    const agentToken = 'configured-agent-'.padEnd(40, 'x');
    const [b, c] = [replica('b'), replica('c', { agentToken })];
    await adoptSharedTokens(b, shared);
    await adoptSharedTokens(c, shared);
    expect(read(c, 'agent-token')).toBe(agentToken);
    await expect(accepts(c, agentToken)).resolves.toMatchObject({ isAgent: true });
    await expect(accepts(c, read(b, 'admin-token'))).resolves.toMatchObject({ isAdmin: true });
  });

  it("shares keystone mode's agent token unless one is configured; noauth shares nothing", async () => {
    const keystone = { auth: 'keystone' as const, keystone: { url: 'http://keystone.invalid/v3', username: 'u', password: 'p', project: 'service' } } as Partial<Config>;
    const [a, b] = [replica('a', keystone), replica('b', keystone)];
    await adoptSharedTokens(a, shared);
    await adoptSharedTokens(b, shared);
    expect(read(b, 'agent-token')).toBe(read(a, 'agent-token'));

    const c = replica('c', keystone);
    mkdirSync(c.dataDir);
    writeFileSync(join(c.dataDir, 'agent-token'), `${'other'.padEnd(48, '0')}\n`);
    await expect(adoptSharedTokens(c, shared)).rejects.toThrow(ConfigError);

    const d = replica('d', { ...keystone, agentToken: 'x'.repeat(32) });
    await adoptSharedTokens(d, shared);
    expect(existsSync(d.dataDir)).toBe(false);
    const e = replica('e', { auth: 'noauth' });
    await adoptSharedTokens(e, shared);
    expect(existsSync(e.dataDir)).toBe(false);
  });
});
