import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../../controller/app.ts';
import { authenticatorFor } from '../../../controller/auth/index.ts';
import { ensureTokens, staticTokens } from '../../../controller/auth/static-tokens.ts';
import { ConfigError, testConfig, type Config } from '../../../controller/config.ts';
import { openStore } from '../../../controller/store/open.ts';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'weft-tokens-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const read = (name: string) => readFileSync(join(dir, name), 'utf8').trim();
const mode = (name: string) => statSync(join(dir, name)).mode & 0o777;

describe('ensureTokens', () => {
  it('creates tokens.json, admin-token and agent-token (0600) on first start and reuses them', () => {
    const first = ensureTokens({ dataDir: dir });
    for (const f of ['tokens.json', 'admin-token', 'agent-token']) expect(mode(f), f).toBe(0o600);
    const admin = read('admin-token');
    const agent = read('agent-token');
    expect(admin).toMatch(/^[0-9a-f]{48}$/);
    expect(agent).not.toBe(admin);
    expect(first.tokens[admin]).toMatchObject({ roles: ['admin', 'member'] });
    expect(first.tokens[admin].project_id).toMatch(/^[0-9a-f]{32}$/);
    expect(first.tokens[agent]).toMatchObject({ project_id: 'weft-agents', roles: ['weft-agent'] });

    const second = ensureTokens({ dataDir: dir });
    expect(second).toEqual(first);
    expect(read('admin-token')).toBe(admin);
    expect(read('agent-token')).toBe(agent);
  });

  it('uses a configured agent token and a configured tokens file', () => {
    const file = join(dir, 'etc', 'tokens.json');
    const agentToken = 'agent-'.padEnd(32, 'x');
    const tokens = ensureTokens({ dataDir: dir, tokensFile: file, agentToken });
    expect(mode('etc/tokens.json')).toBe(0o600);
    expect(tokens.tokens[agentToken].roles).toEqual(['weft-agent']);
    expect(read('agent-token')).toBe(agentToken);
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
  it('trims the header and recognises the agent token', async () => {
    const auth = staticTokens({ tokens: { ['t'.repeat(16)]: { project_id: 'p', roles: ['Admin'] } } }, 'a'.repeat(16));
    await expect(auth.authenticate({ 'x-auth-token': ` ${'t'.repeat(16)} ` })).resolves.toMatchObject({ projectId: 'p', isAdmin: true });
    await expect(auth.authenticate({ 'x-auth-token': 'a'.repeat(16) })).resolves.toMatchObject({ isAgent: true, isAdmin: false });
    await expect(auth.authenticate({})).rejects.toMatchObject({ status: 401 });
  });
});
