import type { ServerResponse } from 'node:http';
import { NeutronError } from '../../errors.ts';
import { REQUEST_ID_HEADER } from '../../request-context.ts';
import type { ApiPlugin } from '../context.ts';
import { TopologyStream, type StreamEnd } from './stream.ts';
import { TicketBook } from './tickets.ts';

// The topology event stream the dashboard draws from, under a Weft-only prefix so that it never
// collides with a Neutron path:
//   POST /v2.0/weft/topology/tickets          (X-Auth-Token)  -> 201 {"ticket": {"id", "expires_at"}}
//   GET  /v2.0/weft/topology/events?ticket=ID  -> text/event-stream: `snapshot`, then `changes`
// The events path is public to the API's token check (app.ts): EventSource cannot send a header,
// so the ticket is the credential (tickets.ts says why a ticket rather than the token).

export const TOPOLOGY_PREFIX = '/v2.0/weft/topology';
export const TOPOLOGY_EVENTS_PATH = `${TOPOLOGY_PREFIX}/events`;
/** Open streams per user: a page per tab is plenty, and each stream costs work on every commit. */
export const MAX_STREAMS_PER_USER = 16;

const noTicket = () => new NeutronError(401, 'HTTPUnauthorized',
  `Authentication required: a valid ticket is needed (POST ${TOPOLOGY_PREFIX}/tickets with X-Auth-Token; a ticket works once, within 30 s).`);

export const topologyApi: ApiPlugin = (app, { store, shared }) => {
  const tickets = new TicketBook(shared);
  const open = new Map<TopologyStream, ServerResponse>();
  const perUser = new Map<string, number>();
  const docs = (summary: string) => ({ schema: { tags: ['weft'], summary } });

  app.post(`${TOPOLOGY_PREFIX}/tickets`, docs('A one-time ticket (30 s) to open the topology event stream'), async (req, reply) => {
    const ticket = await tickets.issue(req.ctx);
    reply.code(201).header('cache-control', 'no-store');
    return { ticket: { id: ticket.id, expires_at: new Date(ticket.expiresAt).toISOString() } };
  });

  app.get(TOPOLOGY_EVENTS_PATH, docs('Server-sent events: the visible topology, then every change to it'), async (req, reply) => {
    const { ticket } = req.query as { ticket?: unknown };
    const ctx = typeof ticket === 'string' ? await tickets.redeem(ticket) : undefined;
    if (!ctx) throw noTicket();
    const user = `${ctx.projectId}\u0000${ctx.userId}`;
    const streams = perUser.get(user) ?? 0;
    if (streams >= MAX_STREAMS_PER_USER) {
      throw new NeutronError(429, 'HTTPTooManyRequests', `Too many open topology streams (at most ${MAX_STREAMS_PER_USER} per user).`);
    }
    perUser.set(user, streams + 1);

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no', // nginx: do not hold events back
      [REQUEST_ID_HEADER]: req.id,
    });
    const onEnd = (reason: StreamEnd) => {
      open.delete(stream);
      const left = (perUser.get(user) ?? 1) - 1;
      if (left > 0) perUser.set(user, left);
      else perUser.delete(user);
      if (reason === 'too-slow') req.log.warn({ project: ctx.projectId }, 'topology stream client reads too slowly; cut (it reconnects with a fresh snapshot)');
    };
    const stream = new TopologyStream({
      store,
      ctx,
      sink: {
        write: (text) => {
          if (!res.destroyed) res.write(text);
        },
        get bufferedAmount() {
          return res.writableLength;
        },
        destroy: () => res.destroy(),
      },
      onEnd,
    });
    open.set(stream, res);
    // The client went away (or the connection was cut): stop following commits.
    res.on('close', () => stream.end('client-gone'));
    if (res.destroyed || !res.socket || res.socket.destroyed) stream.end('client-gone'); // gone before we listened
    stream.start();
  });

  // Open streams would keep the server from closing.
  app.addHook('preClose', async () => {
    for (const [stream, res] of [...open]) {
      stream.end('shutdown');
      res.end();
    }
  });
};
