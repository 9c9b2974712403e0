import type { Config } from '../config.ts';
import { NeutronError, unauthorized } from '../errors.ts';
import { header, makeContext, type Authenticator, type RequestContext } from './context.ts';

// Keystone v3: the controller logs in with its own service credentials and validates each
// caller's X-Auth-Token with GET /v3/auth/tokens. Results are cached until the token
// expires or cacheSeconds pass, whichever is first. Keystone being unreachable, slow or
// broken is the controller's problem, not the caller's: 503, never 500 or 401.

interface TokenBody {
  token?: {
    expires_at?: string;
    project?: { id: string };
    user?: { id: string };
    roles?: Array<{ name: string }>;
  };
}

/** How long one Keystone request may take. */
const KEYSTONE_TIMEOUT_MS = 10_000;
/** Cached validations kept at most (expired ones are dropped first). */
const CACHE_LIMIT = 10_000;

const unavailable = (why: string) => new NeutronError(503, 'ServiceUnavailable', `Keystone is unavailable: ${why}.`);

export function keystoneAuth(config: Config, fetchImpl: typeof fetch = fetch): Authenticator {
  const k = config.keystone;
  if (!k.url) throw new Error('keystoneAuth needs keystone.url');
  const base = k.url.replace(/\/+$/, '').replace(/\/v3$/, '');
  const cache = new Map<string, { ctx: RequestContext; until: number }>();
  let service: { token: string; until: number } | undefined;
  let loggingIn: Promise<string> | undefined;

  async function call(init: RequestInit): Promise<Response> {
    try {
      return await fetchImpl(`${base}/v3/auth/tokens`, { ...init, signal: AbortSignal.timeout(KEYSTONE_TIMEOUT_MS) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      throw unavailable(cause ?? (err as Error).name ?? 'request failed');
    }
  }

  async function login(): Promise<string> {
    const res = await call({
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: { methods: ['password'], password: { user: { name: k.username, domain: { name: k.userDomain }, password: k.password } } },
          scope: { project: { name: k.project, domain: { name: k.projectDomain } } },
        },
      }),
    });
    const token = res.headers.get('x-subject-token');
    if (res.status !== 201 || !token) {
      await res.body?.cancel();
      throw unavailable(`it refused the controller's service credentials (HTTP ${res.status})`);
    }
    const body = (await res.json().catch(() => ({}))) as TokenBody;
    const expires = Date.parse(body.token?.expires_at ?? '') || Date.now() + 3600_000;
    // Renew a minute early, but never treat a short-lived token as already expired.
    const margin = Math.min(60_000, Math.max(0, (expires - Date.now()) / 2));
    service = { token, until: expires - margin };
    return token;
  }

  /** The controller's own token; concurrent callers share one login. */
  function serviceToken(): Promise<string> {
    if (service && service.until > Date.now()) return Promise.resolve(service.token);
    loggingIn ??= login().finally(() => { loggingIn = undefined; });
    return loggingIn;
  }

  function remember(token: string, ctx: RequestContext, until: number): void {
    if (cache.size >= CACHE_LIMIT) {
      const now = Date.now();
      for (const [key, entry] of cache) if (entry.until <= now) cache.delete(key);
      if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
    }
    cache.set(token, { ctx, until });
  }

  async function validate(token: string, retry = true): Promise<RequestContext> {
    const used = await serviceToken();
    const res = await call({ headers: { 'x-auth-token': used, 'x-subject-token': token } });
    if (res.status === 401 && retry) {
      await res.body?.cancel();
      // Our own token expired or was revoked: log in again, once.
      if (service?.token === used) service = undefined;
      return validate(token, false);
    }
    if (res.status === 404) {
      await res.body?.cancel();
      throw unauthorized();
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw unavailable(`token validation failed (HTTP ${res.status})`);
    }
    const body = (await res.json().catch(() => undefined)) as TokenBody | undefined;
    if (!body) throw unavailable('token validation returned no token');
    const t = body.token;
    if (!t?.project?.id) throw unauthorized(); // unscoped tokens cannot own resources
    const ctx = makeContext(t.project.id, (t.roles ?? []).map((r) => r.name), t.user?.id);
    const expires = Date.parse(t.expires_at ?? '') || Infinity;
    remember(token, ctx, Math.min(expires, Date.now() + k.cacheSeconds * 1000));
    return ctx;
  }

  return {
    async authenticate(headers) {
      const token = header(headers, 'x-auth-token')?.trim();
      if (!token) throw unauthorized();
      const hit = cache.get(token);
      if (hit && hit.until > Date.now()) return hit.ctx;
      cache.delete(token);
      return validate(token);
    },
  };
}
