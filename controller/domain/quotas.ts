import { overQuota } from '../errors.ts';
import type { Doc, ReadView } from '../store/types.ts';

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
};

export function quotaLimits(view: ReadView, projectId: string): Record<string, number> {
  const overrides = (view.get('quota', projectId) as (Doc & { limits?: Record<string, number> }) | undefined)?.limits ?? {};
  return { ...DEFAULT_QUOTAS, ...overrides };
}

export function usage(view: ReadView, projectId: string, resource: string): number {
  return view.find(QUOTA_KINDS[resource] ?? resource, 'project_id', projectId).length;
}

/** Throws OverQuota when the project holds more of `resource` than allowed (call after creating). */
export function checkQuota(view: ReadView, projectId: string, resource: string, _kind?: string): void {
  const limit = quotaLimits(view, projectId)[resource];
  if (limit === undefined || limit < 0) return;
  if (usage(view, projectId, resource) > limit) throw overQuota([resource]);
}
