import { randomBytes } from 'node:crypto';
import { makeContext, type RequestContext } from '../../auth/context.ts';
import type { SharedState } from '../../store/shared-state.ts';

// Tickets for the topology event stream. A browser's EventSource cannot send X-Auth-Token, so the
// page first asks for a ticket with its token (an ordinary authenticated POST) and opens the
// stream with `?ticket=`. Why not `?token=` instead: a token is long-lived (static tokens never
// expire), and a URL ends up in access logs (fastify logs every request's URL), browser history
// and proxies; a ticket is good for one stream, only for TICKET_TTL_MS, and only for the
// topology stream, so a ticket read from a log is worthless. It carries the caller as the
// authenticator saw them when it was issued.
//
// Tickets live in the replicas' shared state (store/shared-state.ts): behind a load balancer the
// POST and the GET may reach different replicas, and a ticket still works once across all of them
// (the redeeming replica takes it, which no other replica can then do). The expiry is checked
// against the issuer's clock reading written in the ticket; the shared state's own time to live
// only clears tickets nobody redeemed.

export const TICKET_TTL_MS = 30_000;
/** 32 random bytes, base64url: anything else cannot be a ticket and is not looked up. */
const TICKET_ID = /^[A-Za-z0-9_-]{43}$/;

interface Issued {
  projectId: string;
  userId: string;
  roles: string[];
  expiresAt: number;
}

export class TicketBook {
  constructor(
    private readonly shared: SharedState,
    private readonly now: () => number = Date.now,
  ) {}

  async issue(ctx: RequestContext): Promise<{ id: string; expiresAt: number }> {
    const id = randomBytes(32).toString('base64url');
    const expiresAt = this.now() + TICKET_TTL_MS;
    const issued: Issued = { projectId: ctx.projectId, userId: ctx.userId, roles: [...ctx.roles], expiresAt };
    await this.shared.put(ticketKey(id), JSON.stringify(issued), { ttlMs: TICKET_TTL_MS });
    return { id, expiresAt };
  }

  /** The caller a ticket was issued to; a ticket works once. */
  async redeem(id: string): Promise<RequestContext | undefined> {
    if (!TICKET_ID.test(id)) return undefined;
    const raw = await this.shared.take(ticketKey(id));
    if (raw === undefined) return undefined;
    const issued = JSON.parse(raw) as Issued;
    return issued.expiresAt > this.now() ? makeContext(issued.projectId, issued.roles, issued.userId) : undefined;
  }
}

const ticketKey = (id: string) => `tickets/${id}`;
