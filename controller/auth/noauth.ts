import { makeContext, header, type Authenticator } from './context.ts';

// Development only: the caller says who it is with X-Project-Id and X-Roles.
// Without headers a request is the admin of project "admin".

export function noAuth(): Authenticator {
  return {
    async authenticate(headers) {
      const project = header(headers, 'x-project-id') ?? header(headers, 'x-tenant-id') ?? 'admin';
      const rolesHeader = header(headers, 'x-roles');
      const roles = rolesHeader !== undefined ? rolesHeader.split(',').map((r) => r.trim()).filter(Boolean) : ['admin'];
      return makeContext(project, roles, header(headers, 'x-user-id') ?? project);
    },
  };
}
