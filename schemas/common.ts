import { z } from 'zod';
import { Address4, Address6 } from 'ip-address';

// Wire types shared by every resource. Messages read the way Neutron's validators do,
// because clients show them to users.

export const uuid = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/, "is not a valid UUID")
  .transform((s) => s.toLowerCase());

/** Project ids in Keystone are 32 hex digits; tests and noauth may use other strings. */
export const projectId = z.string().min(1).max(255).regex(/^[A-Za-z0-9_.:-]+$/, 'is not a valid project id');

export const name = z.string().max(255);
export const description = z.string().max(255);

export function isIpv4(s: string): boolean {
  return Address4.isValid(s) && !s.includes('/') && /^\d+\.\d+\.\d+\.\d+$/.test(s);
}

export function isIpv6(s: string): boolean {
  return Address6.isValid(s) && !s.includes('/') && !s.includes('%');
}

export const ipAddress = z.string().refine((s) => isIpv4(s) || isIpv6(s), { message: 'is not a valid IP address' });

export function isCidr(s: string): boolean {
  const [addr, len, extra] = s.split('/');
  if (extra !== undefined || len === undefined || !/^\d{1,3}$/.test(len)) return false;
  if (isIpv4(addr)) return Number(len) <= 32;
  if (isIpv6(addr)) return Number(len) <= 128;
  return false;
}

export const cidr = z.string().refine(isCidr, { message: 'is not a valid IP subnet' });

export const macAddress = z
  .string()
  .regex(/^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/, 'is not a valid MAC address')
  .transform((s) => s.toLowerCase().replace(/-/g, ':'));

export const tag = z.string().min(1).max(255).refine((s) => !s.includes(','), { message: "'tags' cannot contain commas" });
export const tags = z.array(tag).max(50);

/** Neutron accepts "true"/"false" strings for booleans in bodies too (python clients send real booleans). */
export const bool = z.preprocess((v) => {
  if (typeof v === 'string') {
    const s = v.toLowerCase();
    if (s === 'true' || s === '1') return true;
    if (s === 'false' || s === '0') return false;
  }
  return v;
}, z.boolean());

export const standardAttributes = {
  id: z.string(),
  project_id: z.string(),
  tenant_id: z.string(),
  name: z.string(),
  description: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
  revision_number: z.number().int(),
  tags: z.array(z.string()),
};

/** Fields a create body may carry for ownership. */
export const ownership = {
  project_id: projectId.optional(),
  tenant_id: projectId.optional(),
};

// Messages name no value: describeIssues puts the value in front, as Neutron's do.
const notInteger = 'is not an integer';

/** Neutron's convert_to_int + type:non_negative: an integer or its decimal text, at least 0. */
export const nonNegativeInt = z
  .union([z.int({ error: notInteger }), z.string().regex(/^-?\d+$/, { error: notInteger })], { error: notInteger })
  .transform(Number)
  .refine((v) => v >= 0, { error: 'should be non-negative' });
