// A stand-in agent for the dead-man switch's integration test (test/integration/l3-dead-man.test.ts):
// it guards the legs of one HA router (the port ids on its command line) with a real DeadManSwitch,
// prints the watcher's pid, then waits for orders on stdin: 'settle' (its legs are silent now),
// 'pid' (print the current watcher's pid), 'spawn' (start `sleep 60` as a command that dies with the
// agent, and `sleep 61` as one that does not) or 'close' (a clean stop). It is killed by the test
// the way an agent dies.
import { DeadManSwitch } from '../../agent/l3/dead-man.ts';
import type { GuardedPlan } from '../../agent/l3/dead-man-guard.ts';
import { run } from '../../agent/host/exec.ts';

const portIds = process.argv.slice(2);
const plan = new Map<string, GuardedPlan>([['r1', {
  ha: true, role: 'active',
  spec: { routerId: 'r1', routes: [], interfaces: portIds.map((p) => ({ portId: p, name: `qr-${p.slice(0, 11)}`, mac: 'fa:16:3e:00:00:01', addresses: [] })) },
}]]);
const say = (_obj: unknown, msg: string) => console.log(msg);
const dm = new DeadManSwitch({ host: 'stand-in', respawnMs: 200, log: { info: say, warn: say, error: say } as never });
await dm.arm(plan, new Set(plan.keys()));
console.log(`armed ${dm.pid}`);
process.stdin.setEncoding('utf8');
process.stdin.on('data', async (order: string) => {
  if (order.includes('settle')) {
    await dm.settle(plan, new Set(plan.keys()), { legs: () => 'silent', present: () => true, failed: () => false });
    console.log('settled');
  }
  if (order.includes('pid')) console.log(`watcher ${dm.pid}`);
  if (order.includes('spawn')) {
    void run('sleep', ['60'], { diesWithAgent: true, allowFail: true }).catch(() => undefined);
    void run('sleep', ['61'], { allowFail: true }).catch(() => undefined);
    console.log('spawned');
  }
  if (order.includes('close')) {
    await dm.close();
    console.log('closed');
    process.exit(0);
  }
});
