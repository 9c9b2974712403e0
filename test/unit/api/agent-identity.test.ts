import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AGENT_CREDENTIAL_KIND, credentialBySecret, secretHash } from '../../../controller/auth/agent-credentials.ts';
import { ADMIN, ALICE, testApi, type TestApi } from '../../helpers/api.ts';

// Agent identity through the API: an admin's one-time enrolment token for a host, redeemed once by
// that host's agent for its credential; listing and revoking credentials. (The channel's side, a
// credential for one host refused for another, is in test/unit/sync/agent-identity.test.ts.)

let api: TestApi;
beforeEach(async () => { api = await testApi(); });
afterEach(async () => api.close());

const enrolment = async (host: string, extra: Record<string, unknown> = {}) => {
  const res = await api.call(ADMIN, 'POST', '/v2.0/weft/agent-enrolments', { agent_enrolment: { host, ...extra } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.agent_enrolment as { id: string; host: string; token: string; expires_at: string; used: boolean };
};
/** The agent's redemption: no API token, the enrolment token in X-Auth-Token. */
const redeem = (token: string, host: string) => api.app.inject({
  method: 'POST', url: '/v2.0/weft/enrol', headers: { 'x-auth-token': token }, payload: { agent_credential: { host } },
}).then((r) => ({ status: r.statusCode, body: r.json() }));

describe('agent enrolment', () => {
  it('works once: the token gives the host its credential, a second use is refused with a clear error', async () => {
    const e = await enrolment('compute-1');
    expect(e).toMatchObject({ host: 'compute-1', used: false });
    expect(e.token).toMatch(/^weft-enrol-[A-Za-z0-9_-]{43}$/);
    const first = await redeem(e.token, 'compute-1');
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const cred = first.body.agent_credential;
    expect(cred).toMatchObject({ host: 'compute-1', enrolment_id: e.id });
    expect(cred.credential).toMatch(/^weft-host-[A-Za-z0-9_-]{43}$/);
    expect(credentialBySecret(api.store.view(), cred.credential)?.host).toBe('compute-1');

    const second = await redeem(e.token, 'compute-1');
    expect(second.status).toBe(409);
    expect(second.body.NeutronError).toMatchObject({ type: 'AgentEnrolmentUsed' });
    expect(second.body.NeutronError.message).toMatch(/^The enrolment token for host compute-1 was already used \(at .+\); an enrolment token works once/);
    // The first credential still stands; the refused use issued nothing.
    expect(credentialBySecret(api.store.view(), cred.credential)?.host).toBe('compute-1');
    expect(api.store.view().list(AGENT_CREDENTIAL_KIND)).toHaveLength(1);

    const listed = (await api.call(ADMIN, 'GET', '/v2.0/weft/agent-enrolments')).body.agent_enrolments;
    expect(listed).toEqual([expect.objectContaining({ id: e.id, host: 'compute-1', used: true })]);
    expect(JSON.stringify(listed)).not.toContain(e.token);
  });

  it('stores only hashes of the secrets', async () => {
    const e = await enrolment('h');
    const { credential } = (await redeem(e.token, 'h')).body.agent_credential;
    const stored = JSON.stringify([...api.store.view().list('agent_enrolment'), ...api.store.view().list(AGENT_CREDENTIAL_KIND)]);
    expect(stored).not.toContain(e.token);
    expect(stored).not.toContain(credential);
    expect(stored).toContain(secretHash(credential));
  });

  it('refuses a token for another host, an unknown, expired or withdrawn token, and no token', async () => {
    const e = await enrolment('host-a');
    const other = await redeem(e.token, 'host-b');
    expect([other.status, other.body.NeutronError.type]).toEqual([403, 'AgentEnrolmentHostMismatch']);
    expect(other.body.NeutronError.message).toBe('The enrolment token for host host-a cannot enrol host host-b.');
    // Refused for host-b, it is still good for host-a.
    expect((await redeem(e.token, 'host-a')).status).toBe(201);

    const garbage = await redeem('weft-enrol-nonsense', 'host-a');
    expect([garbage.status, garbage.body.NeutronError.type]).toEqual([401, 'AgentEnrolmentInvalid']);
    const none = await api.app.inject({ method: 'POST', url: '/v2.0/weft/enrol', payload: { agent_credential: { host: 'host-a' } } });
    expect(none.statusCode).toBe(401);

    const short = await enrolment('host-c', { expires_in: 1 });
    await api.store.transact((tx) => {
      const doc = tx.get('agent_enrolment', short.id)!;
      tx.put('agent_enrolment', { ...doc, expires_at: '2000-01-01T00:00:00Z' });
    });
    const expired = await redeem(short.token, 'host-c');
    expect([expired.status, expired.body.NeutronError.message]).toEqual([401, 'The enrolment token for host host-c expired at 2000-01-01T00:00:00Z.']);

    const withdrawn = await enrolment('host-d');
    expect((await api.call(ADMIN, 'DELETE', `/v2.0/weft/agent-enrolments/${withdrawn.id}`)).status).toBe(204);
    expect((await redeem(withdrawn.token, 'host-d')).status).toBe(401);
    expect((await api.call(ADMIN, 'DELETE', `/v2.0/weft/agent-enrolments/${withdrawn.id}`)).status).toBe(404);
  });

  it('a new enrolment of a host replaces its credential', async () => {
    const old = (await redeem((await enrolment('h')).token, 'h')).body.agent_credential.credential;
    const fresh = (await redeem((await enrolment('h')).token, 'h')).body.agent_credential.credential;
    expect(credentialBySecret(api.store.view(), old)).toBeUndefined();
    expect(credentialBySecret(api.store.view(), fresh)?.host).toBe('h');
  });

  it('only admins make and see enrolments and credentials; bodies are checked', async () => {
    const rev = api.store.revision;
    for (const [method, url, body] of [
      ['POST', '/v2.0/weft/agent-enrolments', { agent_enrolment: { host: 'h' } }],
      ['GET', '/v2.0/weft/agent-enrolments', undefined],
      ['GET', '/v2.0/weft/agent-credentials', undefined],
      ['DELETE', '/v2.0/weft/agent-credentials/h', undefined],
    ] as const) {
      const res = await api.call(ALICE, method, url, body);
      expect(res.status, `${method} ${url}`).toBe(403);
      expect(res.body.NeutronError.type).toBe('PolicyNotAuthorized');
    }
    for (const body of [{ agent_enrolment: { host: '' } }, { agent_enrolment: { host: 'h', colour: 1 } }, { agent_enrolment: { host: 'h', expires_in: 0 } }, {}]) {
      expect((await api.call(ADMIN, 'POST', '/v2.0/weft/agent-enrolments', body)).status, JSON.stringify(body)).toBe(400);
    }
    expect(api.store.revision).toBe(rev);
  });
});

describe('agent credentials', () => {
  it('lists the hosts holding one (never a secret or hash) and revokes by host', async () => {
    const e = await enrolment('h1');
    const { credential } = (await redeem(e.token, 'h1')).body.agent_credential;
    const list = await api.call(ADMIN, 'GET', '/v2.0/weft/agent-credentials');
    expect(list.body.agent_credentials).toEqual([{ id: expect.any(String), host: 'h1', created_at: expect.any(String), enrolment_id: e.id }]);
    expect(JSON.stringify(list.body)).not.toContain(secretHash(credential));
    expect((await api.call(ADMIN, 'DELETE', '/v2.0/weft/agent-credentials/h1')).status).toBe(204);
    expect(credentialBySecret(api.store.view(), credential)).toBeUndefined();
    const again = await api.call(ADMIN, 'DELETE', '/v2.0/weft/agent-credentials/h1');
    expect([again.status, again.body.NeutronError.type]).toEqual([404, 'AgentCredentialNotFound']);
  });
});
