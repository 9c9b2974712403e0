#!/usr/bin/env node
// weft-agent: reads the WEFT_* environment (README, "Agent configuration") and runs until SIGTERM.
import { AgentConfigError, loadAgentConfig } from './config.ts';
import { WeftAgent } from './agent.ts';
import { AgentIdentityError } from './sync/identity.ts';

async function main(): Promise<void> {
  const agent = new WeftAgent(loadAgentConfig());
  await agent.start();
  const stop = async () => {
    await agent.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  console.error(err instanceof AgentConfigError || err instanceof AgentIdentityError ? `weft-agent: ${err.message}` : err);
  process.exit(1);
});
