// For teardown.test.ts: starts an etcd member and a controller as a benchmark would, says where
// they are, and waits to be interrupted; the teardown registry must stop both.
import { startEtcdCluster } from '../../lab/etcd.ts';
import { tearDownOnSignals } from '../../lab/teardown.ts';
import { startController } from './controller-process.ts';

tearDownOnSignals();
const cluster = await startEtcdCluster({ members: 1 });
const controller = await startController({ env: { WEFT_LOG_LEVEL: 'warn' } });
console.log(JSON.stringify({ etcdDir: cluster.dir, controllerPid: controller.pid }));
setInterval(() => undefined, 60_000);
