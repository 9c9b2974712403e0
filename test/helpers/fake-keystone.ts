import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// A tiny Keystone v3 for tests, on 127.0.0.1 and a random port:
//   POST /v3/auth/tokens  password auth scoped to a project (by name or id) -> 201,
//                         X-Subject-Token, {"token": {...}}; wrong credentials -> 401
//   GET  /v3/auth/tokens  X-Auth-Token (caller, must be valid, else 401) +
//                         X-Subject-Token (checked, 404 when unknown/expired/revoked)
// It counts calls, can mint tokens directly, revoke or expire them, and fail on demand.

export interface FakeUser {
  name: string;
  password: string;
  id?: string;
  domain?: string;
  project: { id: string; name: string };
  roles: string[];
}

interface IssuedToken {
  user: Required<Omit<FakeUser, 'password'>> & { password?: string };
  /** undefined = unscoped */
  project?: { id: string; name: string };
  roles: string[];
  expiresAt: number;
  issuedAt: number;
}

export interface FakeKeystone {
  /** Base URL without /v3, e.g. http://127.0.0.1:35357 */
  readonly url: string;
  readonly calls: { login: number; validate: number };
  /** Mint a token for a user (by name) without an HTTP call. */
  issue(userName: string, options?: { ttlMs?: number; unscoped?: boolean }): string;
  revoke(token: string): void;
  /** Tokens issued through POST /v3/auth/tokens to this user, oldest first. */
  tokensOf(userName: string): string[];
  /** Answer every request with this status (e.g. 500) until cleared with null. */
  failWith(status: number | null): void;
  /** Lifetime of tokens issued by POST /v3/auth/tokens (default one hour). */
  setTtl(ms: number): void;
  close(): Promise<void>;
}

const DEFAULT_TTL = 3600_000;
const iso = (ms: number) => new Date(ms).toISOString().replace(/Z$/, '000Z');

export async function startFakeKeystone(users: FakeUser[]): Promise<FakeKeystone> {
  const byName = new Map(users.map((u) => [u.name, { id: u.id ?? randomUUID().replace(/-/g, ''), domain: u.domain ?? 'Default', ...u }]));
  const tokens = new Map<string, IssuedToken>();
  const issuedTo = new Map<string, string[]>();
  const calls = { login: 0, validate: 0 };
  let failure: number | null = null;
  let ttl = DEFAULT_TTL;

  const mint = (name: string, unscoped = false, ttlMs = ttl): string => {
    const user = byName.get(name);
    if (!user) throw new Error(`fake keystone: no user ${name}`);
    const token = `gAAAA${randomBytes(24).toString('hex')}`;
    const now = Date.now();
    tokens.set(token, { user, project: unscoped ? undefined : user.project, roles: unscoped ? [] : user.roles, issuedAt: now, expiresAt: now + ttlMs });
    return token;
  };
  const live = (token: string | undefined) => {
    const t = token ? tokens.get(token) : undefined;
    return t && t.expiresAt > Date.now() ? t : undefined;
  };
  const body = (t: IssuedToken) => ({
    token: {
      methods: ['password'],
      expires_at: iso(t.expiresAt),
      issued_at: iso(t.issuedAt),
      audit_ids: [randomBytes(8).toString('base64url')],
      user: { id: t.user.id, name: t.user.name, domain: { id: 'default', name: t.user.domain }, password_expires_at: null },
      ...(t.project
        ? {
            project: { id: t.project.id, name: t.project.name, domain: { id: 'default', name: 'Default' } },
            roles: t.roles.map((r) => ({ id: `role-${r}`, name: r })),
            is_domain: false,
            catalog: [],
          }
        : {}),
    },
  });
  const error = (res: ServerResponse, code: number, title: string, message: string) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code, title, message } }));
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (failure !== null) return error(res, failure, 'Failure', 'injected failure');
    if (req.url !== '/v3/auth/tokens') return error(res, 404, 'Not Found', 'The resource could not be found.');
    if (req.method === 'POST') {
      calls.login++;
      let auth: any;
      try {
        auth = JSON.parse(Buffer.concat(chunks).toString('utf8')).auth;
      } catch {
        return error(res, 400, 'Bad Request', 'Malformed request body');
      }
      const pw = auth?.identity?.password?.user;
      const user = pw && byName.get(pw.name);
      if (!user || user.password !== pw.password || (pw.domain?.name ?? 'Default') !== user.domain) {
        return error(res, 401, 'Unauthorized', 'The request you have made requires authentication.');
      }
      const scope = auth.scope?.project;
      if (scope && scope.name !== user.project.name && scope.id !== user.project.id) {
        return error(res, 401, 'Unauthorized', 'User has no access to project');
      }
      const token = mint(user.name, !scope);
      issuedTo.set(user.name, [...(issuedTo.get(user.name) ?? []), token]);
      res.writeHead(201, { 'content-type': 'application/json', 'x-subject-token': token });
      res.end(JSON.stringify(body(tokens.get(token)!)));
      return;
    }
    if (req.method === 'GET') {
      calls.validate++;
      if (!live(req.headers['x-auth-token'] as string | undefined)) {
        return error(res, 401, 'Unauthorized', 'The request you have made requires authentication.');
      }
      const subject = req.headers['x-subject-token'] as string | undefined;
      const t = live(subject);
      if (!t) return error(res, 404, 'Not Found', `Could not find token: ${subject}.`);
      res.writeHead(200, { 'content-type': 'application/json', 'x-subject-token': subject! });
      res.end(JSON.stringify(body(t)));
      return;
    }
    return error(res, 405, 'Method Not Allowed', 'method not allowed');
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => error(res, 500, 'Internal Server Error', String(err)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    issue: (name, options = {}) => mint(name, options.unscoped, options.ttlMs),
    revoke: (token) => void tokens.delete(token),
    tokensOf: (name) => [...(issuedTo.get(name) ?? [])],
    failWith: (status) => void (failure = status),
    setTtl: (ms) => void (ttl = ms),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
