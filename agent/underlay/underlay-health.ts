// The agent's underlay health: a BFD port to every BFD peer (bfd-plan.ts) on br-int (bfd-ports.ts), their
// sessions followed (bfd-watch.ts), the controller told of every change of a peer's state (and of
// all of them after each welcome), and the HA routers silenced while this host has lost a majority
// of its peers (isolated: its own link is the likely cut, and the controller, which hears the
// peers, gives its routers to a standby). Once the underlay is back it waits `holdMs` before
// following its view again: BFD needs a second or more to come back up, long after the controller
// (which decides `l3FailoverMarginMs` after the peers' reports) has streamed any move to this
// connected agent, so the view is current by then.
import type { AgentView } from '../../schemas/agent/view.ts';
import type { OvsdbConnection } from '../ovsdb/connection.ts';
import { bfdPeers, type BfdPeer } from './bfd-plan.ts';
import { syncBfdPorts } from './bfd-ports.ts';
import { BfdWatch } from './bfd-watch.ts';
import { PeerStates, type Reach } from './peer-states.ts';

export interface UnderlayLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface UnderlayHealthOptions {
  conn: OvsdbConnection;
  host: string;
  tunnelIp: string;
  bridge: string;
  /** Tell the controller; false when the channel is down (a full report follows the next welcome). */
  report: (peers: Record<string, Reach | null>, full: boolean, isolated?: boolean) => boolean;
  /** Silence (true) or restore (false) the HA routers for this cause; resolves once done. */
  setIsolated: (on: boolean) => Promise<void>;
  holdMs: number;
  log: UnderlayLog;
}

export class UnderlayHealth {
  private readonly states = new PeerStates();
  private watch: BfdWatch | undefined;
  private planKey = '';
  private ports: Promise<unknown> = Promise.resolve();
  private isolated = false;
  /** Isolated and the HA routers are silent by now (what the controller may rely on). */
  private silent = false;
  private holdTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** The controller of the current connection takes underlay reports (its welcome said so). */
  private heard = false;

  private constructor(private readonly o: UnderlayHealthOptions) {}

  static async start(o: UnderlayHealthOptions): Promise<UnderlayHealth> {
    const h = new UnderlayHealth(o);
    h.watch = await BfdWatch.start(o.conn, {
      onReach: (host, reach) => h.reached(host, reach),
      onGone: (host) => h.gone(host),
      onClose: (err) => { if (!h.closed) o.log.error({ err }, 'BFD monitor closed'); },
    });
    return h;
  }

  /** The agents of the model (their VTEPs and gateway flags): BFD ports follow, written only when the peers changed. */
  agentsChanged(agents: Iterable<AgentView>): void {
    const peers = bfdPeers(this.o.tunnelIp, agents, this.o.host);
    const key = peers.map((p) => `${p.name}=${p.host}`).join(',');
    if (key === this.planKey) return;
    this.planKey = key;
    this.states.setPlanned(peers.map((p) => p.host));
    this.changed();
    this.ports = this.ports.then(() => this.writePorts(peers));
  }

  /** Welcomed by a controller: if it takes underlay reports, it hears everything this agent knows. */
  welcomed(takesReports: boolean): void {
    this.heard = takesReports;
    const full = this.states.takeFull();
    if (takesReports) this.o.report(full, true, this.silent);
  }

  /** The controller moved the HA routers off these hosts: while down, they no longer count (peer-states.ts). */
  hostsLost(hosts: string[]): void {
    let changed = false;
    for (const h of hosts) changed = this.states.markLost(h) || changed;
    if (!changed) return;
    this.o.log.info({ hosts, uncounted: this.states.uncounted, peers: this.states.peers }, 'lost hosts left out of the isolation majority');
    this.changed();
  }

  private report(peers: Record<string, Reach | null>, isolated?: boolean): void {
    if (this.heard) this.o.report(peers, false, isolated);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.holdTimer) clearTimeout(this.holdTimer);
    await this.watch?.stop().catch(() => undefined);
    await this.ports;
  }

  private async writePorts(peers: BfdPeer[]): Promise<void> {
    if (this.closed) return;
    try {
      const r = await syncBfdPorts(this.o.conn, this.o.bridge, this.o.tunnelIp, peers);
      if (r.added || r.changed || r.removed) this.o.log.info({ ...r, peers: peers.map((p) => p.host) }, 'BFD ports to the underlay peers');
    } catch (err) {
      this.o.log.error({ err }, 'cannot write the BFD ports');
    }
  }

  private reached(host: string, reach: Reach): void {
    if (!this.states.update(host, reach)) return;
    this.o.log.info({ peer: host, reach, lost: this.states.lost, peers: this.states.peers, uncounted: this.states.uncounted }, 'BFD peer state changed');
    this.changed();
  }

  private gone(host: string): void {
    this.states.forget(host);
    this.changed();
  }

  /** Report what changed, and fence or (after the hold) unfence. */
  private changed(): void {
    const delta = this.states.takeDelta();
    if (Object.keys(delta).length) this.report(delta);
    const isolated = this.states.isolated;
    if (isolated) {
      if (this.holdTimer) clearTimeout(this.holdTimer);
      this.holdTimer = undefined;
      if (this.isolated) return;
      this.isolated = true;
      this.o.log.warn({ lost: this.states.lost, peers: this.states.peers }, 'cut off from the underlay: HA routers silenced');
      // Once silent, the controller hears it (over the management network) and need not wait its margin.
      void this.o.setIsolated(true).then(() => {
        if (!this.isolated || this.closed) return;
        this.silent = true;
        this.report({}, true);
      });
      return;
    }
    if (!this.isolated || this.holdTimer) return;
    this.holdTimer = setTimeout(() => {
      this.holdTimer = undefined;
      if (this.closed || this.states.isolated) return;
      this.isolated = false;
      this.silent = false;
      this.o.log.info({ peers: this.states.peers }, 'underlay reachable again: HA routers follow the view');
      this.report({}, false);
      void this.o.setIsolated(false);
    }, this.o.holdMs);
    this.holdTimer.unref();
  }
}
