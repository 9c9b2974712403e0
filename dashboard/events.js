import { api } from './session.js';

// The topology event stream: a one-time ticket (POST with the token; EventSource cannot send a
// header, and a ticket in the URL is harmless in logs where a token would not be), then an
// EventSource on it. Any error closes the source and starts over with a new ticket after a
// growing pause, and a new connection always begins with a full snapshot: the server cuts clients
// that read too slowly, and this is how they catch up.

export const TICKETS = '/v2.0/weft/topology/tickets';
export const EVENTS = '/v2.0/weft/topology/events';
const FIRST_RETRY_MS = 500;
const LAST_RETRY_MS = 10_000;

/**
 * handlers: snapshot(data), changes(data), state('connecting' | 'live' | 'reconnecting'),
 * rejected() when the token is refused (the page asks for another).
 */
export function followTopology(handlers) {
  let source;
  let timer;
  let stopped = false;
  let delay = FIRST_RETRY_MS;

  const retry = () => {
    if (stopped) return;
    handlers.state('reconnecting');
    timer = setTimeout(open, delay);
    delay = Math.min(delay * 2, LAST_RETRY_MS);
  };

  async function open() {
    if (stopped) return;
    handlers.state('connecting');
    let ticket;
    try {
      const res = await api(TICKETS, { method: 'POST' });
      if (res.status === 401) {
        stopped = true;
        return handlers.rejected();
      }
      if (!res.ok) return retry();
      ticket = (await res.json()).ticket.id;
    } catch {
      return retry();
    }
    if (stopped) return;
    source = new EventSource(`${EVENTS}?ticket=${encodeURIComponent(ticket)}`);
    source.addEventListener('snapshot', (e) => {
      delay = FIRST_RETRY_MS;
      handlers.snapshot(JSON.parse(e.data));
      handlers.state('live');
    });
    source.addEventListener('changes', (e) => handlers.changes(JSON.parse(e.data)));
    // EventSource would retry by itself with the same, already used, ticket.
    source.onerror = () => {
      source.close();
      source = undefined;
      retry();
    };
  }

  open();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      source?.close();
    },
  };
}
