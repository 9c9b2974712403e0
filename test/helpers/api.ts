import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildApp } from '../../controller/app.ts';
import { noAuth } from '../../controller/auth/noauth.ts';
import { testConfig, type Config } from '../../controller/config.ts';
import { MODEL_INDEXES } from '../../controller/domain/indexes.ts';
import { openEtcdStore } from '../../controller/store/etcd/etcd-store.ts';
import { openStore } from '../../controller/store/open.ts';
import type { Store } from '../../controller/store/types.ts';

// An in-memory controller driven with fastify inject, as a given project and roles.

export interface Caller {
  project: string;
  roles?: string[];
}

export const ADMIN: Caller = { project: 'admin-project', roles: ['admin'] };
export const ALICE: Caller = { project: 'alice-project', roles: ['member'] };
export const BOB: Caller = { project: 'bob-project', roles: ['member'] };

export interface TestApi {
  app: FastifyInstance;
  store: Store;
  config: Config;
  call(caller: Caller, method: InjectOptions['method'], url: string, body?: unknown, headers?: Record<string, string>): Promise<{
    status: number;
    body: any;
    headers: Record<string, unknown>;
  }>;
  close(): Promise<void>;
}

let etcdPrefixes = 0;

/**
 * SQLite in memory; or, when WEFT_TEST_ETCD_ENDPOINTS names an etcd cluster (scripts/test.sh runs
 * the API tests a second time so), the etcd store on a prefix of its own.
 */
export async function testStore(): Promise<Store> {
  const endpoints = process.env.WEFT_TEST_ETCD_ENDPOINTS;
  if (!endpoints) return openStore(':memory:');
  const prefix = `/weft-test-${process.pid}-${Date.now()}-${++etcdPrefixes}/`;
  return openEtcdStore({ endpoints: endpoints.split(','), prefix, indexes: MODEL_INDEXES });
}

export async function testApi(overrides: Partial<Config> = {}): Promise<TestApi> {
  const config = testConfig(overrides);
  const store = await testStore();
  const app = await buildApp({ config, store, authenticator: noAuth() });
  return {
    app,
    store,
    config,
    async call(caller, method, url, body, headers = {}) {
      const res = await app.inject({
        method,
        url,
        payload: body === undefined ? undefined : (body as object),
        headers: { 'x-project-id': caller.project, 'x-roles': (caller.roles ?? ['member']).join(','), ...headers },
      });
      const text = res.body;
      return { status: res.statusCode, body: text ? JSON.parse(text) : undefined, headers: res.headers };
    },
    async close() {
      await app.close();
      await store.close();
    },
  };
}
