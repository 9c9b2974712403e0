import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage } from 'node:http';

// Request ids, as Neutron has them: every API request gets one (`req-<uuid>`, or the caller's own
// from X-Openstack-Request-Id or X-Request-Id), answered in X-Openstack-Request-Id and written in
// every log line of the request. The id is also kept in an AsyncLocalStorage for the request's
// handler, so that the store's commit listeners, which run synchronously inside the handler's
// transaction, can tell which request made a commit: the sync hub sends it to the agents with the
// change, and their logs name it when they apply it.

export const REQUEST_ID_HEADER = 'x-openstack-request-id';
const INCOMING_HEADERS = [REQUEST_ID_HEADER, 'x-request-id'] as const;

/** What a caller's id may look like: it ends up in logs, headers and agent messages. */
const ACCEPTABLE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** The caller's request id if it sent an acceptable one, else a new `req-<uuid>`. */
export function requestIdOf(req: IncomingMessage): string {
  for (const name of INCOMING_HEADERS) {
    const value = req.headers[name];
    const id = Array.isArray(value) ? value[0] : value;
    if (id && ACCEPTABLE_ID.test(id)) return id;
  }
  return `req-${crypto.randomUUID()}`;
}

const scope = new AsyncLocalStorage<string | readonly string[]>();

/** Run `fn` (a request's handler and everything it awaits) as the request `id`. */
export function runAsRequest<T>(id: string, fn: () => T): T {
  return scope.run(id, fn);
}

/** Run `fn` as several requests at once (a group commit made for all of them). */
export function runAsRequests<T>(ids: readonly string[], fn: () => T): T {
  return scope.run(ids.length === 1 ? ids[0] : ids, fn);
}

/** The id of the API request whose handler is running, if any (the first, when several). */
export function currentRequestId(): string | undefined {
  const current = scope.getStore();
  return typeof current === 'string' ? current : current?.[0];
}

/** Every API request the running code is for. */
export function currentRequestIds(): readonly string[] | undefined {
  const current = scope.getStore();
  return typeof current === 'string' ? [current] : current;
}
