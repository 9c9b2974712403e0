// `npm start`: the controller with its embedded store and, on Linux as root, a local agent with its
// own Open vSwitch and a host port on the public network, so that one machine is a whole fabric.
// Without root (or with WEFT_ALL_IN_ONE=0) the controller runs alone, and says why.
import { WeftAgent } from '../agent/agent.ts';
import { AgentConfigError } from '../agent/config.ts';
import { AGENT_TOOLS, ensureCommandsInstalled, ensureOpenvswitchInstalled } from '../agent/host/packages.ts';
import { ConfigError, loadConfig } from '../controller/config.ts';
import { startControllerServer } from '../controller/server.ts';
import { agentUnavailable, attachHostToPublic, DEFAULT_PUBLIC, localAgentConfig, stopLocalOvs } from './local-host.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  const server = await startControllerServer(config);
  console.log(server.banner);
  const stops: (() => Promise<void>)[] = [() => server.close()];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((e) => console.error(e));
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  const why = agentUnavailable({ env: process.env, platform: process.platform, uid: process.getuid?.() });
  if (why) {
    console.log(`weft: controller only, no local agent: ${why}`);
    return;
  }
  await ensureOpenvswitchInstalled();
  await ensureCommandsInstalled(AGENT_TOOLS);
  const publicNet = DEFAULT_PUBLIC;
  const local = localAgentConfig({ controllerUrl: server.url, dataDir: config.dataDir, env: process.env, publicNet });
  // The local agent needs no enrolment: this process is the controller, and mints its credential
  // (a fresh one each start, which retires the last one).
  const agentConfig = { ...local, credential: await server.issueAgentCredential(local.host) };
  const agent = new WeftAgent(agentConfig);
  await agent.start();
  stops.push(async () => {
    await agent.stop();
    await stopLocalOvs(agentConfig);
  });
  await attachHostToPublic(agentConfig, publicNet);
  console.log(
    `weft: local agent '${agentConfig.host}' running, with its Open vSwitch in ${agentConfig.runDir}; ` +
      `physical network '${publicNet.physnet}' is ${publicNet.bridge}, where this machine is ${publicNet.hostCidr} ` +
      `(make it the external subnet's gateway to reach floating IPs from here; README, Quick start)`,
  );
}

main().catch((err) => {
  console.error(err instanceof ConfigError || err instanceof AgentConfigError ? `weft: ${err.message}` : err);
  process.exit(1);
});
