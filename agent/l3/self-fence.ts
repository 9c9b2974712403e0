// Self-fence of HA routers: an agent cut off from the controller for `fenceMs` (WEFT_L3_FENCE_MS,
// the same value as the controller's l3FenceMs) makes all its HA routers silent (L3Manager.setFenced),
// because the controller, which no longer hears it, moves its HA routers to a standby after
// l3FenceMs + a margin: a primary partitioned from the controller stops answering before that, so
// there are never two active gateways. Routers without HA stay: the controller never moves them
// off a lost host, and silencing them would only turn a controller restart into an outage. Once
// connected again, it follows its view as soon as the
// view is current (the first model update after the welcome: a snapshot or the resumed changes),
// never from the stale view it held while away.

export interface SelfFenceOptions {
  fenceMs: number;
  /** Silence (true) or restore (false) the routers. */
  set: (fenced: boolean) => void;
}

export class SelfFence {
  private timer: NodeJS.Timeout | undefined;
  private fenced = false;
  /** Connected again while fenced: unfence at the next model update. */
  private awaitingView = false;

  constructor(private readonly o: SelfFenceOptions) {}

  get isFenced(): boolean {
    return this.fenced;
  }

  /** The connection to the controller is gone. */
  lost(): void {
    this.awaitingView = false;
    if (this.fenced || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.fenced = true;
      this.o.set(true);
    }, this.o.fenceMs);
    this.timer.unref();
  }

  /** Welcomed by a controller again. */
  connected(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.fenced) this.awaitingView = true;
  }

  /** The model took in a message from the controller (call before the L3 manager syncs to it). */
  viewUpdated(): void {
    if (!this.awaitingView) return;
    this.awaitingView = false;
    this.fenced = false;
    this.o.set(false);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
