// For teardown.test.ts: a test that starts a one-host fabric (controller, namespaces, Open vSwitch,
// agent) and an etcd member, says where they are, and waits to be interrupted; its process must
// stop them all when vitest is.
import { it } from 'vitest';
import { startEtcdCluster } from '../../lab/etcd.ts';
import { createFabric } from './fabric.ts';

it('waits to be interrupted', async () => {
  const cluster = await startEtcdCluster({ members: 1 });
  const f = await createFabric({ hosts: ['h1'] }).catch(async (err) => {
    await cluster.cleanup();
    throw err;
  });
  const started = { etcdDir: cluster.dir, controllerPid: f.controller.pid, controllerDir: f.controller.dataDir, labPrefix: f.lab.prefix, labRunRoot: f.lab.runRoot };
  console.log(`STARTED ${JSON.stringify(started)}`);
  try {
    await new Promise((r) => setTimeout(r, 120_000));
  } finally {
    // Not interrupted after all: clean up as any test does.
    await f.destroy();
    await cluster.cleanup();
  }
}, 180_000);
