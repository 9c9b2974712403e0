// OpenFlow 1.3 ERROR type/code names, the Nicira and ONF experimenter errors Open vSwitch sends,
// and OpenFlowError, the typed error a failed request rejects with.

export const OFPET_EXPERIMENTER = 0xffff;
export const ONF_EXPERIMENTER_ID = 0x4f4e4600;
export const NX_EXPERIMENTER_ID = 0x00002320;

const codes = (...names: string[]): readonly string[] => names;

/** [type name, code names by code] */
export const ERROR_TYPES: Readonly<Record<number, readonly [string, readonly string[]]>> = {
  0: ['HELLO_FAILED', codes('INCOMPATIBLE', 'EPERM')],
  1: ['BAD_REQUEST', codes('BAD_VERSION', 'BAD_TYPE', 'BAD_MULTIPART', 'BAD_EXPERIMENTER', 'BAD_EXP_TYPE', 'EPERM',
    'BAD_LEN', 'BUFFER_EMPTY', 'BUFFER_UNKNOWN', 'BAD_TABLE_ID', 'IS_SLAVE', 'BAD_PORT', 'BAD_PACKET',
    'MULTIPART_BUFFER_OVERFLOW')],
  2: ['BAD_ACTION', codes('BAD_TYPE', 'BAD_LEN', 'BAD_EXPERIMENTER', 'BAD_EXP_TYPE', 'BAD_OUT_PORT', 'BAD_ARGUMENT',
    'EPERM', 'TOO_MANY', 'BAD_QUEUE', 'BAD_OUT_GROUP', 'MATCH_INCONSISTENT', 'UNSUPPORTED_ORDER', 'BAD_TAG',
    'BAD_SET_TYPE', 'BAD_SET_LEN', 'BAD_SET_ARGUMENT')],
  3: ['BAD_INSTRUCTION', codes('UNKNOWN_INST', 'UNSUP_INST', 'BAD_TABLE_ID', 'UNSUP_METADATA', 'UNSUP_METADATA_MASK',
    'BAD_EXPERIMENTER', 'BAD_EXP_TYPE', 'BAD_LEN', 'EPERM')],
  4: ['BAD_MATCH', codes('BAD_TYPE', 'BAD_LEN', 'BAD_TAG', 'BAD_DL_ADDR_MASK', 'BAD_NW_ADDR_MASK', 'BAD_WILDCARDS',
    'BAD_FIELD', 'BAD_VALUE', 'BAD_MASK', 'BAD_PREREQ', 'DUP_FIELD', 'EPERM')],
  5: ['FLOW_MOD_FAILED', codes('UNKNOWN', 'TABLE_FULL', 'BAD_TABLE_ID', 'OVERLAP', 'EPERM', 'BAD_TIMEOUT',
    'BAD_COMMAND', 'BAD_FLAGS')],
  6: ['GROUP_MOD_FAILED', codes('GROUP_EXISTS', 'INVALID_GROUP', 'WEIGHT_UNSUPPORTED', 'OUT_OF_GROUPS',
    'OUT_OF_BUCKETS', 'CHAINING_UNSUPPORTED', 'WATCH_UNSUPPORTED', 'LOOP', 'UNKNOWN_GROUP', 'CHAINED_GROUP',
    'BAD_TYPE', 'BAD_COMMAND', 'BAD_BUCKET', 'BAD_WATCH', 'EPERM')],
  7: ['PORT_MOD_FAILED', codes('BAD_PORT', 'BAD_HW_ADDR', 'BAD_CONFIG', 'BAD_ADVERTISE', 'EPERM')],
  8: ['TABLE_MOD_FAILED', codes('BAD_TABLE', 'BAD_CONFIG', 'EPERM')],
  9: ['QUEUE_OP_FAILED', codes('BAD_PORT', 'BAD_QUEUE', 'EPERM')],
  10: ['SWITCH_CONFIG_FAILED', codes('BAD_FLAGS', 'BAD_LEN', 'EPERM')],
  11: ['ROLE_REQUEST_FAILED', codes('STALE', 'UNSUP', 'BAD_ROLE')],
  12: ['METER_MOD_FAILED', codes('UNKNOWN', 'METER_EXISTS', 'INVALID_METER', 'UNKNOWN_METER', 'BAD_COMMAND',
    'BAD_FLAGS', 'BAD_RATE', 'BAD_BURST', 'BAD_BAND', 'BAD_BAND_VALUE', 'OUT_OF_METERS', 'OUT_OF_BANDS')],
  13: ['TABLE_FEATURES_FAILED', codes('BAD_TABLE', 'BAD_METADATA', 'BAD_TYPE', 'BAD_LEN', 'BAD_ARGUMENT', 'EPERM')],
};

/** ONF (0x4F4E4600) experimenter codes used with OpenFlow 1.3 (bundles, async config, multipart). */
export const ONF_ERROR_CODES: Readonly<Record<number, string>> = {
  2300: 'BUNDLE_FAILED.UNKNOWN',
  2301: 'BUNDLE_FAILED.EPERM',
  2302: 'BUNDLE_FAILED.BAD_ID',
  2303: 'BUNDLE_FAILED.BUNDLE_EXIST',
  2304: 'BUNDLE_FAILED.BUNDLE_CLOSED',
  2305: 'BUNDLE_FAILED.OUT_OF_BUNDLES',
  2306: 'BUNDLE_FAILED.BAD_TYPE',
  2307: 'BUNDLE_FAILED.BAD_FLAGS',
  2308: 'BUNDLE_FAILED.MSG_BAD_LEN',
  2309: 'BUNDLE_FAILED.MSG_BAD_XID',
  2310: 'BUNDLE_FAILED.MSG_UNSUP',
  2311: 'BUNDLE_FAILED.MSG_CONFLICT',
  2312: 'BUNDLE_FAILED.MSG_TOO_MANY',
  2313: 'BUNDLE_FAILED.MSG_FAILED',
  2314: 'BUNDLE_FAILED.TIMEOUT',
  2315: 'BUNDLE_FAILED.BUNDLE_IN_PROGRESS',
  2360: 'FLOW_MOD_FAILED.BAD_PRIORITY',
  2370: 'ASYNC_CONFIG_FAILED.INVALID',
  2371: 'ASYNC_CONFIG_FAILED.UNSUPPORTED',
  2372: 'ASYNC_CONFIG_FAILED.EPERM',
  2640: 'BAD_REQUEST.MULTIPART_REQUEST_TIMEOUT',
  2641: 'BAD_REQUEST.MULTIPART_REPLY_TIMEOUT',
  4250: 'BAD_ACTION.BAD_SET_MASK',
};

/** Nicira (0x00002320) experimenter codes OVS sends in OpenFlow 1.2+. */
export const NX_ERROR_CODES: Readonly<Record<number, string>> = {
  2: 'NX_BAD_REQUEST.NXM_INVALID',
  3: 'NX_BAD_REQUEST.NXM_BAD_TYPE',
  4: 'NX_BAD_REQUEST.MUST_BE_ZERO',
  5: 'NX_BAD_REQUEST.BAD_REASON',
  9: 'NX_BAD_REQUEST.FM_BAD_EVENT',
  10: 'NX_BAD_REQUEST.UNENCODABLE_ERROR',
  11: 'NX_BAD_ACTION.MUST_BE_ZERO',
  12: 'NX_FLOW_MOD_FAILED.HARDWARE',
  13: 'NX_FLOW_MOD_FAILED.BAD_TABLE_ID',
  15: 'NX_BAD_ACTION.BAD_CONJUNCTION',
  37: 'NX_FLOW_MOD_FAILED.INVALID_TLV_FIELD',
  42: 'NX_BAD_ACTION.CT_DATAPATH_SUPPORT',
  43: 'NX_BAD_MATCH.CT_DATAPATH_SUPPORT',
};

export interface ErrorInfo {
  /** OFPET type (0xffff for experimenter errors). */
  readonly errType: number;
  /** OFPxxC code, or exp_code for experimenter errors. */
  readonly code: number;
  readonly experimenter?: number;
}

/** A readable "TYPE.CODE" name, e.g. "BAD_ACTION.MATCH_INCONSISTENT" or "BUNDLE_FAILED.MSG_FAILED". */
export function errorName(e: ErrorInfo): string {
  if (e.errType === OFPET_EXPERIMENTER) {
    const table = e.experimenter === ONF_EXPERIMENTER_ID ? ONF_ERROR_CODES
      : e.experimenter === NX_EXPERIMENTER_ID ? NX_ERROR_CODES : undefined;
    const known = table?.[e.code];
    if (known) return known;
    return `EXPERIMENTER(0x${(e.experimenter ?? 0).toString(16).padStart(8, '0')}).${e.code}`;
  }
  const t = ERROR_TYPES[e.errType];
  if (!t) return `UNKNOWN_TYPE(${e.errType}).${e.code}`;
  return `${t[0]}.${t[1][e.code] ?? `UNKNOWN_CODE(${e.code})`}`;
}

/** The ERROR a switch sent for one request, as a throwable error. */
export class OpenFlowError extends Error {
  readonly errType: number;
  readonly code: number;
  readonly experimenter: number | undefined;
  /** "TYPE.CODE" */
  readonly errorName: string;
  /** The xid of the failing request. */
  readonly xid: number;
  /** The first bytes of the offending message, as the switch echoed them. */
  readonly data: Buffer;
  /** What was being done, e.g. "flowMod #3" or "bundle commit". */
  readonly context: string | undefined;

  constructor(info: ErrorInfo & { xid: number; data?: Buffer; context?: string }) {
    const name = errorName(info);
    const ctx = info.context ? `${info.context}: ` : '';
    super(`${ctx}OpenFlow error ${name} (type ${info.errType}, code ${info.code}, xid ${info.xid})`);
    this.name = 'OpenFlowError';
    this.errType = info.errType;
    this.code = info.code;
    this.experimenter = info.experimenter;
    this.errorName = name;
    this.xid = info.xid;
    this.data = info.data ?? Buffer.alloc(0);
    this.context = info.context;
  }
}

/** Several requests failed (a batch of FLOW_MODs or the messages of a bundle). */
export class OpenFlowBatchError extends Error {
  /** One entry per failed message: its index in the batch and its error. */
  readonly failures: readonly { readonly index: number; readonly error: OpenFlowError }[];
  /** Messages that could not even be encoded (a value out of range, a bad address); never sent. */
  readonly unencodable: readonly { readonly index: number; readonly error: Error }[];

  constructor(
    message: string, failures: readonly { index: number; error: OpenFlowError }[], cause?: unknown,
    unencodable: readonly { index: number; error: Error }[] = [],
  ) {
    const detail = [
      ...failures.map((f) => `#${f.index}: ${f.error.errorName}`),
      ...unencodable.map((f) => `#${f.index}: cannot encode (${f.error.message})`),
    ].join(', ');
    super(detail ? `${message}: ${detail}` : message, cause === undefined ? undefined : { cause });
    this.name = 'OpenFlowBatchError';
    this.failures = failures;
    this.unencodable = unencodable;
  }
}

/** The connection failed or closed before a reply arrived. */
export class OpenFlowConnectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OpenFlowConnectionError';
  }
}
