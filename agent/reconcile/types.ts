// The reconciler's options, statistics, events and logger shape.
import type { OpenFlowConnection } from '../openflow/connection.ts';
import type { RejectedFlow } from './errors.ts';
import type { ResyncHooks } from './resync.ts';

/** The subset of a pino logger the reconciler uses. */
export interface ReconcileLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: ReconcileLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface FlowReconcilerOptions extends ResyncHooks {
  /** Opens a connection to br-int (the agent: the passive management socket `<rundir>/br-int.mgmt`). */
  readonly connect: () => Promise<OpenFlowConnection>;
  /** 16 bits, new on every agent start; stamped into every cookie (pipeline/fields.ts). */
  readonly generation: number;
  readonly logger?: ReconcileLogger;
  /** Largest bundle; bigger change sets are split into several bundles, in order. Default 20,000. */
  readonly maxBundleMessages?: number;
  /** Reconnect backoff [first, max] in ms. Default [100, 2000]. */
  readonly reconnectDelayMs?: readonly [number, number];
  /** Delay [first, max] in ms before a resync after a failure, doubling while failures repeat. Default [1000, 30000]. */
  readonly retryDelayMs?: readonly [number, number];
}

export interface ReconcilerStats {
  /** Flows known to be in the switch. */
  flowsInstalled: number;
  /** Flows the switch should hold. */
  flowsDesired: number;
  connected: boolean;
  connects: number;
  bundlesSent: number;
  flowModsSent: number;
  applies: number;
  lastApplyFlowMods: number;
  lastApplyMs: number;
  resyncs: number;
  lastResyncMs: number;
  /** Failed applies and resyncs (rejected flows, timeouts, errors other than a dropped connection). */
  failures: number;
  /** Flows the switch refused, counted once per refusal. */
  rejectedFlows: number;
}

export interface ApplyInfo {
  /** FLOW_MODs sent for the coalesced change sets of one apply step. */
  readonly flowMods: number;
  readonly bundles: number;
  readonly durationMs: number;
}

export interface SyncInfo {
  /** Flows installed (desired minus rejected). */
  readonly flows: number;
  /** Leftovers deleted after the replay. */
  readonly deleted: number;
  readonly rejected: readonly RejectedFlow[];
  /** Flows the switch held after the replay (desired + leftovers). */
  readonly dumped: number;
  /** The replay (adds), the flow-stats dump, and the whole resync. */
  readonly replayMs: number;
  readonly dumpMs: number;
  readonly durationMs: number;
}

export interface FlowReconcilerEvents {
  connected: [];
  /** A connection after the first one; the reconciler resyncs by itself. */
  reconnected: [];
  disconnected: [Error | undefined];
  synced: [SyncInfo];
  applied: [ApplyInfo];
  /** Emitted only when someone listens (an unheard 'error' would throw); everything is logged too. */
  error: [Error];
}
