import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp } from './app.ts';
import { authenticatorFor } from './auth/index.ts';
import { ConfigError, loadConfig } from './config.ts';
import { openStore } from './store/open.ts';
import { CHANNEL_PATH } from '../schemas/agent/channel.ts';

// Reads the configuration, opens the store, listens (the API and, on the same port, the agent channel).

async function main(): Promise<void> {
  const config = loadConfig();
  mkdirSync(config.dataDir, { recursive: true });
  const store = openStore(config.dataDir);
  const authenticator = authenticatorFor(config);
  const app = await buildApp({ config, store, authenticator });
  const [host, port] = splitListen(config.listen);
  await app.listen({ host, port });
  const note = config.auth === 'token' ? ` — admin token in ${join(config.dataDir, 'admin-token')}` : '';
  console.log(`weft controller listening on http://${config.listen} (auth=${config.auth}, data=${config.dataDir}; agents connect to ws://${config.listen}${CHANNEL_PATH})${note}`);
  const stop = async () => {
    await app.close();
    await store.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

function splitListen(listen: string): [string, number] {
  const at = listen.lastIndexOf(':');
  return [listen.slice(0, at).replace(/^\[|\]$/g, ''), Number(listen.slice(at + 1))];
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? `weft: ${err.message}` : err);
  process.exit(1);
});
