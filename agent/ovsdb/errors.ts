/** An error reported by ovsdb-server (RFC 7047 §3.1 error object), by the JSON-RPC layer, or a lost connection. */
export class OvsdbError extends Error {
  override name = 'OvsdbError';
  /** The RFC 7047 error tag: "unknown column", "constraint violation", "timed out", ... or "connection closed". */
  readonly error: string;
  readonly details: string | undefined;
  readonly syntax: string | undefined;
  /** Index of the failing operation in the transaction (ops.length: the commit itself failed). */
  readonly opIndex: number | undefined;
  /** The failing operation, e.g. "insert Port". */
  readonly op: string | undefined;
  /** The RPC method ("transact", "monitor_cond", ...). */
  readonly method: string | undefined;

  constructor(init: { error: string; details?: string; syntax?: string; opIndex?: number; op?: string; method?: string }) {
    const where = init.op !== undefined ? ` in operation #${init.opIndex} (${init.op})` : init.opIndex !== undefined ? ` at commit` : '';
    super(`OVSDB ${init.method ?? 'error'}${where}: ${init.error}${init.details ? `: ${init.details}` : ''}`);
    this.error = init.error;
    this.details = init.details;
    this.syntax = init.syntax;
    this.opIndex = init.opIndex;
    this.op = init.op;
    this.method = init.method;
  }

  /** Builds an OvsdbError from an RFC 7047 error object or a bare string. */
  static from(e: unknown, extra: { opIndex?: number; op?: string; method?: string } = {}): OvsdbError {
    if (typeof e === 'string') return new OvsdbError({ error: e, ...extra });
    const o = (e ?? {}) as { error?: unknown; details?: unknown; syntax?: unknown };
    return new OvsdbError({
      error: typeof o.error === 'string' ? o.error : JSON.stringify(e),
      ...(typeof o.details === 'string' ? { details: o.details } : {}),
      ...(typeof o.syntax === 'string' ? { syntax: o.syntax } : {}),
      ...extra,
    });
  }
}
