import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DATAPLANE_HEADER, WAIT_HEADER, WAIT_QUERY } from '../../schemas/agent/channel.ts';
import { badRequest } from '../errors.ts';
import type { SyncHub } from './hub.ts';

// "Wait for the dataplane": a mutating request with `X-Weft-Wait-Dataplane: <seconds>` (or the
// query parameter `wait_for_dataplane=<seconds>`) is answered only once every alive connected agent
// is in step at the store revision reached when the handler finished (has applied everything sent to
// it up to there: an agent whose view the change did not touch holds nothing up), and, for a port created or
// updated through /v2.0/ports that is bound to a host with an alive agent, once that agent reported
// the port up; or when the time is over. The answer carries `X-Weft-Dataplane: applied|timeout`,
// and a port in its body shows the status (and revision_number, updated_at) after the wait.
// With no agent alive the condition holds at once. Errors (4xx) never wait and carry no header.

export { DATAPLANE_HEADER };
/** The longest wait a request may ask for, in seconds. */
export const MAX_WAIT_SECONDS = 60;

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const PORTS = /^\/v2\.0\/ports(\/[^/]+)?\/?$/;

function one(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? String(v[v.length - 1]) : String(v);
}

/** Seconds to wait, capped; a 400 for anything that is not a non-negative number. */
export function parseWait(raw: string, source: string): number {
  const text = raw.trim();
  if (!/^\d+(\.\d+)?$/.test(text)) {
    throw badRequest(`Invalid input for ${source}. Reason: '${raw}' is not a non-negative number of seconds.`);
  }
  return Math.min(Number(text), MAX_WAIT_SECONDS);
}

const isPortsRequest = (req: FastifyRequest) => PORTS.test(req.url.split('?')[0]) && (req.method === 'POST' || req.method === 'PUT');

type PortRow = Record<string, unknown> & { id?: unknown };

/** The port rows of a /v2.0/ports create or update answer. */
function portRows(req: FastifyRequest, body: unknown): PortRow[] {
  if (!isPortsRequest(req) || body === null || typeof body !== 'object') return [];
  const { port, ports } = body as { port?: PortRow; ports?: PortRow[] };
  const rows = port && typeof port === 'object' ? [port] : Array.isArray(ports) ? ports : [];
  return rows.filter((p) => p && typeof p.id === 'string');
}

/** Fields the wait may have changed (the agent's report sets status, which bumps the revision). */
const REFRESHED = ['status', 'revision_number', 'updated_at'] as const;

export function registerDataplaneWait(app: FastifyInstance, hub: SyncHub): void {
  const waits = new WeakMap<FastifyRequest, number>();

  app.addHook('onRequest', async (req) => {
    // Taken out of the query whatever the method, so that list filters never see it.
    const query = req.query as Record<string, unknown> | undefined;
    let raw: string | undefined;
    let source = WAIT_QUERY;
    if (query && typeof query === 'object' && Object.hasOwn(query, WAIT_QUERY)) {
      raw = one(query[WAIT_QUERY]);
      delete query[WAIT_QUERY];
    }
    const header = one(req.headers[WAIT_HEADER]);
    if (header !== undefined) {
      raw = header;
      source = WAIT_HEADER;
    }
    if (raw === undefined || !MUTATING.has(req.method)) return;
    waits.set(req, parseWait(raw, source));
  });

  const wait = async (req: FastifyRequest, reply: FastifyReply, portIds: string[]): Promise<boolean> => {
    const seconds = waits.get(req);
    if (seconds === undefined) return false;
    waits.delete(req);
    if (reply.statusCode >= 400) return false;
    // The revision the handler's commit reached (or a later one).
    const outcome = await hub.waitForDataplane(hub.store.revision, portIds, seconds * 1000);
    reply.header(DATAPLANE_HEADER, outcome);
    return true;
  };

  // JSON answers wait before serialization, so that a port's status in the body is the one after the wait.
  app.addHook('preSerialization', async (req, reply, payload: unknown) => {
    const rows = portRows(req, payload);
    if (!(await wait(req, reply, rows.map((r) => r.id as string))) || !rows.length) return payload;
    const view = hub.store.view();
    const fresh = (row: PortRow) => {
      const doc = view.get('port', row.id as string);
      if (!doc) return row;
      const out = { ...row };
      for (const f of REFRESHED) if (Object.hasOwn(row, f)) out[f] = doc[f];
      return out;
    };
    const body = payload as { port?: PortRow; ports?: PortRow[] };
    return body.port ? { ...body, port: fresh(body.port) } : { ...body, ports: body.ports!.map(fresh) };
  });

  // Answers without a body (204 on delete) wait here.
  app.addHook('onSend', async (req, reply, payload) => {
    await wait(req, reply, []);
    return payload;
  });
}
