import type { z } from 'zod';
import { badRequest } from '../errors.ts';

// Turn zod's verdict on a request body into Neutron's wording.

export function describeIssues(error: z.ZodError): string {
  const unknown: string[] = [];
  const reasons: string[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      unknown.push(...issue.keys.map((k) => [...issue.path, k].join('.')));
      continue;
    }
    const field = issue.path.filter((p) => typeof p === 'string').join('.') || 'body';
    reasons.push(`Invalid input for ${field}. Reason: ${reasonOf(issue)}.`);
  }
  if (unknown.length) return `Unrecognized attribute(s) '${unknown.join(', ')}'`;
  return reasons[0] ?? 'Invalid input.';
}

function reasonOf(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') {
    return issue.input === undefined ? 'is required' : `'${short(issue.input)}' is not a valid ${issue.expected}`;
  }
  if (issue.code === 'invalid_value') return `'${short(issue.input)}' is not in ${JSON.stringify(issue.values)}`;
  if (issue.code === 'too_big') return `'${short(issue.input)}' exceeds maximum ${issue.maximum}`;
  if (issue.code === 'too_small') return `'${short(issue.input)}' is below minimum ${issue.minimum}`;
  if (issue.input !== undefined) return `'${short(issue.input)}' ${issue.message}`;
  return issue.message;
}

function short(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

export function parseWith<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input, { reportInput: true });
  if (!parsed.success) throw badRequest(describeIssues(parsed.error));
  return parsed.data;
}

/** The single-object body `{"network": {...}}` or the bulk body `{"networks": [...]}`. */
export function unwrapBody(body: unknown, singular: string, plural?: string): { items: unknown[]; bulk: boolean } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Resource body required');
  const keys = Object.keys(body);
  const record = body as Record<string, unknown>;
  if (plural && keys.length === 1 && keys[0] === plural) {
    const items = record[plural];
    if (!Array.isArray(items) || items.length === 0) throw badRequest(`Resources required: '${plural}' must be a non-empty list`);
    return { items: items.map((item) => unwrapItem(item, singular)), bulk: true };
  }
  if (keys.length !== 1 || keys[0] !== singular) throw badRequest(`Unable to find '${singular}' in request body`);
  const item = record[singular];
  if (item === null || typeof item !== 'object' || Array.isArray(item)) throw badRequest(`Invalid input for ${singular}. Reason: must be an object.`);
  return { items: [item], bulk: false };
}

function unwrapItem(item: unknown, singular: string): unknown {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) {
    throw badRequest(`Invalid input for ${singular}. Reason: each item must be an object.`);
  }
  const record = item as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 1 && keys[0] === singular && typeof record[singular] === 'object' && record[singular] !== null) {
    return record[singular];
  }
  return item;
}
