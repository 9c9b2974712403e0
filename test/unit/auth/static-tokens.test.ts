import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../../controller/app.ts';
import { authenticatorFor } from '../../../controller/auth/index.ts';
import { ensureTokens, staticTokens } from '../../../controller/auth/static-tokens.ts';
import { ConfigError, loadConfig, testConfig, type Config } from '../../../controller/config.ts';
import { openStore } from '../../../controller/store/open.ts';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'weft-tokens-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const read = (name: string) => readFileSync(join(dir, name), 'utf8').trim();
const mode = (name: string) => statSync(join(dir, name)).mode & 0o777;

describe('ensureTokens', () => {
  it('creates tokens.json and admin-token (0600) on first start and reuses them; no shared agent token', () => {
    const first = ensureTokens({ dataDir: dir });
    for (const f of ['tokens.json', 'admin-token']) expect(mode(f), f).toBe(0o600);
    expect(existsSync(join(dir, 'agent-token'))).toBe(false);
    const admin = read('admin-token');
    expect(admin).toMatch(/^[0-9a-f]{48}$/);
    expect(Object.keys(first.tokens)).toEqual([admin]);
    expect(first.tokens[admin]).toMatchObject({ roles: ['admin', 'member'] });
    expect(first.tokens[admin].project_id).toMatch(/^[0-9a-f]{32}$/);

    const second = ensureTokens({ dataDir: dir });
    expect(second).toEqual(first);
    expect(read('admin-token')).toBe(admin);
  });

  it('uses a configured tokens file', () => {
    const file = join(dir, 'etc', 'tokens.json');
    const tokens = ensureTokens({ dataDir: dir, tokensFile: file });
    expect(mode('etc/tokens.json')).toBe(0o600);
    expect(Object.values(tokens.tokens).map((t) => t.roles)).toEqual([['admin', 'member']]);
  });

  it('refuses a configured agentToken (WEFT_AGENT_TOKEN) with a message that says what replaced it', () => {
    expect(() => loadConfig({ WEFT_AGENT_TOKEN: 'x'.repeat(32), WEFT_DATA_DIR: dir })).toThrow(/shared agent token .* is gone: it let its holder act as any host.*weft agent enrol HOST/s);
  });

  it('refuses a broken tokens file with a ConfigError that does not print the tokens', () => {
    writeFileSync(join(dir, 'tokens.json'), '{ not json');
    expect(() => ensureTokens({ dataDir: dir })).toThrow(ConfigError);
    const secret = 'abcdefghijklmnop-secret-1234';
    writeFileSync(join(dir, 'tokens.json'), JSON.stringify({ tokens: { [secret]: { project_id: 'p' } } }));
    let message = '';
    try { ensureTokens({ dataDir: dir }); } catch (err) { message = (err as Error).message; }
    expect(message).toContain('roles');
    expect(message).toContain('<...1234>');
    expect(message).not.toContain(secret);
  });
});

describe('token authentication through the API', () => {
  const member = 'member-token-'.padEnd(40, '0');
  let app: Awaited<ReturnType<typeof buildApp>>;
  let store: ReturnType<typeof openStore>;
  let config: Config;

  beforeEach(async () => {
    config = testConfig({ auth: 'token', dataDir: dir });
    ensureTokens(config);
    const file = JSON.parse(read('tokens.json'));
    file.tokens[member] = { project_id: 'alice-project', roles: ['member'], user_id: 'alice' };
    writeFileSync(join(dir, 'tokens.json'), JSON.stringify(file));
    store = openStore(':memory:');
    app = await buildApp({ config, store, authenticator: authenticatorFor(config) });
  });
  afterEach(async () => { await app.close(); await store.close(); });

  const get = (url: string, token?: string) => app.inject({ method: 'GET', url, headers: token === undefined ? {} : { 'x-auth-token': token } });

  it('answers 401 NeutronError without a token or with a bad one', async () => {
    for (const token of [undefined, '', 'nope', `${read('admin-token')}x`]) {
      const res = await get('/v2.0/networks', token);
      expect(res.statusCode, String(token)).toBe(401);
      expect(JSON.parse(res.body).NeutronError.type).toBe('HTTPUnauthorized');
    }
    // X-Project-Id / X-Roles mean nothing outside noauth.
    const spoof = await app.inject({ method: 'GET', url: '/v2.0/networks', headers: { 'x-project-id': 'admin', 'x-roles': 'admin' } });
    expect(spoof.statusCode).toBe(401);
  });

  it('lets the admin token in and keeps a member token to its project', async () => {
    const admin = read('admin-token');
    expect((await get('/v2.0/networks', admin)).statusCode).toBe(200);
    const post = (token: string, body: unknown) => app.inject({ method: 'POST', url: '/v2.0/networks', headers: { 'x-auth-token': token }, payload: body as object });
    const adminNet = JSON.parse((await post(admin, { network: { name: 'admins' } })).body).network;
    const mine = await post(member, { network: { name: 'mine' } });
    expect(mine.statusCode).toBe(201);
    expect(JSON.parse(mine.body).network.project_id).toBe('alice-project');
    expect(JSON.parse((await get('/v2.0/networks', member)).body).networks.map((n: any) => n.name)).toEqual(['mine']);
    expect((await get(`/v2.0/networks/${adminNet.id}`, member)).statusCode).toBe(404);
    expect(JSON.parse((await get('/v2.0/networks', admin)).body).networks).toHaveLength(2);
    // Members cannot act for another project.
    expect((await post(member, { network: { project_id: adminNet.project_id } })).statusCode).toBe(400);
  });

  it('leaves version discovery open', async () => {
    expect((await get('/')).statusCode).toBe(200);
  });
});

describe('staticTokens', () => {
  it('trims the header, and ignores the retired shared agent token of an older tokens file', async () => {
    const auth = staticTokens({ tokens: {
      ['t'.repeat(16)]: { project_id: 'p', roles: ['Admin'] },
      ['a'.repeat(16)]: { project_id: 'weft-agents', roles: ['weft-agent'], user_id: 'weft-agent' },
    } });
    await expect(auth.authenticate({ 'x-auth-token': ` ${'t'.repeat(16)} ` })).resolves.toMatchObject({ projectId: 'p', isAdmin: true });
    await expect(auth.authenticate({ 'x-auth-token': 'a'.repeat(16) })).rejects.toMatchObject({ status: 401 });
    await expect(auth.authenticate({})).rejects.toMatchObject({ status: 401 });
  });
});
