import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../../controller/app.ts';
import type { Authenticator } from '../../../controller/auth/context.ts';
import { testConfig } from '../../../controller/config.ts';
import { NeutronError } from '../../../controller/errors.ts';
import { openStore } from '../../../controller/store/open.ts';
import { ADMIN, testApi, type TestApi } from '../../helpers/api.ts';

// GET /metrics and request ids, through the in-process API.

let api: TestApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const metricsText = async (a: TestApi) => {
  const res = await a.app.inject({ method: 'GET', url: '/metrics' });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
  return res.body;
};
/** The value of one sample line, e.g. sample(text, 'x_count{a="b"}'). */
const sample = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('GET /metrics', () => {
  it("shows a route's latency histogram and status classes after a request, labelled by the route pattern", async () => {
    api = await testApi();
    const net = (await api.call(ADMIN, 'POST', '/v2.0/networks', { network: { name: 'n' } })).body.network;
    expect((await api.call(ADMIN, 'GET', `/v2.0/networks/${net.id}`)).status).toBe(200);
    expect((await api.call(ADMIN, 'GET', `/v2.0/networks/${crypto.randomUUID()}`)).status).toBe(404);
    expect((await api.call(ADMIN, 'GET', '/no/such/path')).status).toBe(404);
    const text = await metricsText(api);

    expect(text).toContain('# TYPE weft_api_request_duration_seconds histogram');
    expect(sample(text, 'weft_api_request_duration_seconds_count{method="GET",route="/v2.0/networks/:id"}')).toBe(2);
    expect(sample(text, 'weft_api_request_duration_seconds_bucket{method="GET",route="/v2.0/networks/:id",le="+Inf"}')).toBe(2);
    expect(sample(text, 'weft_api_request_duration_seconds_count{method="POST",route="/v2.0/networks"}')).toBe(1);
    expect(sample(text, 'weft_api_requests_total{method="GET",route="/v2.0/networks/:id",status_class="2xx"}')).toBe(1);
    expect(sample(text, 'weft_api_requests_total{method="GET",route="/v2.0/networks/:id",status_class="4xx"}')).toBe(1);
    expect(sample(text, 'weft_api_requests_total{method="POST",route="/v2.0/networks",status_class="2xx"}')).toBe(1);
    // Never a raw URL: ids and unknown paths do not make series of their own.
    expect(text).not.toContain(net.id);
    expect(text).not.toContain('/no/such/path');
    expect(sample(text, 'weft_api_requests_total{method="GET",route="unmatched",status_class="4xx"}')).toBe(1);
    // The model's revision; no agent yet.
    expect(sample(text, 'weft_model_revision')).toBe(api.store.revision);
    expect(sample(text, 'weft_sync_agents{state="alive"}')).toBe(0);
    expect(sample(text, 'weft_sync_agents{state="down"}')).toBe(0);
    expect(sample(text, 'weft_sync_convergence_seconds_count')).toBe(0);
  });

  it('needs no token, unlike the API', async () => {
    const refuse: Authenticator = { authenticate: async () => { throw new NeutronError(401, 'HTTPUnauthorized', 'no token'); } } as unknown as Authenticator;
    const store = openStore(':memory:');
    const app = await buildApp({ config: testConfig(), store, authenticator: refuse });
    try {
      expect((await app.inject({ method: 'GET', url: '/v2.0/networks' })).statusCode).toBe(401);
      const res = await app.inject({ method: 'GET', url: '/metrics' });
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('weft_api_requests_total{method="GET",route="/v2.0/networks",status_class="4xx"} 1');
    } finally {
      await app.close();
      await store.close();
    }
  });
});

describe('request ids', () => {
  it('answers every request with X-Openstack-Request-Id: req-<uuid>, or the id the caller sent', async () => {
    api = await testApi();
    const a = await api.call(ADMIN, 'GET', '/v2.0/networks');
    const b = await api.call(ADMIN, 'GET', '/v2.0/networks');
    expect(a.headers['x-openstack-request-id']).toMatch(/^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(b.headers['x-openstack-request-id']).not.toBe(a.headers['x-openstack-request-id']);
    // Errors too.
    expect((await api.call(ADMIN, 'GET', '/nowhere')).headers['x-openstack-request-id']).toMatch(/^req-/);

    const own = await api.call(ADMIN, 'GET', '/v2.0/networks', undefined, { 'x-openstack-request-id': 'req-from-the-cli' });
    expect(own.headers['x-openstack-request-id']).toBe('req-from-the-cli');
    const other = await api.call(ADMIN, 'GET', '/v2.0/networks', undefined, { 'x-request-id': 'abc-123' });
    expect(other.headers['x-openstack-request-id']).toBe('abc-123');
    // X-Openstack-Request-Id wins over X-Request-Id.
    const both = await api.call(ADMIN, 'GET', '/v2.0/networks', undefined, { 'x-openstack-request-id': 'req-1', 'x-request-id': 'req-2' });
    expect(both.headers['x-openstack-request-id']).toBe('req-1');
    // An id that could garble logs or headers is replaced by a fresh one.
    for (const bad of ['has space', 'x'.repeat(200), '"quoted"', '-leading-dash']) {
      const res = await api.call(ADMIN, 'GET', '/v2.0/networks', undefined, { 'x-openstack-request-id': bad });
      expect(res.headers['x-openstack-request-id'], bad).toMatch(/^req-[0-9a-f-]{36}$/);
    }
  });
});
