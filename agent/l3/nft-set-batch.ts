// nf_tables netlink messages that change the contents of sets and maps in one transaction, and the
// acknowledgements the kernel answers them with. PURE: bytes in, bytes out.
//
// This is the floating IP remap's path to the kernel (nft-set-writer.ts sends it): per set, a
// DELSETELEM (without elements it flushes the set; with them it takes out those keys) and a
// NEWSETELEM, between BATCH_BEGIN and BATCH_END, committed by the kernel inside the one sendmsg. A
// remap sends only the elements it changes, so its cost does not grow with the router's other
// floating IPs. Every message but the batch markers asks
// for an ack (NLM_F_ACK), so each one is answered with an NLMSG_ERROR carrying 0 or -errno, all of
// them queued before sendmsg returns. Layouts: linux/netlink.h, linux/netfilter/nfnetlink.h and
// linux/netfilter/nf_tables.h (the same messages `nft` sends for `flush set` and `add element`).

const NLMSG_ERROR = 2;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_CREATE = 0x400;
const NLA_F_NESTED = 0x8000;
const NLMSG_HDRLEN = 16;
/** An attribute's length is 16 bits: a set's elements are spread over as many messages as that takes. */
const MAX_ATTR_BYTES = 0xffff;
const NFNL_MSG_BATCH_BEGIN = 16;
const NFNL_MSG_BATCH_END = 17;
const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_NEWSETELEM = 12;
const NFT_MSG_DELSETELEM = 14;
const NFPROTO_IPV4 = 2;
const NFTA_SET_ELEM_LIST_TABLE = 1;
const NFTA_SET_ELEM_LIST_SET = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS = 3;
const NFTA_LIST_ELEM = 1;
const NFTA_SET_ELEM_KEY = 1;
const NFTA_SET_ELEM_DATA = 2;
const NFTA_DATA_VALUE = 1;

/**
 * A netlink socket takes at most its send buffer (212,992 bytes by default, less 32) in one message;
 * a bigger replacement (more than about 2,000 floating IPs on one router) goes through libnftables.
 */
export const MAX_SET_BATCH_BYTES = 200_000;

/** A replacement too large for one netlink message: libnftables, which raises its socket's buffer, can carry it. */
export class SetBatchTooLarge extends Error {
  constructor(readonly bytes: number) {
    super(`a set batch of ${bytes} bytes does not fit one netlink message (${MAX_SET_BATCH_BYTES})`);
    this.name = 'SetBatchTooLarge';
  }
}

/** What one set (or map: with `values`, one per key) of an `ip` table is to hold. Keys and values are raw bytes (an IPv4 address: its 4 bytes). */
export interface NftSetContents {
  name: string;
  keys: readonly Uint8Array[];
  values?: readonly Uint8Array[];
}

/**
 * A change to one set or map of an `ip` table: with `flush`, everything it holds is taken out;
 * else the elements whose keys are in `remove`. Then `keys` (with `values`, for a map) are added.
 */
export interface NftSetUpdate extends NftSetContents {
  flush: boolean;
  remove: readonly Uint8Array[];
}

/** The update that makes a set hold `contents` whatever it held before. */
export const refill = (contents: NftSetContents): NftSetUpdate => ({ ...contents, flush: true, remove: [] });

export interface SetBatch {
  bytes: Buffer;
  /** Sequence number of the batch's first message (BATCH_BEGIN): a failed commit is answered on it. */
  firstSeq: number;
  /** Sequence numbers of the messages that are acknowledged (every message but the markers). */
  acked: number[];
  /** The sequence number after the batch's last. */
  nextSeq: number;
}

const align = (n: number): number => (n + 3) & ~3;

function attr(type: number, data: Uint8Array): Buffer {
  const len = 4 + data.length;
  const out = Buffer.alloc(align(len));
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  out.set(data, 4);
  return out;
}

const nested = (type: number, parts: readonly Buffer[]): Buffer => attr(type | NLA_F_NESTED, Buffer.concat(parts));
const nulTerminated = (s: string): Buffer => Buffer.from(`${s}\0`);

function message(type: number, flags: number, seq: number, family: number, resId: number, attrs: readonly Buffer[]): Buffer {
  const body = Buffer.concat(attrs);
  const out = Buffer.alloc(NLMSG_HDRLEN + 4 + body.length);
  out.writeUInt32LE(out.length, 0);
  out.writeUInt16LE(type, 4);
  out.writeUInt16LE(flags, 6);
  out.writeUInt32LE(seq, 8);
  // nlmsg_pid 0: the kernel; then struct nfgenmsg (family, version 0, res_id big-endian).
  out.writeUInt8(family, 16);
  out.writeUInt16BE(resId, 18);
  body.copy(out, 20);
  return out;
}

function element(key: Uint8Array, value: Uint8Array | undefined): Buffer {
  const parts = [nested(NFTA_SET_ELEM_KEY, [attr(NFTA_DATA_VALUE, key)])];
  if (value) parts.push(nested(NFTA_SET_ELEM_DATA, [attr(NFTA_DATA_VALUE, value)]));
  return nested(NFTA_LIST_ELEM, parts);
}

/** `items` in order, in runs of at most `maxBytes` together. */
function chunks(items: readonly Buffer[], maxBytes: number): Buffer[][] {
  const out: Buffer[][] = [];
  let run: Buffer[] = [];
  let bytes = 0;
  for (const item of items) {
    if (run.length && bytes + item.length > maxBytes) {
      out.push(run);
      run = [];
      bytes = 0;
    }
    run.push(item);
    bytes += item.length;
  }
  if (run.length) out.push(run);
  return out;
}

/**
 * One transaction that empties each set of table `ip <table>` and fills it with its contents, in
 * messages numbered from `firstSeq`. Throws if a map's values do not match its keys one for one.
 */
export function replaceSetsBatch(table: string, sets: readonly NftSetContents[], firstSeq: number): SetBatch {
  return setsBatch(table, sets.map(refill), firstSeq);
}

/**
 * One transaction that applies `updates` to the sets of table `ip <table>`, in messages numbered
 * from `firstSeq` (none between the markers when no update changes anything). Throws if a map's
 * values do not match its keys one for one.
 */
export function setsBatch(table: string, updates: readonly NftSetUpdate[], firstSeq: number): SetBatch {
  let seq = firstSeq >>> 0;
  const next = (): number => {
    const at = seq;
    seq = (seq + 1) >>> 0; // 32 bits, wrapping
    return at;
  };
  const parts = [message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, next(), 0, NFNL_SUBSYS_NFTABLES, [])];
  const acked: number[] = [];
  const type = (msg: number): number => (NFNL_SUBSYS_NFTABLES << 8) | msg;
  for (const s of updates) {
    if (s.values && s.values.length !== s.keys.length) throw new Error(`map ${s.name}: ${s.keys.length} keys but ${s.values.length} values`);
    const names = [attr(NFTA_SET_ELEM_LIST_TABLE, nulTerminated(table)), attr(NFTA_SET_ELEM_LIST_SET, nulTerminated(s.name))];
    const send = (msg: number, flags: number, elements: readonly Buffer[] | undefined): void => {
      const at = next();
      acked.push(at);
      parts.push(message(type(msg), NLM_F_REQUEST | NLM_F_ACK | flags, at, NFPROTO_IPV4, 0, elements ? [...names, nested(NFTA_SET_ELEM_LIST_ELEMENTS, elements)] : names));
    };
    if (s.flush) send(NFT_MSG_DELSETELEM, 0, undefined);
    else for (const chunk of chunks(s.remove.map((k) => element(k, undefined)), MAX_ATTR_BYTES - 4)) send(NFT_MSG_DELSETELEM, 0, chunk);
    for (const chunk of chunks(s.keys.map((k, i) => element(k, s.values?.[i])), MAX_ATTR_BYTES - 4)) send(NFT_MSG_NEWSETELEM, NLM_F_CREATE, chunk);
  }
  parts.push(message(NFNL_MSG_BATCH_END, NLM_F_REQUEST, next(), 0, NFNL_SUBSYS_NFTABLES, []));
  return { bytes: Buffer.concat(parts), firstSeq: firstSeq >>> 0, acked, nextSeq: seq };
}

/** The acknowledgements in one datagram from the kernel: the sequence number each answers, and 0 or a negative errno. */
export function parseAcks(datagram: Uint8Array): Array<{ seq: number; error: number }> {
  const b = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  const out: Array<{ seq: number; error: number }> = [];
  for (let at = 0; at + NLMSG_HDRLEN <= b.length;) {
    const len = b.readUInt32LE(at);
    if (len < NLMSG_HDRLEN || at + len > b.length) break;
    // struct nlmsgerr: the error, then the header of the message it answers (whose seq is at +8).
    if (b.readUInt16LE(at + 4) === NLMSG_ERROR && len >= NLMSG_HDRLEN + 4 + NLMSG_HDRLEN) {
      out.push({ seq: b.readUInt32LE(at + NLMSG_HDRLEN + 4 + 8), error: b.readInt32LE(at + NLMSG_HDRLEN) });
    }
    at += align(len);
  }
  return out;
}

/** The 4 bytes of a dotted IPv4 address. */
export function ipv4Bytes(address: string): Uint8Array {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`'${address}' is not an IPv4 address`);
  return Uint8Array.from(parts);
}
