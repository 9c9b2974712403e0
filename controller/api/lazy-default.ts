import type { RequestContext } from '../auth/context.ts';
import type { ReadView, Tx } from '../store/types.ts';
import type { Store } from '../store/types.ts';
import { projectId as projectIdSchema } from '../../schemas/common.ts';
import { filterRows, paginate, values, type Query } from './collection.ts';
import { ownerOrAdmin, type ResourceDef } from './resource.ts';

// The one write a read may do, as in Neutron: listing a collection makes sure the project's
// default objects exist (the default security group, neutron-fwaas's default firewall group).

/**
 * The project a list asks about (the project_id/tenant_id filter, else the caller's), or
 * undefined when the caller may not cause its default objects to be made: a member only for
 * their own project.
 */
export function listedProject(ctx: RequestContext, query: Query): string | undefined {
  const asked = values(query.project_id)[0] ?? values(query.tenant_id)[0] ?? ctx.projectId;
  if (!asked || !projectIdSchema.safeParse(asked).success) return undefined;
  if (asked !== ctx.projectId && !ctx.isAdmin) return undefined;
  return asked;
}

/**
 * Makes the listed project's default objects when `exists` says they are missing, in one
 * transaction. The query is checked first (bad filters, sort keys, limits and markers throw) so
 * that a rejected request writes nothing.
 */
export async function ensureDefaultOnList(
  def: ResourceDef, store: Store, ctx: RequestContext, query: Query,
  exists: (view: ReadView, project: string) => boolean, make: (tx: Tx, project: string) => unknown,
): Promise<void> {
  const project = listedProject(ctx, query);
  if (project === undefined) return;
  const view = store.view();
  if (exists(view, project)) return;
  const visible = def.visible ?? ownerOrAdmin;
  const rows = view.list(def.kind).filter((d) => visible(view, ctx, d)).map((d) => def.present(view, ctx, d));
  paginate(filterRows(rows, query, def, view), query, { ...def, kind: def.kind }, '');
  await store.transact((tx) => {
    if (!exists(tx, project)) make(tx, project);
  });
}
