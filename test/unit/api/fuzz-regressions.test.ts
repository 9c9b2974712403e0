import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALICE, BOB, testApi, type TestApi } from '../../helpers/api.ts';
import { makeFixtures } from './fuzz-resources.ts';
import { storeDump } from './fuzz-support.ts';

// Fixed examples of what the fuzzer found, so they stay fixed whatever the random seed.

let api: TestApi;
beforeEach(async () => {
  api = await testApi();
  await makeFixtures(api);
});
afterEach(async () => api.close());

const neutronError = (body: any) => expect(body.NeutronError).toEqual({ type: expect.any(String), message: expect.any(String), detail: expect.any(String) });

describe('fuzz regressions', () => {
  it('filters named after Object.prototype members are invalid filters, not 500s', async () => {
    for (const key of ['__proto__', 'toString', 'hasOwnProperty', 'constructor']) {
      const res = await api.call(ALICE, 'GET', `/v2.0/ports?${key}=device_id`);
      expect(res.status, key).toBe(400);
      expect(res.body.NeutronError.message).toContain(key);
    }
  });

  it('fields= never copies inherited members', async () => {
    const res = await api.call(ALICE, 'GET', '/v2.0/networks?fields=constructor&fields=__proto__&fields=id');
    expect(res.status).toBe(200);
    for (const n of res.body.networks) expect(Object.keys(n)).toEqual(['id']);
  });

  it('an over-long id is a 404 NeutronError, not fastify\'s own 414 body', async () => {
    const res = await api.call(ALICE, 'GET', `/v2.0/networks/${'x'.repeat(300)}`);
    expect(res.status).toBe(404);
    neutronError(res.body);
  });

  it('a malformed %-escape in the path is a 400 NeutronError', async () => {
    const res = await api.call(ALICE, 'GET', '/v2.0/networks/%E0%A4%A');
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    neutronError(res.body);
  });

  it('a security-group list with a bad filter does not create the default group', async () => {
    const before = storeDump(api);
    const res = await api.call(BOB, 'GET', '/v2.0/security-groups?colour=red');
    expect(res.status).toBe(400);
    expect(storeDump(api)).toBe(before);
    const bad = await api.call(BOB, 'GET', '/v2.0/security-groups?sort_dir=sideways&sort_key=name');
    expect(bad.status).toBe(400);
    expect(storeDump(api)).toBe(before);
    const ok = await api.call(BOB, 'GET', '/v2.0/security-groups');
    expect(ok.status).toBe(200);
    expect(ok.body.security_groups.map((g: any) => g.name)).toEqual(['default']);
  });
});
