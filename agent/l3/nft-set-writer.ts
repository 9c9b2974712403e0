// Replaces the contents of nftables sets and maps in router namespaces over a NETLINK_NETFILTER
// socket of the agent's own (npm netlink), one per namespace, opened inside it (host/netns-enter.ts).
// One sendmsg carries the whole transaction (nft-set-batch.ts) and the kernel commits it inside that
// call: a floating IP remap reaches the kernel without waking anyone, in about 0.2 ms after an idle
// spell, where libnftables first reads the table's sets back in six requests (0.6 ms, 1-2 ms under
// the failover bench's load).
import { getSystemErrorName } from 'node:util';
import { RawNetlinkSocket } from 'netlink';
import { NetnsHandles } from '../host/netns-enter.ts';
import { NftablesError } from './nftables-client.ts';
import { MAX_SET_BATCH_BYTES, parseAcks, refill, setsBatch, SetBatchTooLarge, type NftSetContents, type NftSetUpdate } from './nft-set-batch.ts';

const NETLINK_NETFILTER = 12;
/** The kernel answers inside the sendmsg; this only bounds a socket gone wrong. */
const ACK_TIMEOUT_MS = 5000;

interface Pending {
  /** Every sequence number the transaction is filed under. */
  seqs: number[];
  /** The acks still to come. */
  waiting: Set<number>;
  resolve: () => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

interface Link {
  netns: string;
  socket: RawNetlinkSocket;
  nextSeq: number;
  /** Pending transactions by the sequence numbers they wait for. */
  bySeq: Map<number, Pending>;
}

/** The kernel's errors as nft words them, for those a set refill can meet; the errno's name for the rest. */
const MESSAGES: Record<string, string> = { ENOENT: 'No such file or directory', EEXIST: 'File exists', EINVAL: 'Invalid argument', EPERM: 'Operation not permitted', ENOSPC: 'No space left on device' };
const describe = (errno: number): string => {
  const name = getSystemErrorName(-errno);
  return MESSAGES[name] ?? name;
};

export class NftSetWriter {
  private readonly links = new NetnsHandles<Link>((netns) => this.open(netns), (link, why) => this.closeLink(link, why));

  /** Empties each set of table `ip <table>` in `netns` and fills it with its contents, in one transaction (as update()). */
  replace(netns: string, table: string, sets: readonly NftSetContents[]): Promise<void> {
    return this.update(netns, table, sets.map(refill));
  }

  /**
   * Applies `updates` to the sets of table `ip <table>` in `netns`, in one transaction; rejects
   * with SetBatchTooLarge, sending nothing, when that takes more than one message.
   */
  update(netns: string, table: string, updates: readonly NftSetUpdate[]): Promise<void> {
    let link: Link;
    try {
      link = this.links.get(netns);
    } catch (e) {
      return Promise.reject(new NftablesError(netns, (e as Error).message));
    }
    const batch = setsBatch(table, updates, link.nextSeq);
    if (batch.acked.length === 0) return Promise.resolve(); // nothing to change
    if (batch.bytes.length > MAX_SET_BATCH_BYTES) return Promise.reject(new SetBatchTooLarge(batch.bytes.length));
    link.nextSeq = batch.nextSeq;
    return new Promise<void>((resolve, reject) => {
      // A failure of the whole batch (its commit) is answered on the batch's first message.
      const seqs = [batch.firstSeq, ...batch.acked];
      const pending: Pending = {
        seqs, waiting: new Set(batch.acked), resolve, reject,
        timer: setTimeout(() => this.fail(link, pending, new NftablesError(netns, `no answer from the kernel in ${ACK_TIMEOUT_MS} ms`)), ACK_TIMEOUT_MS),
      };
      pending.timer.unref();
      // The answer is read on a later turn of the loop: the socket keeps the process up until it comes.
      if (link.bySeq.size === 0) link.socket.ref();
      for (const seq of seqs) link.bySeq.set(seq, pending);
      link.socket.send(batch.bytes, {}, (err) => {
        if (err) this.fail(link, pending, new NftablesError(netns, err.message));
      });
    });
  }

  /** Closes the namespace's socket (before the namespace goes away); what is pending there fails. */
  forget(netns: string): void {
    this.links.forget(netns);
  }

  close(): void {
    for (const netns of this.links.names()) this.forget(netns);
  }

  /** A socket in `netns` (the caller is inside it). */
  private open(netns: string): Link {
    const socket = new RawNetlinkSocket(NETLINK_NETFILTER);
    socket.unref();
    const link: Link = { netns, socket, nextSeq: 1, bySeq: new Map() };
    socket.on('message', (datagram) => this.answered(link, datagram));
    socket.on('error', (err) => this.links.forget(netns, err.message, link));
    return link;
  }

  private answered(link: Link, datagram: Buffer): void {
    for (const { seq, error } of parseAcks(datagram)) {
      const p = link.bySeq.get(seq);
      if (!p) continue;
      if (error !== 0) {
        this.fail(link, p, new NftablesError(link.netns, describe(-error)));
        continue;
      }
      p.waiting.delete(seq);
      if (p.waiting.size === 0) {
        this.settle(link, p);
        p.resolve();
      }
    }
  }

  private fail(link: Link, p: Pending, err: Error): void {
    this.settle(link, p);
    p.reject(err);
  }

  private settle(link: Link, p: Pending): void {
    clearTimeout(p.timer);
    for (const seq of p.seqs) link.bySeq.delete(seq);
    p.waiting.clear();
    if (link.bySeq.size === 0) link.socket.unref();
  }

  /** Closes a socket; what is pending on it fails. */
  private closeLink(link: Link, why: string): void {
    for (const p of new Set(link.bySeq.values())) this.fail(link, p, new NftablesError(link.netns, why));
    link.socket.close();
  }
}
