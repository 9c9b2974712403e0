// What applying a router sets going without waiting for it: conntrack clean-ups and gratuitous
// ARPs, some after a delay. Each is tracked, so that the manager's close() waits for them, and a
// failure is logged, never thrown: the traffic does not wait on any of them.
import { AnnouncementQueue } from './announce-queue.ts';
import { DelayedWork } from './delayed-work.ts';
import type { L3Ops } from './ops.ts';

type Log = { warn(obj: object, msg: string): void };

export class BackgroundWork {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly delayed: DelayedWork;
  /** Gratuitous ARPs sent in batches, when the ops can (announce-queue.ts). */
  private readonly announcements: AnnouncementQueue | undefined;

  constructor(private readonly ops: Pick<L3Ops, 'announce' | 'announceMany'>, private readonly log: Log, delayMs: number) {
    this.delayed = new DelayedWork(delayMs);
    const many = ops.announceMany;
    this.announcements = many && new AnnouncementQueue((items) => many(items, 1), (work) => this.run(work, {}, 'gratuitous ARPs failed'),
      (err, items) => log.warn({ err, addresses: items.length }, 'gratuitous ARPs failed'));
  }

  /** `work` after the delay. */
  later(work: () => void): void {
    this.delayed.schedule(work);
  }

  run(work: Promise<void>, context: Record<string, unknown>, message: string): void {
    const tracked = work.catch((e) => this.log.warn({ err: e, ...context }, message)).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /** A gratuitous ARP for `ip` out of `iface` in `netns`. */
  announce(netns: string, iface: string, ip: string, context: Record<string, unknown>): void {
    if (this.announcements) this.announcements.add({ netns, iface, ip });
    else this.run(this.ops.announce(netns, iface, ip), context, 'gratuitous ARP failed');
  }

  /** Runs at once what still waits, and resolves when everything started has ended. */
  async drain(): Promise<void> {
    this.delayed.flush();
    while (this.inFlight.size) await Promise.all(this.inFlight);
  }
}
