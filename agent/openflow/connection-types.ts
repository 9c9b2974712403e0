// The shapes around an OpenFlow connection: what it sends, its options, its events.
import type { FlowStats } from './flowmod.ts';
import type { MessageOf, OfMessage, OfMessageType } from './messages.ts';

type WithoutXid<T> = T extends unknown ? Omit<T, 'xid'> & { readonly xid?: number } : never;
/** A message to send; the connection assigns the xid unless one is given. */
export type OfMessageInit = WithoutXid<OfMessage>;

export interface ConnectionOptions {
  /** Interval of idleness after which we send our own ECHO_REQUEST (0 = never). Default 5000 ms. */
  readonly echoIntervalMs?: number;
  /** The connection fails if our ECHO_REQUEST gets no reply in this time. Default 10000 ms. */
  readonly echoTimeoutMs?: number;
  /** Timeout for requests with a reply (and barriers). Default 30000 ms. */
  readonly requestTimeoutMs?: number;
  /** Timeout for the HELLO exchange and FEATURES. Default 10000 ms. */
  readonly handshakeTimeoutMs?: number;
}

export type ConnectTarget =
  | { readonly path: string }
  | { readonly host: string; readonly port: number };

/** A request waiting for its reply (internal to connection.ts). */
export interface Pending {
  readonly seq: number;
  readonly kind: 'reply' | 'noReply' | 'multipart' | 'barrier';
  readonly replyType?: OfMessageType;
  readonly context?: string;
  readonly resolve: (m: OfMessage | undefined) => void;
  readonly reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
  parts?: FlowStats[];
}

export interface ConnectionStats {
  echoRequestsSent: number;
  echoRepliesReceived: number;
  echoRequestsAnswered: number;
}

export interface OpenFlowConnectionEvents {
  packetIn: [MessageOf<'packetIn'>];
  portStatus: [MessageOf<'portStatus'>];
  flowRemoved: [MessageOf<'flowRemoved'>];
  /** Every decoded message received. */
  message: [OfMessage];
  /** An ERROR whose xid belongs to no outstanding request, or an undecodable message. */
  unsolicitedError: [Error];
  close: [Error | undefined];
}
