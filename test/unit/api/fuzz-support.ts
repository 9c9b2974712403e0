import fc from 'fast-check';
import { expect } from 'vitest';
import { ModelCache } from '../../../controller/store/model-cache.ts';
import { ADMIN, ALICE, BOB, testApi, type Caller, type TestApi } from '../../helpers/api.ts';
import { bodyOf, idSegment, ifMatch, junk, queryString, rawText, wrappedBody, type Fields } from '../../helpers/arbitraries.ts';

// The fuzz harness: a table of endpoints, each an arbitrary of requests; every request
// must answer < 500, errors must be NeutronError bodies, and a rejected request (or any
// GET) must leave the store exactly as it was (same revision, same documents, same claims).

export interface Fixtures {
  /** kind -> ids of documents created for the run (random uuids when the resource does not exist yet). */
  ids: Record<string, string[]>;
}

export interface FuzzRequest {
  caller: Caller;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  /** A JS value sent as JSON, or raw text (sent as application/json). */
  body?: { json: unknown } | { raw: string };
  headers?: Record<string, string>;
  /** The Content-Type header: undefined is application/json, null is none at all. */
  contentType?: string | null;
}

/** Content-Type headers clients send (Tempest: JSON on every request; neutron-tempest-plugin: none on PUTs). */
const contentTypes = fc.constantFrom<string | null | undefined>(undefined, null, 'application/json; charset=UTF-8', 'Application/JSON', 'text/plain');

export interface Endpoint {
  name: string;
  requests(fx: Fixtures): fc.Arbitrary<FuzzRequest>;
}

const callers = fc.constantFrom(ADMIN, ALICE, BOB);
const idsOf = (fx: Fixtures, kind: string) => fx.ids[kind] ?? [];
const ifMatchHeaders = ifMatch.map((v): Record<string, string> => (v === undefined ? {} : { 'if-match': v }));

export interface ResourceFuzz {
  path: string;
  kind: string;
  singular: string;
  collection: string;
  attributes: readonly string[];
  createFields(fx: Fixtures): Fields;
  /** A valid create body; the fuzzer overrides a few of its fields, to reach the domain checks. */
  base?(fx: Fixtures): fc.Arbitrary<Record<string, unknown>>;
  updateFields(fx: Fixtures): Fields;
  tags?: boolean;
  /** Extra member actions, e.g. PUT routers/{id}/add_router_interface. */
  actions?: Array<{ name: string; method: 'PUT' | 'POST'; fields(fx: Fixtures): Fields; wrap?: string; valid?(fx: Fixtures): fc.Arbitrary<unknown> }>;
}

function actionBody(action: NonNullable<ResourceFuzz['actions']>[number], fx: Fixtures): fc.Arbitrary<unknown> {
  const free = action.wrap ? wrappedBody(action.wrap, undefined, action.fields(fx)) : fc.oneof({ weight: 4, arbitrary: bodyOf(action.fields(fx)) }, { weight: 1, arbitrary: junk });
  return action.valid ? fc.oneof({ weight: 3, arbitrary: free }, { weight: 2, arbitrary: action.valid(fx) }) : free;
}

/** Create bodies: free-form ones, and valid ones with a few fields overridden (single or bulk). */
function createBody(r: ResourceFuzz, fx: Fixtures): fc.Arbitrary<unknown> {
  const free = wrappedBody(r.singular, r.collection, r.createFields(fx));
  if (!r.base) return free;
  const near = fc.tuple(r.base(fx), bodyOf(r.createFields(fx))).map(([b, o]) => ({ ...b, ...o }));
  return fc.oneof(
    { weight: 2, arbitrary: free },
    { weight: 3, arbitrary: near.map((b) => ({ [r.singular]: b })) },
    { weight: 1, arbitrary: r.base(fx).map((b) => ({ [r.singular]: b })) },
    { weight: 1, arbitrary: fc.array(near, { minLength: 1, maxLength: 3 }).map((items) => ({ [r.collection]: items })) },
  );
}

/** The collection protocol endpoints of one resource. */
export function resourceEndpoints(r: ResourceFuzz): Endpoint[] {
  const base = `/v2.0/${r.path}`;
  const id = (fx: Fixtures) => idSegment(idsOf(fx, r.kind));
  const out: Endpoint[] = [
    { name: `GET ${base}?query`, requests: (fx) => fc.record({ caller: callers, method: fc.constant('GET' as const), url: queryString(r.attributes, idsOf(fx, r.kind)).map((q) => `${base}?${q}`) }) },
    { name: `GET ${base}/{id}?query`, requests: (fx) => fc.record({ caller: callers, method: fc.constant('GET' as const), url: fc.tuple(id(fx), queryString(['fields', ...r.attributes])).map(([i, q]) => `${base}/${i}?${q}`) }) },
    { name: `POST ${base}`, requests: (fx) => fc.record({ caller: callers, method: fc.constant('POST' as const), url: fc.constant(base), body: createBody(r, fx).map((json) => ({ json })) }) },
    { name: `POST ${base} (raw text)`, requests: () => fc.record({ caller: callers, method: fc.constant('POST' as const), url: fc.constant(base), body: rawText.map((raw) => ({ raw })) }) },
    { name: `PUT ${base}/{id}`, requests: (fx) => fc.record({ caller: callers, method: fc.constant('PUT' as const), url: id(fx).map((i) => `${base}/${i}`), body: wrappedBody(r.singular, undefined, r.updateFields(fx)).map((json) => ({ json })), headers: ifMatchHeaders }) },
    // Deletes hit random ids or fixtures that are in use (a network with subnets, ...): both must leave the store alone or succeed whole.
    { name: `DELETE ${base}/{id}`, requests: (fx) => fc.record({ caller: callers, method: fc.constant('DELETE' as const), url: id(fx).map((i) => `${base}/${i}`), headers: ifMatchHeaders }) },
  ];
  if (r.tags !== false) {
    const tagSeg = idSegment(['red', 'blue', 'a,b']);
    out.push(
      { name: `PUT ${base}/{id}/tags`, requests: (fx) => fc.record({ caller: callers, method: fc.constant('PUT' as const), url: id(fx).map((i) => `${base}/${i}/tags`), body: wrappedBody('tags', undefined, {}).chain((j) => fc.oneof(fc.constant(j), fc.array(fc.oneof(fc.constantFrom('red', 'blue', '', 'a,b'), fc.string()), { maxLength: 60 }).map((tags) => ({ tags })))).map((json) => ({ json })), headers: ifMatchHeaders }) },
      { name: `PUT|DELETE|GET ${base}/{id}/tags/{tag}`, requests: (fx) => fc.record({ caller: callers, method: fc.constantFrom('PUT' as const, 'DELETE' as const, 'GET' as const), url: fc.tuple(id(fx), tagSeg).map(([i, t]) => `${base}/${i}/tags/${t}`) }) },
      { name: `GET|DELETE ${base}/{id}/tags`, requests: (fx) => fc.record({ caller: callers, method: fc.constantFrom('GET' as const, 'DELETE' as const), url: id(fx).map((i) => `${base}/${i}/tags`) }) },
    );
  }
  for (const action of r.actions ?? []) {
    out.push({
      name: `${action.method} ${base}/{id}/${action.name}`,
      requests: (fx) => fc.record({
        caller: callers,
        method: fc.constant(action.method),
        url: id(fx).map((i) => `${base}/${i}/${action.name}`),
        body: actionBody(action, fx).map((json) => ({ json })),
      }),
    });
  }
  return out;
}

/** Everything the store holds, as text (documents of every kind and every claim). */
export function storeDump(api: TestApi): string {
  const view = api.store.view();
  if (!(view instanceof ModelCache)) return String(api.store.revision);
  const docs = view.kinds().sort().map((k) => [k, view.list(k)]);
  const claims = [...view.claimScopes()].map(([scope, m]) => [scope, [...m]]);
  return JSON.stringify({ revision: view.revision, docs, claims });
}

function describeRequest(req: FuzzRequest): string {
  const body = req.body === undefined ? '' : 'raw' in req.body ? ` raw=${JSON.stringify(req.body.raw).slice(0, 600)}` : ` json=${(JSON.stringify(req.body.json) ?? 'undefined').slice(0, 600)}`;
  const type = req.contentType === undefined ? '' : ` content-type=${JSON.stringify(req.contentType)}`;
  return `${req.method} ${req.url.slice(0, 300)} as ${req.caller.project}${type}${req.headers && Object.keys(req.headers).length ? ` headers=${JSON.stringify(req.headers)}` : ''}${body}`;
}

/**
 * The lists that may create a project's default objects, and the kinds they may create: the
 * security groups list its default group (and rules); neutron-fwaas's three lists its default
 * firewall group (and its policies and rules).
 */
const LAZY_DEFAULTS: ReadonlyArray<{ lists: readonly string[]; kinds: readonly string[] }> = [
  { lists: ['security-groups'], kinds: ['security_group', 'security_group_rule'] },
  {
    lists: ['fwaas/firewall_groups', 'fwaas/firewall_policies', 'fwaas/firewall_rules'],
    kinds: ['firewall_group', 'firewall_policy', 'firewall_rule'],
  },
];

/** Send one request and check the invariants; throws (failing the property) when one breaks. */
export async function sendAndCheck(api: TestApi, req: FuzzRequest): Promise<number> {
  const before = storeDump(api);
  const revision = api.store.revision;
  const headers: Record<string, string> = { 'x-project-id': req.caller.project, 'x-roles': (req.caller.roles ?? ['member']).join(','), ...req.headers };
  let payload: string | undefined;
  if (req.body !== undefined) payload = 'raw' in req.body ? req.body.raw : JSON.stringify(req.body.json);
  // A body is JSON whatever its Content-Type says, or without one; an empty body with one is no body.
  if (req.contentType !== null) headers['content-type'] = req.contentType ?? 'application/json';
  if (req.contentType !== undefined && req.contentType !== null && payload === undefined && req.method !== 'GET') payload = '';
  const res = await api.app.inject({ method: req.method, url: req.url, payload, headers });
  const where = `${describeRequest(req)}\n  -> ${res.statusCode} ${res.body.slice(0, 600)}`;
  if (res.statusCode >= 500) throw new Error(`5xx on ${where}`);
  if (res.statusCode === 415) throw new Error(`a body refused for its Content-Type on ${where}`);
  if (res.statusCode >= 400) {
    let body: any;
    try {
      body = JSON.parse(res.body);
    } catch {
      throw new Error(`non-JSON error body on ${where}`);
    }
    const err = body?.NeutronError;
    if (!err || typeof err.type !== 'string' || !err.type || typeof err.message !== 'string' || typeof err.detail !== 'string') {
      throw new Error(`error body is not {NeutronError: {type, message, detail}} on ${where}`);
    }
    if (api.store.revision !== revision) throw new Error(`rejected request bumped the revision ${revision} -> ${api.store.revision} on ${where}`);
    if (storeDump(api) !== before) throw new Error(`rejected request changed the store on ${where}`);
  } else if (req.method === 'GET') {
    if (storeDump(api) !== before) {
      // The one write a read may do, as in Neutron: a list creates the project's default objects.
      const changes = await api.store.changesSince(revision);
      const lazy = LAZY_DEFAULTS.find((l) => l.lists.some((path) => req.url.startsWith(`/v2.0/${path}?`)));
      const lazyDefault = lazy !== undefined && changes !== 'compacted' && changes.every((c) => c.op === 'create' && lazy.kinds.includes(c.kind));
      if (!lazyDefault) throw new Error(`GET changed the store on ${where}`);
    }
    if (res.statusCode !== 204) expect(() => JSON.parse(res.body), where).not.toThrow();
  } else if (res.statusCode !== 204 && res.body) {
    expect(() => JSON.parse(res.body), where).not.toThrow();
  }
  return res.statusCode;
}

/** After a run: every declared index answers what a scan answers (no stale entries from in-place mutation). */
export function checkIndexes(api: TestApi): void {
  const view = api.store.view();
  if (!(view instanceof ModelCache)) return;
  for (const [kind, spec] of Object.entries(view.indexSpec)) {
    const docs = view.list(kind);
    for (const [index, extract] of Object.entries(spec)) {
      const values = new Set(docs.flatMap((d) => {
        const v = extract(d);
        return v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
      }));
      for (const value of values) {
        const found = view.find(kind, index, value).map((d) => d.id).sort();
        const scanned = docs.filter((d) => {
          const v = extract(d);
          return Array.isArray(v) ? v.includes(value) : v === value;
        }).map((d) => d.id).sort();
        expect(found, `index ${kind}.${index} = ${JSON.stringify(value)}`).toEqual(scanned);
      }
    }
  }
}

export const NUM_RUNS = Number(process.env.WEFT_FUZZ_RUNS ?? 60);

/** Run every endpoint's property against one fresh API with fixtures; returns the status counts. */
export async function fuzzEndpoint(api: TestApi, fx: Fixtures, endpoint: Endpoint, numRuns = NUM_RUNS): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(endpoint.requests(fx), contentTypes, async (req, contentType) => {
      const status = await sendAndCheck(api, { ...req, contentType });
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }),
    { numRuns, endOnFailure: true },
  );
  checkIndexes(api);
  return statuses;
}

export { testApi, ADMIN, ALICE, BOB };

/** Is the resource served yet? (fixture creation got a real document) */
export function served(api: TestApi, kind: string, fx: Fixtures): boolean {
  return (fx.ids[kind] ?? []).some((id) => api.store.view().get(kind, id) !== undefined);
}
