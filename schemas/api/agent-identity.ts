import { z } from 'zod';

// Weft's agent identity API (not Neutron's): an admin makes a one-time enrolment token for a host,
// the host's agent redeems it for its own credential, bound to that host name.

export const ENROLMENTS_PATH = '/v2.0/weft/agent-enrolments';
/** Where an agent redeems its enrolment token (X-Auth-Token) for its credential. */
export const ENROL_PATH = '/v2.0/weft/enrol';
export const CREDENTIALS_PATH = '/v2.0/weft/agent-credentials';

const host = z.string().min(1).max(255);

export const AgentEnrolmentCreate = z.object({
  host,
  /** Seconds the token stays good (default a day, at most 30 days). */
  expires_in: z.number().int().min(1).max(30 * 24 * 3600).optional(),
}).strict();
export type AgentEnrolmentCreate = z.infer<typeof AgentEnrolmentCreate>;

export const AgentEnrolment = z.object({
  id: z.string(),
  host: z.string(),
  created_at: z.string(),
  expires_at: z.string(),
  used: z.boolean(),
  used_at: z.string().nullable(),
  /** Only in the answer to the create: it is not stored and cannot be shown again. */
  token: z.string().optional(),
});

export const AgentCredentialRequest = z.object({ host }).strict();

export const AgentCredential = z.object({
  id: z.string(),
  host: z.string(),
  created_at: z.string(),
  enrolment_id: z.string().nullable(),
  /** Only in the answer to the enrolment: it is not stored and cannot be shown again. */
  credential: z.string().optional(),
});

/**
 * Where a host's L3 dead-man watcher (agent/l3/dead-man.ts), after its agent died, confirms with
 * that host's agent credential (X-Auth-Token) that the host's HA router legs are down, so that the
 * controller moves its HA routers at once (controller/api/agent-identity/legs-down.ts).
 */
export const LEGS_DOWN_PATH = '/v2.0/weft/ha-legs-down';

export const HaLegsDownRequest = z.object({ host }).strict();

export const HaLegsDown = z.object({
  host: z.string(),
  /**
   * failed_over: its agent is not alive, its HA routers were moved (`routers`: id -> new host);
   * held: its agent is still heard (its close not yet seen by this replica, or by the one holding
   * its session), and the routers move as soon as it is lost, if within CONFIRMATION_HOLD_MS;
   * ignored: see `reason`.
   */
  action: z.enum(['failed_over', 'held', 'ignored']),
  reason: z.string().optional(),
  routers: z.record(z.string(), z.string()).optional(),
});
export type HaLegsDown = z.infer<typeof HaLegsDown>;
