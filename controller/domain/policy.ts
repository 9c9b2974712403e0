import type { RequestContext } from '../auth/context.ts';
import { badRequest, forbidden } from '../errors.ts';

// Who may do what, in Neutron's words.

/** The project a create lands in: the caller's, or another one when an admin says so. */
export function owningProject(ctx: RequestContext, input: { project_id?: string; tenant_id?: string }): string {
  const { project_id: p, tenant_id: t } = input;
  if (p !== undefined && t !== undefined && p !== t) throw badRequest("'project_id' and 'tenant_id' do not match");
  const wanted = p ?? t ?? ctx.projectId;
  // Neutron's words and status (400, not a policy 403) for a member naming another project.
  if (wanted !== ctx.projectId && !ctx.isAdmin) throw badRequest("Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges");
  return wanted;
}

/** Attributes only an admin may set (provider attributes, shared, router:external, bindings). */
export function requireAdminFor(ctx: RequestContext, input: Record<string, unknown>, attributes: readonly string[], action: string): void {
  if (ctx.isAdmin) return;
  for (const attr of attributes) {
    if (input[attr] !== undefined) throw forbidden(`${action}:${attr}`);
  }
}

/** Drop attributes a non-admin must not see. */
export function hideFrom(ctx: RequestContext, row: Record<string, unknown>, attributes: readonly string[]): Record<string, unknown> {
  if (ctx.isAdmin) return row;
  const out = { ...row };
  for (const attr of attributes) delete out[attr];
  return out;
}
