import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../controller/app.ts';
import { staticTokens } from '../../../controller/auth/static-tokens.ts';
import { testConfig } from '../../../controller/config.ts';
import { openStore } from '../../../controller/store/open.ts';
import { testApi, type TestApi } from '../../helpers/api.ts';

let api: TestApi;
let doc: any;
beforeAll(async () => {
  api = await testApi();
  const res = await api.app.inject({ method: 'GET', url: '/docs/json' });
  expect(res.statusCode).toBe(200);
  doc = JSON.parse(res.body);
});
afterAll(async () => api.close());

const bodySchema = (path: string, method: string) => doc.paths[path]?.[method]?.requestBody?.content?.['application/json']?.schema;

describe('OpenAPI document', () => {
  it('is OpenAPI 3 and lists the v2.0 resources', () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toContain('Neutron');
    for (const path of ['/v2.0/networks', '/v2.0/networks/{id}', '/v2.0/networks/{id}/tags', '/v2.0/quotas', '/v2.0/quotas/{id}', '/v2.0/extensions']) {
      expect(doc.paths, path).toHaveProperty([path]);
    }
    expect(Object.keys(doc.paths['/v2.0/networks']).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/v2.0/networks/{id}']).sort()).toEqual(['delete', 'get', 'put']);
  });

  it('generates request bodies from the zod schemas', () => {
    const create = bodySchema('/v2.0/networks', 'post');
    expect(create.required).toEqual(['network']);
    const network = create.properties.network;
    expect(network.additionalProperties).toBe(false);
    expect(network.properties.name).toMatchObject({ type: 'string', maxLength: 255 });
    expect(network.properties.admin_state_up).toEqual({ type: 'boolean' });
    expect(network.properties['provider:network_type'].enum).toEqual(expect.arrayContaining(['vxlan', 'vlan', 'flat']));
    // Update takes only the updatable attributes.
    const update = bodySchema('/v2.0/networks/{id}', 'put').properties.network;
    expect(update.properties).toHaveProperty('name');
    expect(update.properties).not.toHaveProperty('provider:network_type');
    const quota = bodySchema('/v2.0/quotas/{id}', 'put').properties.quota;
    expect(quota.additionalProperties).toBe(false);
    expect(Object.keys(quota.properties)).toEqual(expect.arrayContaining(['network', 'port', 'security_group_rule', 'force']));
  });

  it('serves the UI as HTML', async () => {
    const res = await api.app.inject({ method: 'GET', url: '/docs' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.body).toContain('swagger-ui');
  });

  it('needs no token, unlike the API', async () => {
    const store = openStore(':memory:');
    const app = await buildApp({
      config: testConfig({ auth: 'token' }),
      store,
      authenticator: staticTokens({ tokens: { ['a'.repeat(32)]: { project_id: 'p', roles: ['admin'] } } }),
    });
    try {
      expect((await app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/docs' })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/v2.0/networks' })).statusCode).toBe(401);
    } finally {
      await app.close();
      await store.close();
    }
  });
});
