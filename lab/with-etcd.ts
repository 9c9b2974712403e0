// Runs a command beside a fresh etcd cluster on loopback, with WEFT_TEST_ETCD_ENDPOINTS naming it;
// the cluster and its folder are gone afterwards, whatever the command did.
//   tsx lab/with-etcd.ts [--members N] -- COMMAND [ARGS...]
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startEtcdCluster } from './etcd.ts';

const args = process.argv.slice(2);
const dash = args.indexOf('--');
if (dash < 0 || dash === args.length - 1) {
  console.error('usage: tsx lab/with-etcd.ts [--members N] -- COMMAND [ARGS...]');
  process.exit(2);
}
const at = args.indexOf('--members');
const members = at >= 0 && at < dash ? Number(args[at + 1]) : 3;
const [command, ...rest] = args.slice(dash + 1);

// Memory-backed when the machine has it: the tests measure Weft, not the disk's fsync.
const cluster = await startEtcdCluster({ members, parentDir: existsSync('/dev/shm') ? '/dev/shm' : undefined });
const child = spawn(command, rest, { stdio: 'inherit', env: { ...process.env, WEFT_TEST_ETCD_ENDPOINTS: cluster.endpoints.join(',') } });
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
const code = await new Promise<number>((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
await cluster.cleanup();
process.exit(code);
