// Who is asking: the project and roles an authenticator derived from the request.

export interface RequestContext {
  readonly projectId: string;
  readonly userId: string;
  readonly roles: readonly string[];
  readonly isAdmin: boolean;
}

export function makeContext(projectId: string, roles: readonly string[], userId = projectId): RequestContext {
  const lower = roles.map((r) => r.toLowerCase());
  return {
    projectId,
    userId,
    roles,
    isAdmin: lower.includes('admin'),
  };
}

export interface Authenticator {
  /** Resolve the caller from the request headers; throws a 401 NeutronError when it cannot. */
  authenticate(headers: Record<string, string | string[] | undefined>): Promise<RequestContext>;
}

export function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
