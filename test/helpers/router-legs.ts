// How many of a router's legs (host-side veth ends `tr-<port id[:11]>`) are up on a lab host, read
// with `ip -j link show` in its namespace. A reading that failed (`ip` killed or cut short on a
// loaded machine) is taken again, never counted as "down": the HA tests assert on these samples.
import type { LabHost } from '../../lab/lab.ts';

const ATTEMPTS = 20;

export async function legsUpOn(host: Pick<LabHost, 'exec'>, legs: readonly string[]): Promise<number> {
  for (let i = 0; i < ATTEMPTS; i++) {
    const r = await host.exec(['ip', '-j', 'link', 'show']);
    if (r.code !== 0 || !r.stdout.trim().startsWith('[')) continue;
    const links = JSON.parse(r.stdout) as Array<{ ifname: string; flags: string[] }>;
    return legs.filter((l) => links.find((x) => x.ifname === l)?.flags.includes('UP')).length;
  }
  throw new Error(`could not read the links of a lab host ${ATTEMPTS} times in a row`);
}
