import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testApi, type TestApi } from '../../helpers/api.ts';
import { endpointsFor, makeFixtures } from './fuzz-resources.ts';
import { fuzzEndpoint, type Fixtures } from './fuzz-support.ts';

// Property-based requests for security groups and their rules.

let api: TestApi;
let fx: Fixtures;
beforeEach(async () => {
  api = await testApi();
  fx = await makeFixtures(api);
});
afterEach(async () => api.close());

describe('fuzz: security groups and rules', () => {
  for (const endpoint of endpointsFor(['security-groups', 'security-group-rules'])) {
    it(endpoint.name, async () => {
      const statuses = await fuzzEndpoint(api, fx, endpoint);
      expect([...statuses.keys()].every((s) => s < 500)).toBe(true);
    });
  }
});
