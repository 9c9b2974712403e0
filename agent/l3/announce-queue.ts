// Gratuitous ARPs asked for one at a time (a floating IP that appears or moves, a router's new leg)
// and sent together: what is asked while a batch is out goes in the next one, one process per batch
// (ops.announceMany, garp.py). A thousand floating IPs created in a row were a thousand
// `busybox arping` processes, hundreds of them alive at once on the cores that forward traffic.
// The first address asked for after a quiet spell goes out at once: a failover's is not delayed.
import type { Announcement } from './ops.ts';

export class AnnouncementQueue {
  private readonly queued = new Map<string, Announcement>();
  private draining = false;

  /**
   * `send`: one batch. `track`: each drain's work, for the owner to await at close. `failed`: a
   * batch that could not be sent (the next ones still are).
   */
  constructor(private readonly send: (items: Announcement[]) => Promise<void>, private readonly track: (work: Promise<void>) => void,
    private readonly failed: (err: unknown, items: Announcement[]) => void) {}

  add(a: Announcement): void {
    this.queued.set(`${a.netns}\t${a.iface}\t${a.ip}`, a);
    if (!this.draining) this.track(this.drain());
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queued.size) {
        const items = [...this.queued.values()];
        this.queued.clear();
        await this.send(items).catch((err: unknown) => this.failed(err, items));
      }
    } finally {
      this.draining = false;
    }
  }
}
