import { randomBytes } from 'node:crypto';
import type { RequestContext } from '../../auth/context.ts';

// Tickets for the topology event stream. A browser's EventSource cannot send X-Auth-Token, so the
// page first asks for a ticket with its token (an ordinary authenticated POST) and opens the
// stream with `?ticket=`. Why not `?token=` instead: a token is long-lived (static tokens never
// expire), and a URL ends up in access logs (fastify logs every request's URL), browser history
// and proxies; a ticket is good for one stream, only for TICKET_TTL_MS, and only for the
// topology stream, so a ticket read from a log is worthless. It carries the caller as the
// authenticator saw them when it was issued.

export const TICKET_TTL_MS = 30_000;
/** Tickets held at most; beyond it the oldest are forgotten (memory stays bounded whoever asks). */
const MAX_TICKETS = 10_000;

interface Issued {
  ctx: RequestContext;
  expiresAt: number;
}

export class TicketBook {
  private readonly tickets = new Map<string, Issued>();

  constructor(private readonly now: () => number = Date.now) {}

  issue(ctx: RequestContext): { id: string; expiresAt: number } {
    this.forgetExpired();
    while (this.tickets.size >= MAX_TICKETS) this.tickets.delete(this.tickets.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    const expiresAt = this.now() + TICKET_TTL_MS;
    this.tickets.set(id, { ctx, expiresAt });
    return { id, expiresAt };
  }

  /** The caller a ticket was issued to; a ticket works once. */
  redeem(id: string): RequestContext | undefined {
    const issued = this.tickets.get(id);
    if (!issued) return undefined;
    this.tickets.delete(id);
    return issued.expiresAt > this.now() ? issued.ctx : undefined;
  }

  get size(): number {
    return this.tickets.size;
  }

  /** Map order is issue order, and every ticket lives equally long: expired ones are at the front. */
  private forgetExpired(): void {
    const now = this.now();
    for (const [id, issued] of this.tickets) {
      if (issued.expiresAt > now) break;
      this.tickets.delete(id);
    }
  }
}
