// One quorum read shared by the requests that wait on it. A read barrier must answer from a read
// sent after the request asked, or it could miss a write acknowledged just before. So a caller
// joins the read on the wire only if it has not been sent yet: callers who come while one is on
// the wire share the next one, sent when it returns. N concurrent callers cost two reads, not N.

export class FreshRead<T> {
  private onTheWire?: Promise<T>;
  private following?: Promise<T>;

  constructor(private readonly read: () => Promise<T>) {}

  /** The result of a read that was sent after this call. */
  get(): Promise<T> {
    if (!this.onTheWire) return this.send();
    this.following ??= this.onTheWire.then(settled, settled).then(() => {
      this.following = undefined;
      // A read sent since the last one returned was sent after every caller that waits here.
      return this.onTheWire ?? this.send();
    });
    return this.following;
  }

  private send(): Promise<T> {
    const sent: Promise<T> = this.read().finally(() => {
      if (this.onTheWire === sent) this.onTheWire = undefined;
    });
    this.onTheWire = sent;
    return sent;
  }
}

const settled = () => undefined;
