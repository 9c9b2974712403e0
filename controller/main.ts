import { ConfigError, loadConfig } from './config.ts';
import { startControllerServer } from './server.ts';

// The controller alone: reads the configuration and serves until SIGINT/SIGTERM.

async function main(): Promise<void> {
  const server = await startControllerServer(loadConfig());
  console.log(server.banner);
  const stop = async () => {
    await server.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? `weft: ${err.message}` : err);
  process.exit(1);
});
