import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../../controller/app.ts';
import { keystoneAuth } from '../../../controller/auth/keystone.ts';
import { testConfig } from '../../../controller/config.ts';
import { openStore } from '../../../controller/store/open.ts';
import type { Store } from '../../../controller/store/types.ts';
import { startFakeKeystone, type FakeKeystone } from '../../helpers/fake-keystone.ts';

const SERVICE = { name: 'weft', password: 'service-secret', project: { id: 'svc-project-id', name: 'service' }, roles: ['service', 'admin'] };
const ALICE = { name: 'alice', password: 'pw-alice', id: 'alice-user-id', project: { id: 'alice-project-id', name: 'alice-project' }, roles: ['member', 'reader'] };
const ROOT = { name: 'root', password: 'pw-root', project: { id: 'admin-project-id', name: 'admin' }, roles: ['admin'] };

let keystone: FakeKeystone;
let store: Store;
let app: FastifyInstance;

async function start(overrides: { password?: string; cacheSeconds?: number; url?: string } = {}) {
  const config = testConfig({
    auth: 'keystone',
    keystone: {
      url: `${overrides.url ?? keystone.url}/v3`,
      username: 'weft',
      password: overrides.password ?? SERVICE.password,
      project: 'service',
      userDomain: 'Default',
      projectDomain: 'Default',
      cacheSeconds: overrides.cacheSeconds ?? 300,
    },
  });
  store = openStore(':memory:');
  app = await buildApp({ config, store, authenticator: keystoneAuth(config) });
}

beforeEach(async () => { keystone = await startFakeKeystone([SERVICE, ALICE, ROOT]); });
afterEach(async () => {
  await app?.close();
  await store?.close();
  await keystone.close();
});

const call = async (method: 'GET' | 'POST', url: string, token?: string, payload?: object) => {
  const res = await app.inject({ method, url, payload, headers: token ? { 'x-auth-token': token } : {} });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
};

describe('keystone authentication', () => {
  it('takes the project and roles from a valid token and caches the validation', async () => {
    await start();
    const token = keystone.issue('alice');
    const created = await call('POST', '/v2.0/networks', token, { network: { name: 'a' } });
    expect(created.status).toBe(201);
    expect(created.body.network.project_id).toBe('alice-project-id');
    expect(keystone.calls).toEqual({ login: 1, validate: 1 });

    const listed = await call('GET', '/v2.0/networks', token);
    expect(listed.status).toBe(200);
    expect(listed.body.networks).toHaveLength(1);
    expect(keystone.calls).toEqual({ login: 1, validate: 1 }); // served from the cache

    // A member role: provider attributes stay hidden, admin-only actions are refused.
    expect(listed.body.networks[0]['provider:network_type']).toBeUndefined();
    expect((await call('POST', '/v2.0/networks', token, { network: { shared: true } })).status).toBe(403);
  });

  it('recognises the admin role', async () => {
    await start();
    await call('POST', '/v2.0/networks', keystone.issue('alice'), { network: { name: 'a' } });
    const root = keystone.issue('root');
    const all = await call('GET', '/v2.0/networks', root);
    expect(all.status).toBe(200);
    expect(all.body.networks[0]).toMatchObject({ project_id: 'alice-project-id', 'provider:network_type': 'vxlan' });
    expect(keystone.calls.login).toBe(1); // one service login shared by both callers
  });

  it('answers 401 for missing, unknown, revoked and unscoped tokens', async () => {
    await start();
    expect((await call('GET', '/v2.0/networks')).status).toBe(401);
    expect(keystone.calls.validate).toBe(0); // no token, no Keystone round trip
    const unknown = await call('GET', '/v2.0/networks', 'gAAAA-not-a-token');
    expect(unknown.status).toBe(401);
    expect(unknown.body.NeutronError.type).toBe('HTTPUnauthorized');
    const revoked = keystone.issue('alice');
    keystone.revoke(revoked);
    expect((await call('GET', '/v2.0/networks', revoked)).status).toBe(401);
    expect((await call('GET', '/v2.0/networks', keystone.issue('alice', { unscoped: true }))).status).toBe(401);
  });

  it('stops trusting a cached token when it expires', async () => {
    await start();
    const token = keystone.issue('alice', { ttlMs: 300 });
    expect((await call('GET', '/v2.0/networks', token)).status).toBe(200);
    expect((await call('GET', '/v2.0/networks', token)).status).toBe(200);
    expect(keystone.calls.validate).toBe(1);
    await new Promise((r) => setTimeout(r, 350));
    expect((await call('GET', '/v2.0/networks', token)).status).toBe(401);
    expect(keystone.calls.validate).toBe(2);
  });

  it('revalidates every time with cacheSeconds 0', async () => {
    await start({ cacheSeconds: 0 });
    const token = keystone.issue('alice');
    for (let i = 0; i < 3; i++) expect((await call('GET', '/v2.0/networks', token)).status).toBe(200);
    expect(keystone.calls.validate).toBe(3);
  });

  it('logs in again when its own service token is revoked or expires', async () => {
    await start();
    expect((await call('GET', '/v2.0/networks', keystone.issue('alice'))).status).toBe(200);
    expect(keystone.calls.login).toBe(1);
    keystone.revoke(keystone.tokensOf('weft')[0]);
    const res = await call('GET', '/v2.0/networks', keystone.issue('alice'));
    expect(res.status).toBe(200);
    expect(keystone.calls.login).toBe(2);
    expect(keystone.tokensOf('weft')).toHaveLength(2);

    // A short-lived service token is renewed before use rather than failing a caller.
    keystone.setTtl(200);
    keystone.revoke(keystone.tokensOf('weft')[1]);
    expect((await call('GET', '/v2.0/networks', keystone.issue('alice'))).status).toBe(200);
    expect(keystone.calls.login).toBe(3);
    await new Promise((r) => setTimeout(r, 250));
    expect((await call('GET', '/v2.0/networks', keystone.issue('alice'))).status).toBe(200);
    expect(keystone.calls.login).toBe(4);
  });

  it('answers 503, not 500 or 401, when Keystone is down or failing', async () => {
    await start();
    const token = keystone.issue('alice');
    keystone.failWith(500);
    const failing = await call('GET', '/v2.0/networks', token);
    expect(failing.status).toBe(503);
    expect(failing.body.NeutronError.type).toBe('ServiceUnavailable');
    keystone.failWith(null);
    expect((await call('GET', '/v2.0/networks', token)).status).toBe(200); // recovers

    await keystone.close();
    const down = await call('GET', '/v2.0/networks', 'gAAAA-some-other-token');
    expect(down.status).toBe(503);
    expect(down.body.NeutronError.type).toBe('ServiceUnavailable');
    expect((await call('GET', '/v2.0/networks', token)).status).toBe(200); // still cached
    keystone = await startFakeKeystone([SERVICE]); // for afterEach
  });

  it('answers 503 when Keystone refuses the service credentials', async () => {
    await start({ password: 'wrong' });
    const res = await call('GET', '/v2.0/networks', keystone.issue('alice'));
    expect(res.status).toBe(503);
    expect(res.body.NeutronError.message).not.toContain('wrong');
  });

  it('answers 503 when nothing listens at the Keystone URL', async () => {
    const gone = await startFakeKeystone([SERVICE]);
    const url = gone.url;
    await gone.close();
    await start({ url });
    const res = await call('GET', '/v2.0/networks', 'gAAAA-token');
    expect(res.status).toBe(503);
    expect(res.body.NeutronError.message).toContain('ECONNREFUSED');
  });
});

describe('keystone mode and the agents', () => {
  it('writes no agent token: every token goes to Keystone (agents present their own credentials to the channel)', async () => {
    const { authenticatorFor } = await import('../../../controller/auth/index.ts');
    const { existsSync, mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dataDir = mkdtempSync(join(tmpdir(), 'weft-ks-agent-'));
    try {
      const config = testConfig({ auth: 'keystone', dataDir, keystone: { url: `${keystone.url}/v3`, username: 'weft', password: SERVICE.password, project: 'service', userDomain: 'Default', projectDomain: 'Default', cacheSeconds: 300 } });
      const auth = authenticatorFor(config);
      expect(existsSync(join(dataDir, 'agent-token'))).toBe(false);
      const before = keystone.calls.validate;
      const alice = await auth.authenticate({ 'x-auth-token': keystone.issue('alice') });
      expect([alice.projectId, alice.isAdmin]).toEqual(['alice-project-id', false]);
      expect(keystone.calls.validate).toBe(before + 1);
      // A host's credential is no API token: Keystone does not know it.
      await expect(auth.authenticate({ 'x-auth-token': 'weft-host-'.padEnd(50, 'x') })).rejects.toMatchObject({ status: 401 });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
