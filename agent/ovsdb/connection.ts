// JSON-RPC 1.0 over a stream socket, as RFC 7047 §4 uses it. One connection multiplexes requests
// (matched by id), notifications from the server (update/update2) and the server's own requests
// (echo). Reconnecting is the caller's business: the connection emits 'close' once and is done.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { decodeLoose, type Datum } from './datum.ts';
import { OvsdbError } from './errors.ts';
import { JsonStreamSplitter } from './json-stream.ts';
import type { Operation } from './ops.ts';
import { parseSchema, type DbSchema } from './schema.ts';

export interface TransactResult {
  /** insert: the new row's uuid. */
  uuid?: string;
  /** update/mutate/delete: rows affected. */
  count?: number;
  /** select: the rows (decoded without a schema: see datum.ts asSet/asMap/asOptional). */
  rows?: Record<string, Datum>[];
}

export interface RequestOptions {
  /** Reject with OvsdbError "timed out" after this long. Default 60 s; 0 = never. */
  timeoutMs?: number;
}

/** One table's entry in a monitor_cond request (RFC 7047 + the monitor_cond extension of ovsdb-server). */
export interface MonitorCondRequest {
  columns?: string[];
  /** Already-encoded conditions (use ops.ts style [column, fn, encodeDatum(value)]), or true/false. */
  where?: unknown[];
  select?: { initial?: boolean; insert?: boolean; delete?: boolean; modify?: boolean };
}

/** Raw `<table-updates2>`: table -> uuid -> {initial|insert|modify: row} | {delete: null}. */
export type TableUpdates2 = Record<string, Record<string, RowUpdate2>>;
export interface RowUpdate2 {
  initial?: Record<string, unknown>;
  insert?: Record<string, unknown>;
  modify?: Record<string, unknown>;
  delete?: null;
}

interface Pending {
  method: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

export interface OvsdbConnectionEvents {
  update2: [monitorId: unknown, updates: TableUpdates2];
  update: [monitorId: unknown, updates: Record<string, Record<string, { old?: unknown; new?: unknown }>>];
  notification: [method: string, params: unknown];
  close: [error: Error | undefined];
}

/** Parses 'unix:/path', 'tcp:host:port' or a bare path. */
export function parseTarget(target: string): net.NetConnectOpts {
  if (target.startsWith('unix:')) return { path: target.slice(5) };
  if (target.startsWith('tcp:')) {
    const rest = target.slice(4);
    const i = rest.lastIndexOf(':');
    if (i <= 0) throw new Error(`bad OVSDB target '${target}' (want tcp:host:port)`);
    const host = rest.slice(0, i).replace(/^\[(.*)\]$/, '$1');
    return { host, port: Number(rest.slice(i + 1)) };
  }
  if (target.startsWith('/') || target.startsWith('.')) return { path: target };
  throw new Error(`unsupported OVSDB target '${target}' (want unix:PATH or tcp:HOST:PORT)`);
}

export class OvsdbConnection extends EventEmitter<OvsdbConnectionEvents> {
  private readonly splitter = new JsonStreamSplitter();
  private readonly pending = new Map<number, Pending>();
  private readonly schemas = new Map<string, Promise<DbSchema>>();
  private nextId = 1;
  private closedWith: { error: Error | undefined } | undefined;

  private constructor(private readonly socket: net.Socket) {
    super();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => this.shutdown(e));
    socket.on('close', () => this.shutdown(undefined));
  }

  /** Connects to `unix:PATH`, `tcp:HOST:PORT` or a bare socket path. */
  static connect(target: string, opts: { timeoutMs?: number } = {}): Promise<OvsdbConnection> {
    const conn = parseTarget(target);
    return new Promise((resolve, reject) => {
      const socket = net.connect(conn);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new OvsdbError({ error: 'timed out', details: `connecting to ${target}` }));
      }, opts.timeoutMs ?? 10_000);
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new OvsdbConnection(socket));
      });
    });
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Sends a JSON-RPC request and resolves with its `result`; a non-null `error` rejects with OvsdbError. */
  request<T = unknown>(method: string, params: unknown[], opts: RequestOptions = {}): Promise<T> {
    if (this.closedWith) return Promise.reject(new OvsdbError({ error: 'connection closed', method }));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const ms = opts.timeoutMs ?? 60_000;
      const timer =
        ms > 0
          ? setTimeout(() => {
              this.pending.delete(id);
              reject(new OvsdbError({ error: 'timed out', details: `no reply to ${method} after ${ms} ms`, method }));
            }, ms)
          : undefined;
      this.pending.set(id, { method, resolve: resolve as (v: unknown) => void, reject, timer });
      this.send({ method, params, id });
    });
  }

  /** Sends a notification (no reply expected). */
  notify(method: string, params: unknown[]): void {
    this.send({ method, params, id: null });
  }

  listDbs(): Promise<string[]> {
    return this.request<string[]>('list_dbs', []);
  }

  /** The database schema (fetched once per connection). */
  getSchema(db: string): Promise<DbSchema> {
    let p = this.schemas.get(db);
    if (!p) {
      p = this.request('get_schema', [db]).then(parseSchema);
      p.catch(() => this.schemas.delete(db));
      this.schemas.set(db, p);
    }
    return p;
  }

  echo(payload: unknown[] = []): Promise<unknown> {
    return this.request('echo', payload);
  }

  /**
   * Runs one transaction. Per-operation errors come back inside `result` (not as a JSON-RPC error);
   * the first one is thrown as OvsdbError naming the operation. Success resolves with one entry per op.
   */
  async transact(db: string, ops: readonly Operation[], opts: RequestOptions = {}): Promise<TransactResult[]> {
    const result = await this.request<unknown[]>('transact', [db, ...ops], opts);
    if (!Array.isArray(result)) throw new OvsdbError({ error: 'bad reply', details: JSON.stringify(result), method: 'transact' });
    for (let i = 0; i < result.length; i++) {
      const r = result[i] as { error?: unknown } | null;
      if (r && typeof r === 'object' && 'error' in r && r.error !== undefined && r.error !== null) {
        const o = ops[i];
        throw OvsdbError.from(r, {
          opIndex: i,
          ...(o ? { op: o.table ? `${o.op} ${o.table}` : o.op } : {}),
          method: 'transact',
        });
      }
    }
    return ops.map((_, i) => decodeResult(result[i]));
  }

  /** Low level monitor_cond: returns the initial `<table-updates2>`; later changes arrive as 'update2' events. */
  monitorCondRaw(db: string, monitorId: unknown, requests: Record<string, MonitorCondRequest | MonitorCondRequest[]>): Promise<TableUpdates2> {
    return this.request<TableUpdates2>('monitor_cond', [db, monitorId, requests]);
  }

  async monitorCancel(monitorId: unknown): Promise<void> {
    await this.request('monitor_cancel', [monitorId]);
  }

  /** Closes the socket; pending requests reject with "connection closed". */
  close(): Promise<void> {
    if (this.closedWith) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    });
  }

  private send(msg: unknown): void {
    this.socket.write(JSON.stringify(msg));
  }

  private onData(chunk: Buffer): void {
    let texts: string[];
    try {
      texts = this.splitter.push(chunk);
    } catch (e) {
      this.socket.destroy();
      this.shutdown(e as Error);
      return;
    }
    for (const t of texts) {
      let msg: { id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: unknown };
      try {
        msg = JSON.parse(t);
      } catch (e) {
        this.socket.destroy();
        this.shutdown(new OvsdbError({ error: 'bad JSON', details: (e as Error).message }));
        return;
      }
      this.dispatch(msg);
    }
  }

  private dispatch(msg: { id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: unknown }): void {
    if (typeof msg.method === 'string') {
      const params = Array.isArray(msg.params) ? msg.params : [];
      if (msg.id !== null && msg.id !== undefined) {
        // A request from the server. RFC 7047 §4.1.11: echo must be answered with the same params.
        if (msg.method === 'echo') this.send({ id: msg.id, result: params, error: null });
        else this.send({ id: msg.id, result: null, error: { error: 'unknown method', details: msg.method } });
        return;
      }
      try {
        if (msg.method === 'update2') this.emit('update2', params[0], params[1] as TableUpdates2);
        else if (msg.method === 'update') this.emit('update', params[0], params[1] as never);
        this.emit('notification', msg.method, msg.params);
      } catch (e) {
        // A replica that cannot apply an update is out of sync: drop the connection so that the
        // owner reconnects and starts over from a fresh snapshot, instead of crashing the process.
        this.socket.destroy();
        this.shutdown(e instanceof Error ? e : new Error(String(e)));
      }
      return;
    }
    if (typeof msg.id !== 'number') return; // not ours
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (p.timer) clearTimeout(p.timer);
    if (msg.error !== null && msg.error !== undefined) p.reject(OvsdbError.from(msg.error, { method: p.method }));
    else p.resolve(msg.result);
  }

  private shutdown(error: Error | undefined): void {
    if (this.closedWith) return;
    this.closedWith = { error };
    for (const [, p] of this.pending) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(new OvsdbError({ error: 'connection closed', method: p.method, ...(error ? { details: error.message } : {}) }));
    }
    this.pending.clear();
    this.emit('close', error);
  }
}

function decodeResult(r: unknown): TransactResult {
  if (!r || typeof r !== 'object') return {};
  const o = r as { uuid?: unknown; count?: unknown; rows?: unknown };
  const out: TransactResult = {};
  if (Array.isArray(o.uuid) && o.uuid[0] === 'uuid') out.uuid = String(o.uuid[1]);
  if (typeof o.count === 'number') out.count = o.count;
  if (Array.isArray(o.rows)) {
    out.rows = o.rows.map((row: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(row).map(([k, v]) => [k, decodeLoose(v)])),
    );
  }
  return out;
}
