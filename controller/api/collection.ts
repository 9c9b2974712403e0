import { badRequest, notFound } from '../errors.ts';
import type { ReadView } from '../store/types.ts';

// Neutron collection queries: filters (AND across fields, OR within a repeated field),
// tag filters, fields, sorting and marker paging with <collection>_links.

export type Query = Record<string, string | string[] | undefined>;
export type Row = Record<string, unknown>;

const RESERVED = new Set(['fields', 'sort_key', 'sort_dir', 'limit', 'marker', 'page_reverse', 'tags', 'tags-any', 'not-tags', 'not-tags-any']);

export function values(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/** Does a presented value equal a query-string value? Booleans and numbers compare by text. */
export function matchesValue(actual: unknown, wanted: string): boolean {
  if (actual === null || actual === undefined) return wanted === '' || wanted.toLowerCase() === 'none' || wanted.toLowerCase() === 'null';
  if (typeof actual === 'boolean') return String(actual) === wanted.toLowerCase() || (wanted === '1' && actual) || (wanted === '0' && !actual);
  if (typeof actual === 'number') return String(actual) === wanted;
  if (Array.isArray(actual)) return actual.some((a) => typeof a !== 'object' && matchesValue(a, wanted));
  if (typeof actual === 'object') return false;
  return String(actual) === wanted;
}

/** A filter on something other than a shown attribute; it may read the model (a subnet's network). */
export type CustomFilter = (row: Row, wanted: string[], view?: ReadView) => boolean;

export interface CollectionSpec {
  collection: string;
  /** Attributes that may be filtered and sorted on. */
  attributes: readonly string[];
  customFilters?: Record<string, CustomFilter>;
  /** Sort keys shown in one form but ordered by another (e.g. numbers Neutron shows as text). */
  sortAs?: Readonly<Record<string, (value: unknown) => unknown>>;
}

function tagSet(row: Row): Set<string> {
  return new Set(Array.isArray(row.tags) ? (row.tags as string[]) : []);
}

function commaList(v: string | string[] | undefined): string[][] {
  return values(v).map((s) => s.split(',').filter(Boolean));
}

export function filterRows(rows: Row[], query: Query, spec: CollectionSpec, view?: ReadView): Row[] {
  const checks: Array<(row: Row) => boolean> = [];
  const invalid: string[] = [];
  for (const [key, raw] of Object.entries(query)) {
    if (RESERVED.has(key)) continue;
    const wanted = values(raw);
    const custom = spec.customFilters && Object.hasOwn(spec.customFilters, key) ? spec.customFilters[key] : undefined; // not ?toString=...
    if (custom) checks.push((row) => custom(row, wanted, view));
    else if (spec.attributes.includes(key)) checks.push((row) => wanted.some((w) => matchesValue(row[key], w)));
    else invalid.push(key);
  }
  if (invalid.length) throw badRequest(`['${invalid.join("', '")}'] is invalid attribute for filtering`);
  // tags: all of; tags-any: any of; not-tags: not all of; not-tags-any: none of.
  for (const group of commaList(query.tags)) checks.push((r) => group.every((t) => tagSet(r).has(t)));
  for (const group of commaList(query['tags-any'])) checks.push((r) => group.some((t) => tagSet(r).has(t)));
  for (const group of commaList(query['not-tags'])) checks.push((r) => !group.every((t) => tagSet(r).has(t)));
  for (const group of commaList(query['not-tags-any'])) checks.push((r) => !group.some((t) => tagSet(r).has(t)));
  return checks.length ? rows.filter((row) => checks.every((check) => check(row))) : rows;
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const sa = typeof a === 'object' ? JSON.stringify(a) : String(a);
  const sb = typeof b === 'object' ? JSON.stringify(b) : String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

export interface Page {
  rows: Row[];
  links: Array<{ rel: 'next' | 'previous'; href: string }>;
}

function parseLimit(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw badRequest(`Invalid input for limit. Reason: '${raw}' is not an integer.`);
  const n = Number(raw);
  return n === 0 ? undefined : n;
}

function parseBool(raw: string | undefined, field: string): boolean {
  if (raw === undefined) return false;
  const s = raw.toLowerCase();
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  throw badRequest(`Invalid input for ${field}. Reason: '${raw}' is not a valid boolean value.`);
}

/** Sort (always ending with id, so paging is stable) and cut one page. */
export function paginate(rows: Row[], query: Query, spec: CollectionSpec & { kind: string }, baseUrl: string): Page {
  const sortKeys = values(query.sort_key);
  const sortDirs = values(query.sort_dir);
  for (const key of sortKeys) {
    if (!spec.attributes.includes(key)) throw badRequest(`${key} is an invalid attribute for sort_keys`);
  }
  for (const dir of sortDirs) {
    if (dir !== 'asc' && dir !== 'desc') throw badRequest(`${dir} is an invalid value for sort_dir, valid values are: asc, desc`);
  }
  if (sortDirs.length && sortDirs.length !== sortKeys.length) {
    throw badRequest('The number of sort_keys and sort_dirs must be same');
  }
  const limit = parseLimit(values(query.limit)[0]);
  const reverse = parseBool(values(query.page_reverse)[0], 'page_reverse');
  const marker = values(query.marker)[0];
  const keys = [...sortKeys, 'id'];
  const dirs = [...sortKeys.map((_, i) => (sortDirs[i] === 'desc' ? -1 : 1)), sortDirs[0] === 'desc' ? -1 : 1];
  const sortValue = (row: Row, key: string) => (spec.sortAs && Object.hasOwn(spec.sortAs, key) ? spec.sortAs[key](row[key]) : row[key]);
  const order = (a: Row, b: Row) => {
    for (let i = 0; i < keys.length; i++) {
      const c = compare(sortValue(a, keys[i]), sortValue(b, keys[i])) * dirs[i];
      if (c) return reverse ? -c : c;
    }
    return 0;
  };
  let sorted = [...rows].sort(order);
  if (marker !== undefined) {
    const at = sorted.findIndex((r) => r.id === marker);
    if (at < 0) throw notFound(spec.kind, marker);
    sorted = sorted.slice(at + 1);
  }
  let page = limit === undefined ? sorted : sorted.slice(0, limit);
  if (reverse) page = page.reverse();
  const links: Page['links'] = [];
  if (limit !== undefined) {
    const link = (markerId: unknown, backwards: boolean) => {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) {
        if (k === 'marker' || k === 'page_reverse') continue;
        for (const one of values(v)) params.append(k, one);
      }
      if (markerId !== undefined) params.set('marker', String(markerId));
      if (backwards) params.set('page_reverse', 'True');
      return `${baseUrl}?${params.toString()}`;
    };
    // Neutron's rule (api_common.get_pagination_links): a full page always links onwards, so the
    // last one is followed by an empty page; only a short page in the direction of travel ends it.
    // An empty page links without a marker.
    const short = page.length < limit;
    if (!(short && !reverse)) links.push({ rel: 'next', href: link(page.at(-1)?.id, false) });
    if (!(short && reverse)) links.push({ rel: 'previous', href: link(page[0]?.id, true) });
  }
  return { rows: page, links };
}

/** Keep only the requested fields (Neutron's `fields=` query). */
export function selectFields(row: Row, query: Query): Row {
  const fields = values(query.fields).flatMap((f) => f.split(',')).filter(Boolean);
  if (!fields.length) return row;
  const out: Row = {};
  for (const f of fields) if (Object.hasOwn(row, f)) out[f] = row[f];
  return out;
}
