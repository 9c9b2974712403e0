import type { Config } from '../config.ts';
import { NeutronError, unauthorized } from '../errors.ts';
import { header, makeContext, type Authenticator, type RequestContext } from './context.ts';

// Keystone v3: the controller logs in with its own service credentials and validates each
// caller's X-Auth-Token with GET /v3/auth/tokens. Results are cached until the token
// expires or cacheSeconds pass, whichever is first.

interface TokenBody {
  token?: {
    expires_at?: string;
    project?: { id: string };
    user?: { id: string };
    roles?: Array<{ name: string }>;
  };
}

export function keystoneAuth(config: Config, fetchImpl: typeof fetch = fetch): Authenticator {
  const k = config.keystone;
  const base = k.url!.replace(/\/+$/, '').replace(/\/v3$/, '');
  const cache = new Map<string, { ctx: RequestContext; until: number }>();
  let service: { token: string; until: number } | undefined;

  async function serviceToken(): Promise<string> {
    if (service && service.until > Date.now()) return service.token;
    const res = await fetchImpl(`${base}/v3/auth/tokens`, {
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
      throw new NeutronError(503, 'ServiceUnavailable', `Keystone refused the controller's service credentials (HTTP ${res.status}).`);
    }
    const body = (await res.json()) as TokenBody;
    const expires = Date.parse(body.token?.expires_at ?? '') || Date.now() + 3600_000;
    service = { token, until: expires - 60_000 };
    return token;
  }

  async function validate(token: string, retry = true): Promise<RequestContext> {
    const res = await fetchImpl(`${base}/v3/auth/tokens`, {
      headers: { 'x-auth-token': await serviceToken(), 'x-subject-token': token },
    });
    if (res.status === 401 && retry) {
      service = undefined; // our own token expired or was revoked: log in again once
      return validate(token, false);
    }
    if (res.status === 404 || res.status === 401) throw unauthorized();
    if (!res.ok) throw new NeutronError(503, 'ServiceUnavailable', `Keystone token validation failed (HTTP ${res.status}).`);
    const body = (await res.json()) as TokenBody;
    const t = body.token;
    if (!t?.project?.id) throw unauthorized(); // unscoped tokens cannot own resources
    const ctx = makeContext(t.project.id, (t.roles ?? []).map((r) => r.name), t.user?.id);
    const expires = Date.parse(t.expires_at ?? '') || Infinity;
    cache.set(token, { ctx, until: Math.min(expires, Date.now() + k.cacheSeconds * 1000) });
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
