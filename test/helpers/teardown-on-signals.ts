// Every test file's process (vitest's forks): on SIGINT or SIGTERM, stop what the lab started there
// (lab/teardown.ts) before exiting, so that an interrupted run leaves no switch, agent, controller,
// etcd member or namespace behind.
import { tearDownOnSignals } from '../../lab/teardown.ts';

tearDownOnSignals();
