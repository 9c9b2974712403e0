// A clean stop (SIGTERM) of an agent whose host is the active gateway of HA routers: it hands them
// over at once instead of leaving the controller to wait l3FenceMs + margin (400 ms) after its
// channel closes (controller/sync/gateway-failover.ts handover).
//
// Order: the old gateway silences its HA routers FIRST, then says `leaving`; the controller moves
// the routers in one commit, the new gateway promotes as it gets it, and this agent waits
// (bounded) until its own view shows none of them active here before it closes. Why silence first
// rather than keep the legs up until the view arrives and demote then: the demotion and the
// promotion are driven by the same commit on two hosts and race, so both gateways may answer for
// tens of ms; having the new one wait for an acknowledgement of the old one's demotion costs a
// round trip more than silencing first, which costs only the `leaving` message and the commit
// (milliseconds) on top of the promotion, and never lets two gateways be active. What the outage
// is made of: the promotion alone (measured in test/e2e/l3-ha-fencing.test.ts). Measured once on
// the loaded lab with the demotion left to the view instead: both gateways had legs up at a sample
// 283 ms after SIGTERM (the new one was up at 275 ms, the old one down somewhere before 498 ms), for
// an outage of 348 ms; silencing first gave 494 ms and no overlap.
//
// A controller that cannot be told (channel down, or an older controller: its welcome has no
// `handover`) leaves today's path: the dead-man switch sets the legs down as the agent closes and
// the controller fails them over after its delay (or when the watcher confirms, dead-man.ts). A
// controller that was told but moves nothing (no live standby) costs the wait bound, no more.

export interface HandoverOptions {
  /** HA routers active on this host as the L3 manager last planned them (L3Manager.activeHaRouters). */
  activeHaRouters: () => string[];
  /** Silence every HA router; resolves once their legs are down. */
  silence: () => Promise<void>;
  /** Send `leaving` (ControllerChannel.sendLeaving); false: the controller cannot be told. */
  sendLeaving: () => boolean;
  /** Longest wait for the view that moves them. Default 2000 ms. */
  waitMs?: number;
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

export type HandoverOutcome = 'nothing-active' | 'not-told' | 'handed-over' | 'timed-out';

const POLL_MS = 10;

export async function handOver(o: HandoverOptions): Promise<HandoverOutcome> {
  const active = o.activeHaRouters();
  if (!active.length) return 'nothing-active';
  const started = Date.now();
  await o.silence();
  if (!o.sendLeaving()) {
    o.log?.warn({ routers: active }, 'stopping: the controller cannot be told; it fails the HA routers over after its delay');
    return 'not-told';
  }
  o.log?.info({ routers: active, silencedMs: Date.now() - started }, 'stopping: HA routers silenced, the controller told to hand them over');
  const deadline = started + (o.waitMs ?? 2000);
  while (Date.now() < deadline) {
    if (!o.activeHaRouters().length) {
      o.log?.info({ ms: Date.now() - started }, 'stopping: the HA routers were handed over');
      return 'handed-over';
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  o.log?.warn({ routers: o.activeHaRouters() }, 'stopping: the controller did not move the HA routers in time; they stay silent');
  return 'timed-out';
}
