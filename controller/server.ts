// The controller as a running server: opens the store, builds the app, listens (the API and, on the
// same port, the agent channel). Used by controller/main.ts and by the all-in-one start.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp } from './app.ts';
import { authenticatorFor } from './auth/index.ts';
import type { Config } from './config.ts';
import { openStore } from './store/open.ts';
import { CHANNEL_PATH } from '../schemas/agent/channel.ts';

export interface ControllerServer {
  /** http://host:port of the API. */
  readonly url: string;
  /** One line saying where the API and the channel are, for the console. */
  readonly banner: string;
  close(): Promise<void>;
}

export async function startControllerServer(config: Config): Promise<ControllerServer> {
  mkdirSync(config.dataDir, { recursive: true });
  const store = openStore(config.dataDir);
  const authenticator = authenticatorFor(config);
  const app = await buildApp({ config, store, authenticator });
  const [host, port] = splitListen(config.listen);
  await app.listen({ host, port });
  const note = config.auth === 'token' ? ` — admin token in ${join(config.dataDir, 'admin-token')}` : '';
  return {
    url: `http://${config.listen}`,
    banner: `weft controller listening on http://${config.listen} (auth=${config.auth}, data=${config.dataDir}; agents connect to ws://${config.listen}${CHANNEL_PATH})${note}`,
    async close() {
      await app.close();
      await store.close();
    },
  };
}

export function splitListen(listen: string): [string, number] {
  const at = listen.lastIndexOf(':');
  return [listen.slice(0, at).replace(/^\[|\]$/g, ''), Number(listen.slice(at + 1))];
}
