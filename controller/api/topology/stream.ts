import type { RequestContext } from '../../auth/context.ts';
import type { Change, Store } from '../../store/types.ts';
import { TopologyView } from './view.ts';

// One client's topology event stream (server-sent events): a `snapshot` event with everything the
// caller sees at revision R, then one `changes` event per later commit, computed from the store's
// commit listener (which runs synchronously after each commit, so the snapshot and the first
// changes event can neither miss nor repeat a revision). Admins get an event for every commit, an
// empty one when nothing they see changed, so that the page knows the model's revision and can
// show how far each agent lags; members only get commits that change what they see (how busy other
// projects are is none of their business).
//
// A client that reads too slowly is not buffered for without bound: once more than the buffer
// limit waits to be sent, the connection is cut, and the page reconnects and starts from a fresh
// snapshot (what the agents' channel does too, see sync/session.ts).

/** The transport under a stream (an HTTP response in production, anything in tests). */
export interface EventSink {
  write(text: string): void;
  /** Bytes written but not yet sent to the network. */
  readonly bufferedAmount: number;
  /** Cut the connection now, dropping what is buffered. */
  destroy(): void;
}

export interface TopologyStreamOptions {
  store: Store;
  ctx: RequestContext;
  sink: EventSink;
  /** Bytes that may wait to be sent beyond the last snapshot before the client is cut (default 4 MiB). */
  bufferLimit?: number;
  /** Milliseconds between keep-alive comments (default 15 s): proxies keep the stream open, dead peers are noticed. */
  keepaliveMs?: number;
  /** Called once when the stream ends, for whatever reason. */
  onEnd?(reason: StreamEnd): void;
}

export type StreamEnd = 'client-gone' | 'too-slow' | 'shutdown';

export const DEFAULT_BUFFER_LIMIT = 4 * 1024 * 1024;
const DEFAULT_KEEPALIVE_MS = 15_000;

export function sseEvent(event: string, data: unknown): string {
  // JSON.stringify escapes line breaks, so the data is always one `data:` line.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class TopologyStream {
  private readonly view: TopologyView;
  private readonly limit: number;
  /** Bytes of the last snapshot still allowed over the limit (a snapshot may itself be bigger than it). */
  private allowance = 0;
  private unsubscribe: (() => void) | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(private readonly options: TopologyStreamOptions) {
    this.view = new TopologyView(options.ctx);
    this.limit = options.bufferLimit ?? DEFAULT_BUFFER_LIMIT;
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Send the snapshot and follow the store's commits. */
  start(): void {
    if (this.ended) return;
    const { store, ctx, sink } = this.options;
    const model = store.view();
    const text = sseEvent('snapshot', {
      revision: model.revision,
      caller: { project_id: ctx.projectId, admin: ctx.isAdmin },
      docs: this.view.snapshot(model),
    });
    // Subscribed in the same synchronous turn as the snapshot was read: no commit falls between.
    this.unsubscribe = store.subscribe((changes, revision) => this.push(changes, revision));
    sink.write(text);
    this.allowance = Buffer.byteLength(text);
    this.keepalive = setInterval(() => this.send(': keepalive\n\n'), this.options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS);
    this.keepalive.unref();
  }

  /** Stop following commits; `reason` says why (the connection is already gone, or is cut by the caller). */
  end(reason: StreamEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = undefined;
    this.options.onEnd?.(reason);
  }

  private push(changes: readonly Change[], revision: number): void {
    if (this.ended || this.tooSlow()) return;
    const visible = this.view.apply(changes, this.options.store.view());
    if (!visible.length && !this.options.ctx.isAdmin) return;
    this.send(sseEvent('changes', { revision, changes: visible }));
  }

  private send(text: string): void {
    if (this.ended || this.tooSlow()) return;
    this.options.sink.write(text);
  }

  private tooSlow(): boolean {
    const buffered = this.options.sink.bufferedAmount;
    if (buffered <= this.limit) {
      this.allowance = 0;
      return false;
    }
    if (buffered <= this.limit + this.allowance) return false;
    this.options.sink.destroy();
    this.end('too-slow');
    return true;
  }
}
