import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, ALICE, testApi, type TestApi } from '../../helpers/api.ts';

// GET /v2.0/weft/status: the model's revision, for `weft status` (agents' lag behind it).

let api: TestApi;
beforeAll(async () => {
  api = await testApi();
});
afterAll(async () => api.close());

describe('GET /v2.0/weft/status', () => {
  it("shows the store's revision, which every commit bumps", async () => {
    const before = await api.call(ADMIN, 'GET', '/v2.0/weft/status');
    expect(before.status).toBe(200);
    expect(before.body).toEqual({ status: { revision: api.store.revision } });
    expect((await api.call(ADMIN, 'POST', '/v2.0/networks', { network: { name: 'n' } })).status).toBe(201);
    const after = await api.call(ADMIN, 'GET', '/v2.0/weft/status');
    expect(after.body.status.revision).toBeGreaterThan(before.body.status.revision);
  });

  it('is admin-only', async () => {
    const res = await api.call(ALICE, 'GET', '/v2.0/weft/status');
    expect(res.status).toBe(403);
    expect(res.body.NeutronError.type).toBe('PolicyNotAuthorized');
  });
});
