import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALICE, testApi, type TestApi } from '../../helpers/api.ts';
import { makeFixtures } from './fuzz-resources.ts';
import { storeDump, type Fixtures } from './fuzz-support.ts';

// Bodies as Neutron reads them: an empty body with a JSON Content-Type is no body (Tempest sends
// one with every DELETE), and a body without a Content-Type is JSON (neutron-tempest-plugin).

const headersOf = (caller = ALICE) => ({ 'x-project-id': caller.project, 'x-roles': (caller.roles ?? ['member']).join(',') });

/** Every route and method the API documents, as [method, path template]. */
async function documentedRoutes(api: TestApi): Promise<Array<[string, string]>> {
  await api.app.ready();
  const spec = (api.app as unknown as { swagger(): { paths: Record<string, Record<string, unknown>> } }).swagger();
  const routes = Object.entries(spec.paths).flatMap(([path, ops]) => Object.keys(ops).map((m): [string, string] => [m.toUpperCase(), path]));
  // Deletes last, so that every other method meets the fixtures still there.
  return routes.filter(([m]) => m !== 'DELETE').concat(routes.filter(([m]) => m === 'DELETE'));
}

/** The path template filled with this API's fixtures (the same shape in every API). */
function fill(template: string, fx: Fixtures): string {
  const kindOf: Record<string, string> = {
    networks: 'network', subnets: 'subnet', ports: 'port', routers: 'router', floatingips: 'floatingip',
    'security-groups': 'security_group', 'security-group-rules': 'security_group_rule',
  };
  const parts = template.split('/');
  return parts.map((part, i) => {
    if (part === '{tag}') return 'red';
    if (!part.startsWith('{')) return part;
    if (parts[i - 1] === 'quotas') return ALICE.project;
    const kind = kindOf[parts[i - 1]];
    return (kind && fx.ids[kind]?.[0]) || '00000000-0000-4000-8000-000000000000';
  }).join('/');
}

const VARIANTS: Array<{ name: string; headers: Record<string, string> }> = [
  { name: 'no Content-Type', headers: {} },
  { name: 'application/json', headers: { 'content-type': 'application/json' } },
  { name: 'application/json; charset=UTF-8', headers: { 'content-type': 'application/json; charset=UTF-8' } },
  { name: 'Application/JSON;charset=utf-8', headers: { 'content-type': 'Application/JSON;charset=utf-8' } },
];

describe('request bodies as Neutron reads them', () => {
  it('on every route and method, an empty body with a JSON Content-Type answers as no body at all', async () => {
    // One API per variant, driven in lockstep: the same requests on the same fixtures must answer alike.
    const apis = await Promise.all(VARIANTS.map(() => testApi()));
    try {
      const fixtures = await Promise.all(apis.map((api) => makeFixtures(api)));
      const routes = await documentedRoutes(apis[0]);
      expect(routes.length).toBeGreaterThan(50);
      let deletes = 0;
      for (const [method, template] of routes) {
        if (template.endsWith('/events')) continue; // a server-sent event stream, never answers whole
        const answers = await Promise.all(apis.map(async (api, i) => {
          const res = await api.app.inject({ method: method as 'GET', url: fill(template, fixtures[i]), payload: method === 'GET' ? undefined : '', headers: { ...headersOf(), ...VARIANTS[i].headers } });
          return { variant: VARIANTS[i].name, status: res.statusCode, type: res.statusCode >= 400 ? JSON.parse(res.body).NeutronError?.type : undefined };
        }));
        for (const a of answers) {
          expect(a, `${method} ${template}`).toEqual({ ...answers[0], variant: a.variant });
          expect(a.status, `${method} ${template} (${a.variant})`).not.toBe(415);
        }
        if (method === 'DELETE' && answers[0].status === 204) deletes += 1;
      }
      // The lockstep reached real deletes (tags, rules, routers...), not only 404s.
      expect(deletes).toBeGreaterThan(5);
    } finally {
      await Promise.all(apis.map((api) => api.close()));
    }
  });
});

describe('request bodies, one by one', () => {
  let api: TestApi;
  let fx: Fixtures;
  beforeEach(async () => {
    api = await testApi();
    fx = await makeFixtures(api);
  });
  afterEach(async () => api.close());

  const send = (method: 'PUT' | 'POST' | 'DELETE', url: string, payload: string, headers: Record<string, string> = {}) =>
    api.app.inject({ method, url, payload, headers: { ...headersOf(), ...headers } });

  it('a DELETE with Content-Type: application/json and an empty body deletes', async () => {
    const net = (await api.call(ALICE, 'POST', '/v2.0/networks', { network: { name: 'doomed' } })).body.network;
    const res = await send('DELETE', `/v2.0/networks/${net.id}`, '', { 'content-type': 'application/json' });
    expect(res.statusCode).toBe(204);
    expect((await api.call(ALICE, 'GET', `/v2.0/networks/${net.id}`)).status).toBe(404);
  });

  it('PUT .../tags/{tag} with Content-Type: application/json and an empty body adds the tag', async () => {
    const net = fx.ids.network[0];
    const res = await send('PUT', `/v2.0/networks/${net}/tags/blue`, '', { 'content-type': 'application/json' });
    expect(res.statusCode).toBe(201);
    expect((await api.call(ALICE, 'GET', `/v2.0/networks/${net}`)).body.network.tags).toContain('blue');
  });

  it('a PUT whose JSON body has no Content-Type is read as JSON and applied', async () => {
    const net = fx.ids.network[0];
    const res = await send('PUT', `/v2.0/networks/${net}`, JSON.stringify({ network: { name: 'renamed' } }));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body).network.name).toBe('renamed');
  });

  it('a POST whose JSON body is labelled as a form (curl -d) is read as JSON', async () => {
    const res = await send('POST', '/v2.0/networks', JSON.stringify({ network: { name: 'from-curl' } }), { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.statusCode).toBe(201);
  });

  it('a non-empty malformed body is a 400 NeutronError and changes nothing, with or without a Content-Type', async () => {
    const before = storeDump(api);
    for (const headers of [{}, { 'content-type': 'application/json' }, { 'content-type': 'text/plain' }] as Array<Record<string, string>>) {
      for (const [method, url] of [['POST', '/v2.0/networks'], ['PUT', `/v2.0/networks/${fx.ids.network[0]}`]] as const) {
        const res = await send(method, url, '{"network": {"name": ', headers);
        expect(res.statusCode, `${method} ${JSON.stringify(headers)}`).toBe(400);
        expect(JSON.parse(res.body).NeutronError).toEqual({ type: 'HTTPBadRequest', message: expect.stringContaining('Invalid JSON body'), detail: '' });
      }
    }
    expect(storeDump(api)).toBe(before);
  });

  it('a JSON body that poisons a prototype is refused', async () => {
    const res = await send('POST', '/v2.0/networks', '{"network": {"name": "x"}, "__proto__": {"admin": true}}', { 'content-type': 'application/json' });
    expect(res.statusCode).toBe(400);
  });

  it('a POST that needs a body and gets an empty one is refused as having none', async () => {
    const res = await send('POST', '/v2.0/networks', '', { 'content-type': 'application/json' });
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body).NeutronError.message).toBe('Resource body required');
  });
});
