import { randomUUID } from 'node:crypto';
import type { Doc, Tx } from '../store/types.ts';

// Neutron's standard attributes: ids, timestamps, revision numbers, tags.

/** Neutron prints timestamps without fractions: 2026-11-21T10:00:00Z. */
export function timestamp(now = new Date()): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function newId(): string {
  return randomUUID();
}

export interface Standard {
  id: string;
  project_id: string;
  tenant_id: string;
  created_at: string;
  updated_at: string;
  revision_number: number;
  tags: string[];
}

export function standard(projectId: string, id = newId()): Standard {
  const now = timestamp();
  return { id, project_id: projectId, tenant_id: projectId, created_at: now, updated_at: now, revision_number: 1, tags: [] };
}

/** The next version of a document: fields replaced, revision bumped, updated_at now. */
export function revise<T extends Doc>(doc: T, patch: Partial<T>): T {
  return {
    ...doc,
    ...patch,
    revision_number: (doc.revision_number as number) + 1,
    updated_at: timestamp(),
  };
}

/**
 * A parent's revision follows its children, as Neutron's revision plugin bumps a network when one
 * of its subnets changes and a router when its interfaces do: a client caching by revision sees it.
 */
export function bumpRevision(tx: Tx, kind: string, id: string): void {
  const doc = tx.get(kind, id);
  if (doc) tx.put(kind, revise(doc, {}));
}
