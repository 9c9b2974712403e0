import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
    for (const name of ['tokens.json', 'admin-token']) expect(read(b, name), name).toBe(read(a, name));
    expect(existsSync(join(a.dataDir, 'agent-token'))).toBe(false);
    await expect(accepts(b, read(a, 'admin-token'))).resolves.toMatchObject({ isAdmin: true });
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

  it('shares nothing for a configured tokens file', async () => {
    const file = join(root, 'etc', 'tokens.json');
    await adoptSharedTokens(replica('a', { tokensFile: file }), shared);
    expect(await shared.get('auth/tokens')).toBeUndefined();
    expect(existsSync(join(root, 'a', 'tokens.json'))).toBe(false);
  });

  it('takes tokens an older replica shared with its agent token, leaving that token out', async () => {
    const older = ensureTokens(replica('old'));
    const adminToken = Object.keys(older.tokens)[0];
    await shared.putIfAbsent('auth/tokens', JSON.stringify({ file: older, adminToken, agentToken: 'a'.repeat(48) }));
    const b = replica('b');
    await adoptSharedTokens(b, shared);
    expect(read(b, 'admin-token')).toBe(adminToken);
    expect(existsSync(join(b.dataDir, 'agent-token'))).toBe(false);
  });

  it('shares nothing in keystone and noauth modes', async () => {
    const keystone = { auth: 'keystone' as const, keystone: { url: 'http://keystone.invalid/v3', username: 'u', password: 'p', project: 'service' } } as Partial<Config>;
    for (const config of [replica('a', keystone), replica('e', { auth: 'noauth' })]) {
      await adoptSharedTokens(config, shared);
      expect(existsSync(config.dataDir)).toBe(false);
    }
  });
});
