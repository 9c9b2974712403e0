import { Etcd3, type IWatchResponse } from 'etcd3';
import type { EtcdCluster } from '../../lab/etcd.ts';

/**
 * Every value Weft's head key took in etcd's history under `prefix`: the Weft revision of each
 * commit, in commit order (read independently of the store's code, with a plain etcd client).
 */
export async function committedRevisions(cluster: EtcdCluster, prefix: string): Promise<number[]> {
  const client = new Etcd3({ hosts: cluster.endpoints.filter((_, i) => cluster.members[i].running) });
  try {
    const head = await client.get(`${prefix}m/head`).exec();
    const last = Number(head.kvs[0].mod_revision);
    const watcher = await client.watch().key(`${prefix}m/head`).startRevision('1').create();
    const revisions: number[] = [];
    await new Promise<void>((done) => {
      watcher.on('data', (res: IWatchResponse) => {
        for (const e of res.events) revisions.push(JSON.parse(e.kv.value.toString()).revision);
        if (res.events.some((e) => Number(e.kv.mod_revision) >= last)) done();
      });
    });
    await watcher.cancel();
    return revisions;
  } finally {
    client.close();
  }
}
