import { expect } from 'vitest';
import type { TestApi } from '../../helpers/api.ts';

// What the FWaaS API tests share: the collections' paths, and answers checked with the store.

export const RULES = '/v2.0/fwaas/firewall_rules';
export const POLICIES = '/v2.0/fwaas/firewall_policies';
export const GROUPS = '/v2.0/fwaas/firewall_groups';

export type Res = Promise<{ status: number; body: any }>;

/** `ok` expects a status (default `okStatus`) and returns the body; `err` also proves the store did not change. */
export function answers(currentApi: () => TestApi, okStatus: number) {
  async function ok(res: Res, status = okStatus): Promise<any> {
    const r = await res;
    if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  }
  async function err(make: () => Res, status: number, type: string): Promise<any> {
    const api = currentApi();
    const before = api.store.revision;
    const r = await make();
    expect(r.status, JSON.stringify(r.body)).toBe(status);
    expect(r.body.NeutronError.type, JSON.stringify(r.body)).toBe(type);
    expect(api.store.revision, 'a rejected request changed the store').toBe(before);
    return r.body.NeutronError;
  }
  return { ok, err };
}
