// The controller as a running server: opens the store, agrees on tokens with the other replicas,
// builds the app, listens (the API and, on the same port, the agent channel). Used by
// controller/main.ts and by the all-in-one start.
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { buildApp } from './app.ts';
import { issueCredential } from './auth/agent-credentials.ts';
import { authenticatorFor } from './auth/index.ts';
import { adoptSharedTokens } from './auth/shared-tokens.ts';
import type { Config } from './config.ts';
import { openConfiguredStore, sharedStateOf } from './store/open.ts';
import { CHANNEL_PATH } from '../schemas/agent/channel.ts';

export interface ControllerServer {
  /** http://host:port of the API. */
  readonly url: string;
  /** One line saying where the API and the channel are, for the console. */
  readonly banner: string;
  /**
   * A new credential for the agent of `host` on this machine (the all-in-one's own agent): the
   * controller mints it directly, as an enrolment would, replacing the host's earlier one.
   */
  issueAgentCredential(host: string): Promise<string>;
  close(): Promise<void>;
}

export async function startControllerServer(config: Config): Promise<ControllerServer> {
  mkdirSync(config.dataDir, { recursive: true });
  const store = await openConfiguredStore(config, { warn: (obj, msg) => console.warn(`weft store: ${msg}`, obj) });
  const shared = sharedStateOf(store);
  // Replicas agree on their tokens before any of them reads its own (auth/shared-tokens.ts).
  const authenticator = await adoptSharedTokens(config, shared).then(() => authenticatorFor(config)).catch(async (e) => {
    await store.close();
    throw e;
  });
  // Building the app reads the other replicas' agent presence, which can fail like any etcd call.
  const app = await buildApp({ config, store, shared, authenticator }).catch(async (e) => {
    await store.close();
    throw e;
  });
  const [host, port] = splitListen(config.listen);
  await app.listen({ host, port });
  const socket = config.listenSocket ? await listenOnSocket(app.server, config.listenSocket).catch(async (e) => {
    await app.close();
    await store.close();
    throw e;
  }) : undefined;
  const note = config.auth === 'token' ? ` — admin token in ${join(config.dataDir, 'admin-token')}` : '';
  const alsoSocket = config.listenSocket ? ` and on unix socket ${config.listenSocket}` : '';
  return {
    url: `http://${config.listen}`,
    banner: `weft controller listening on http://${config.listen}${alsoSocket} (auth=${config.auth}, ${config.store === 'etcd' ? `store=etcd ${config.etcd.endpoints.join(',')}` : `data=${config.dataDir}`}; agents connect to ws://${config.listen}${CHANNEL_PATH})${note}`,
    async issueAgentCredential(host) {
      return (await store.transact((tx) => issueCredential(tx, host, Date.now()))).result.secret;
    },
    async close() {
      await app.close();
      await socket?.close();
      await store.close();
    },
  };
}

export function splitListen(listen: string): [string, number] {
  const at = listen.lastIndexOf(':');
  return [listen.slice(0, at).replace(/^\[|\]$/g, ''), Number(listen.slice(at + 1))];
}

/**
 * Hands the connections of a unix socket to the API's HTTP server, so the API and the agent
 * channel answer there too. A socket file left by an earlier run is replaced; any other file is not.
 */
async function listenOnSocket(http: net.Server, path: string): Promise<{ close(): Promise<void> }> {
  let existing;
  try {
    existing = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (existing && !existing.isSocket()) throw new Error(`listenSocket: ${path} exists and is not a socket; not replacing it`);
  if (existing) unlinkSync(path);
  const connections = new Set<net.Socket>();
  const server = net.createServer((c) => {
    connections.add(c);
    c.once('close', () => connections.delete(c));
    http.emit('connection', c);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  // The socket is as good as the TCP port: tokens still decide, but only the owner's group may connect.
  chmodSync(path, 0o660);
  return {
    // Called after the API's own close: what is still open (kept-alive clients) is cut, as on the port.
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const c of connections) c.destroy();
    }),
  };
}
