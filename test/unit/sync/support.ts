import type { FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import { ControllerChannel, type ControllerChannelOptions } from '../../../agent/sync/channel-client.ts';
import { buildApp } from '../../../controller/app.ts';
import type { Authenticator } from '../../../controller/auth/context.ts';
import { noAuth } from '../../../controller/auth/noauth.ts';
import { testConfig, type Config } from '../../../controller/config.ts';
import { openStore } from '../../../controller/store/open.ts';
import type { SharedState } from '../../../controller/store/shared-state.ts';
import type { Store } from '../../../controller/store/types.ts';
import {
  CHANNEL_PATH, PROTOCOL_VERSION, type ChangesMessage, type PortState, type RevisionMessage, type SnapshotMessage, type WelcomeMessage,
} from '../../../schemas/agent/channel.ts';
import type { Caller } from '../../helpers/api.ts';

// A listening in-memory controller plus real channel clients, all closed by close().

export interface Recorded {
  channel: ControllerChannel;
  welcomes: WelcomeMessage[];
  snapshots: SnapshotMessage[];
  changes: ChangesMessage[];
  revisions: RevisionMessage[];
  /** Hosts named by lostHosts messages. */
  lostHosts: string[];
  /** Every message in arrival order. */
  log: Array<WelcomeMessage | SnapshotMessage | ChangesMessage | RevisionMessage | { type: 'connected' } | { type: 'disconnected' }>;
}

export interface SyncLab {
  app: FastifyInstance;
  store: Store;
  config: Config;
  readonly url: string;
  readonly port: number;
  call(caller: Caller, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, headers?: Record<string, string>): Promise<{
    status: number;
    body: any;
    headers: Record<string, unknown>;
  }>;
  /** A started ControllerChannel for `host`, recording what it receives. */
  agent(host: string, options?: Partial<ControllerChannelOptions> & { tunnelIp?: string | null }): Recorded;
  /** A raw WebSocket to the channel (for what the real client would never do). */
  raw(headers?: Record<string, string>): Promise<WebSocket>;
  /** Close the app (not the store) and start a new one on the same store and port. */
  restart(): Promise<void>;
  /** Close the app only (clients start reconnecting). */
  stopApp(): Promise<void>;
  close(): Promise<void>;
}

/**
 * `store`: another lab's, to play a second controller replica on the same store (the store is then
 * closed by the lab that made it). `sharedState`: the state replicas share (default: the store's,
 * which for SQLite is each app's own memory).
 */
export async function syncLab(
  overrides: Partial<Config> = {}, authenticator: Authenticator = noAuth(), shared?: Store, sharedState?: SharedState,
): Promise<SyncLab> {
  const config = testConfig({ agentHeartbeatInterval: 0.05, agentDownTime: 0.5, ...overrides });
  const store = shared ?? openStore(':memory:');
  const clients: ControllerChannel[] = [];
  const raws: WebSocket[] = [];
  let app: FastifyInstance | undefined;
  let port = 0;
  let appClosed = false;

  const start = async () => {
    app = await buildApp({ config, store, authenticator, ...(sharedState ? { shared: sharedState } : {}) });
    await app.listen({ host: '127.0.0.1', port });
    const addr = app.server.address();
    port = typeof addr === 'object' && addr ? addr.port : port;
    appClosed = false;
  };
  await start();

  const lab: SyncLab = {
    get app() {
      return app!;
    },
    store,
    config,
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    async call(caller, method, url, body, headers = {}) {
      const res = await app!.inject({
        method,
        url,
        payload: body === undefined ? undefined : (body as object),
        headers: { 'x-project-id': caller.project, 'x-roles': (caller.roles ?? ['member']).join(','), ...headers },
      });
      return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined, headers: res.headers };
    },
    agent(host, options = {}) {
      const { tunnelIp, ...rest } = options;
      const channel = new ControllerChannel({
        urls: [lab.url],
        token: 'unused-with-noauth',
        hello: { host, tunnelIp: tunnelIp === undefined ? '192.0.2.10' : tunnelIp, bridgeMappings: { physnet1: 'br-ex' }, datapath: 'netdev', lostHosts: true },
        minBackoffMs: 20,
        maxBackoffMs: 200,
        ...rest,
      });
      const rec: Recorded = { channel, welcomes: [], snapshots: [], changes: [], revisions: [], lostHosts: [], log: [] };
      channel.on('connected', () => rec.log.push({ type: 'connected' }));
      channel.on('disconnected', () => rec.log.push({ type: 'disconnected' }));
      channel.on('welcome', (m) => (rec.welcomes.push(m), rec.log.push(m)));
      channel.on('snapshot', (m) => (rec.snapshots.push(m), rec.log.push(m)));
      channel.on('changes', (m) => (rec.changes.push(m), rec.log.push(m)));
      channel.on('revision', (m) => (rec.revisions.push(m), rec.log.push(m)));
      channel.on('lostHosts', (m) => rec.lostHosts.push(...m.hosts));
      clients.push(channel);
      channel.start();
      return rec;
    },
    async raw(headers = {}) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${CHANNEL_PATH}`, { headers });
      raws.push(ws);
      ws.on('error', () => {});
      await new Promise<void>((ok, fail) => {
        ws.once('open', () => ok());
        ws.once('unexpected-response', (_req, res) => fail(new Error(`HTTP ${res.statusCode}`)));
        ws.once('close', () => fail(new Error('closed before open')));
      });
      return ws;
    },
    async stopApp() {
      if (!appClosed) await app!.close();
      appClosed = true;
    },
    async restart() {
      await lab.stopApp();
      await start();
    },
    async close() {
      await Promise.all(clients.map((c) => c.close()));
      for (const ws of raws) ws.terminate();
      await lab.stopApp();
      if (!shared) await store.close();
    },
  };
  return lab;
}

/** Poll until fn() is truthy (or throw after timeoutMs with the message). */
export async function until<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Messages a raw socket receives, parsed. */
export function collect(ws: WebSocket): any[] {
  const out: any[] = [];
  ws.on('message', (data) => out.push(JSON.parse(data.toString())));
  return out;
}

export const hello = (host: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, host, tunnelIp: '192.0.2.99', bridgeMappings: {}, datapath: 'system', ...extra });

/** An agent that reports every revision it gets, with the ports of its host that `plugged` allows as up. */
export function reporting(a: Recorded, host: string, plugged: (portId: string) => boolean = () => true): { enabled: boolean } {
  const state = { enabled: true };
  const report = (revision: number, ports: Array<Record<string, unknown>>) => {
    if (!state.enabled) return;
    const states: Record<string, PortState> = {};
    for (const p of ports) if (p['binding:host_id'] === host && plugged(p.id as string)) states[p.id as string] = 'up';
    a.channel.reportApplied(revision, states);
  };
  a.channel.on('snapshot', (m: SnapshotMessage) => report(m.revision, m.docs.port));
  a.channel.on('changes', (m: ChangesMessage) => report(m.revision, m.changes.flatMap((c) => (c.kind === 'port' && c.doc ? [c.doc] : []))));
  return state;
}
