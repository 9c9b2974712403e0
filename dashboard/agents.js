import { api } from './session.js';

// Agents' health from GET /v2.0/agents (admins only): alive or not, and the revision each has
// applied. Liveness is heartbeats, kept in the controller's memory and never committed, so no
// event announces it: the list (one row per host, small) is read every few seconds, and soon
// after each change event, when agents are about to report having applied it.

const EVERY_MS = 5000;
const AFTER_CHANGE_MS = 300;

/** Calls onAgents(list | null) with each reading (null when it failed). */
export function watchAgents(onAgents) {
  let timer;
  let soon;
  let stopped = false;
  let reading = false;
  let again = false;
  const read = async () => {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    clearTimeout(timer);
    try {
      const res = await api('/v2.0/agents?fields=id&fields=host&fields=alive&fields=admin_state_up&fields=configurations&fields=heartbeat_timestamp');
      onAgents(res.ok ? (await res.json()).agents : null);
    } catch {
      onAgents(null);
    }
    reading = false;
    if (stopped) return;
    if (again) {
      again = false;
      return read();
    }
    timer = setTimeout(read, EVERY_MS);
  };
  read();
  return {
    /** A commit happened: read again shortly. */
    changed() {
      if (soon || stopped) return;
      soon = setTimeout(() => {
        soon = undefined;
        if (!stopped) read();
      }, AFTER_CHANGE_MS);
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      clearTimeout(soon);
    },
  };
}
