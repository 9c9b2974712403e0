import { NeutronError, badRequest, overQuota } from '../errors.ts';
import type { Doc, ReadView, Tx } from '../store/types.ts';

// Neutron's default quotas; -1 means unlimited. Per-project overrides are stored as
// one 'quota' document per project (id = project id).

export const DEFAULT_QUOTAS: Readonly<Record<string, number>> = {
  network: 100,
  subnet: 100,
  port: 500,
  router: 10,
  floatingip: 50,
  security_group: 10,
  security_group_rule: 100,
  // Neutron registers it without an option of its own, so its default_quota (-1) applies.
  subnetpool: -1,
};

/** Which store kind each quota resource counts. */
export const QUOTA_KINDS: Readonly<Record<string, string>> = {
  network: 'network',
  subnet: 'subnet',
  port: 'port',
  router: 'router',
  floatingip: 'floatingip',
  security_group: 'security_group',
  security_group_rule: 'security_group_rule',
  subnetpool: 'subnetpool',
};

export function quotaLimits(view: ReadView, projectId: string): Record<string, number> {
  const overrides = (view.get('quota', projectId) as (Doc & { limits?: Record<string, number> }) | undefined)?.limits ?? {};
  return { ...DEFAULT_QUOTAS, ...overrides };
}

export function usage(view: ReadView, projectId: string, resource: string): number {
  return view.countBy(QUOTA_KINDS[resource] ?? resource, 'project_id', projectId);
}

/** Throws OverQuota when the project holds more of `resource` than allowed (call after creating). */
export function checkQuota(view: ReadView, projectId: string, resource: string, _kind?: string): void {
  const limit = quotaLimits(view, projectId)[resource];
  if (limit === undefined || limit < 0) return;
  if (usage(view, projectId, resource) > limit) throw overQuota([resource]);
}

// ---- The quota API's decisions (GET/PUT/DELETE /v2.0/quotas/...) ----

/** Neutron's DB_INTEGER_MAX_VALUE: the largest limit accepted. */
export const MAX_QUOTA = 2 ** 31 - 1;
export const QUOTA_RESOURCES: readonly string[] = Object.keys(DEFAULT_QUOTAS);

interface QuotaDoc extends Doc {
  project_id: string;
  limits: Record<string, number>;
}

/** Projects that have at least one limit set (the quota list shows only those). */
export function quotaProjects(view: ReadView): string[] {
  return view.list<QuotaDoc>('quota').map((d) => d.id).sort();
}

export interface QuotaDetail {
  limit: number;
  used: number;
  reserved: number;
}

/** Limit, usage and reservations (always 0: creates check after the fact) per resource. */
export function quotaDetails(view: ReadView, projectId: string): Record<string, QuotaDetail> {
  const limits = quotaLimits(view, projectId);
  const out: Record<string, QuotaDetail> = {};
  for (const resource of QUOTA_RESOURCES) out[resource] = { limit: limits[resource], used: usage(view, projectId, resource), reserved: 0 };
  return out;
}

/**
 * Set some limits of a project. A limit below the current usage is refused when the caller asks
 * for the check (`check_limit`, Neutron's quota-check-limit); -1 (unlimited) is never checked.
 * Neutron 2024.2 made the check the default (quota-check-limit-default, with `force` to skip it);
 * Weft keeps the earlier default, which clients and suites of every release expect: a client that
 * knows the newer default sees its extension absent (docs/CONFORMANCE.md).
 */
export function setQuotaLimits(tx: Tx, projectId: string, limits: Record<string, number>, check = false): Record<string, number> {
  for (const [resource, limit] of Object.entries(limits)) {
    if (!(resource in DEFAULT_QUOTAS)) throw badRequest(`Unrecognized attribute(s) '${resource}'`);
    if (!Number.isInteger(limit) || limit < -1 || limit > MAX_QUOTA) {
      throw badRequest(`Invalid input for ${resource}. Reason: '${limit}' is not in range -1 through ${MAX_QUOTA}.`);
    }
    if (!check || limit === -1) continue;
    const used = usage(tx, projectId, resource);
    if (used > limit) {
      throw badRequest(`Quota limit ${limit} for ${resource} must be greater than or equal to already used ${used}`);
    }
  }
  if (Object.keys(limits).length) {
    const current = tx.get<QuotaDoc>('quota', projectId);
    const doc: QuotaDoc = { id: projectId, project_id: projectId, limits: { ...(current?.limits ?? {}), ...limits } };
    tx.put('quota', doc);
  }
  return quotaLimits(tx, projectId);
}

/** Back to the defaults; Neutron answers 404 TenantQuotaNotFound when nothing was set. */
export function resetQuota(tx: Tx, projectId: string): void {
  if (!tx.get('quota', projectId)) {
    throw new NeutronError(404, 'TenantQuotaNotFound', `Quota for project ${projectId} could not be found.`);
  }
  tx.remove('quota', projectId);
}
