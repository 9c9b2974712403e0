import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testApi, type TestApi } from '../../helpers/api.ts';
import { endpointsFor, makeFixtures, QUOTA_ENDPOINTS } from './fuzz-resources.ts';
import { fuzzEndpoint, type Fixtures } from './fuzz-support.ts';

// Property-based requests for routers (incl. interface and extra-route actions), floating IPs and quotas.

let api: TestApi;
let fx: Fixtures;
beforeEach(async () => {
  api = await testApi();
  fx = await makeFixtures(api);
});
afterEach(async () => api.close());

describe('fuzz: routers, floating IPs, quotas', () => {
  for (const endpoint of [...endpointsFor(['routers', 'floatingips']), ...QUOTA_ENDPOINTS]) {
    it(endpoint.name, async () => {
      const statuses = await fuzzEndpoint(api, fx, endpoint);
      expect([...statuses.keys()].every((s) => s < 500)).toBe(true);
    });
  }
});
