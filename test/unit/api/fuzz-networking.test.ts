import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALICE, testApi, type TestApi } from '../../helpers/api.ts';
import { endpointsFor, makeFixtures } from './fuzz-resources.ts';
import { fuzzEndpoint, served, type Fixtures } from './fuzz-support.ts';

// Property-based requests for networks, subnets and ports (and their tags): never a 5xx,
// errors are NeutronError bodies, a rejected request leaves the store untouched.

let api: TestApi;
let fx: Fixtures;
beforeEach(async () => {
  api = await testApi();
  fx = await makeFixtures(api);
});
afterEach(async () => api.close());

describe('fuzz: networks, subnets, ports', () => {
  for (const endpoint of endpointsFor(['networks', 'subnets', 'ports'])) {
    it(endpoint.name, async () => {
      const statuses = await fuzzEndpoint(api, fx, endpoint);
      expect([...statuses.keys()].every((s) => s < 500)).toBe(true);
    });
  }

  it('the fuzzer reaches success paths: some generated networks are created and listed', async () => {
    const [create] = endpointsFor(['networks']).filter((e) => e.name === 'POST /v2.0/networks');
    const [list] = endpointsFor(['networks']).filter((e) => e.name === 'GET /v2.0/networks?query');
    const created = await fuzzEndpoint(api, fx, create, 100);
    expect(created.get(201) ?? 0).toBeGreaterThan(0);
    expect(created.get(400) ?? 0).toBeGreaterThan(0);
    const listed = await fuzzEndpoint(api, fx, list, 100);
    expect(listed.get(200) ?? 0).toBeGreaterThan(0);
    expect(served(api, 'network', fx)).toBe(true);
    expect((await api.call(ALICE, 'GET', '/v2.0/networks')).status).toBe(200);
  });
});
