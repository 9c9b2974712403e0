// NftSetWriter (agent/l3/nft-set-writer.ts) against the kernel: sets and maps of a table in a
// namespace replaced in one transaction over the agent's own netlink socket, errors with nothing
// applied, and sockets that follow the namespace's life.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NftSetWriter } from '../../agent/l3/nft-set-writer.ts';
import { NftablesError } from '../../agent/l3/nftables-client.ts';
import { ipv4Bytes, SetBatchTooLarge, type NftSetContents } from '../../agent/l3/nft-set-batch.ts';
import { createNetns, deleteNetns, execInNetns } from '../../agent/host/netns.ts';

const TAG = randomBytes(3).toString('hex');
const NS = `nsw${TAG}`;
let writer: NftSetWriter;

interface Listed { elem?: unknown[] }
/** The elements of set or map `name` of `ip t`, as nft lists them: addresses, or [key, value] pairs. */
async function elements(name: string, kind: 'set' | 'map'): Promise<unknown[]> {
  const out = JSON.parse((await execInNetns(NS, 'nft', ['-j', 'list', kind, 'ip', 't', name])).stdout) as { nftables: Array<Record<string, Listed>> };
  const elem = out.nftables.find((x) => x[kind])?.[kind]?.elem ?? [];
  return [...elem].sort();
}

const fips = (n: number, from = 0): { floating: string[]; fixed: string[] } => ({
  floating: Array.from({ length: n }, (_, i) => `203.0.${(from + i) >> 8}.${(from + i) & 255}`),
  fixed: Array.from({ length: n }, (_, i) => `10.1.${(from + i) >> 8}.${(from + i) & 255}`),
});
const contents = ({ floating, fixed }: { floating: string[]; fixed: string[] }): NftSetContents[] => [
  { name: 'floating', keys: floating.map(ipv4Bytes) },
  { name: 'fip_to_fixed', keys: floating.map(ipv4Bytes), values: fixed.map(ipv4Bytes) },
];

beforeAll(async () => {
  await createNetns(NS);
  await execInNetns(NS, 'nft', ['add table ip t; add set ip t floating { type ipv4_addr; }; add map ip t fip_to_fixed { type ipv4_addr : ipv4_addr; }']);
  writer = new NftSetWriter();
});
afterAll(async () => {
  writer?.close();
  await deleteNetns(NS).catch(() => undefined);
});

describe('NftSetWriter', () => {
  it('fills sets and maps, then replaces what they held', async () => {
    await writer.replace(NS, 't', contents(fips(3)));
    expect(await elements('floating', 'set')).toEqual(['203.0.0.0', '203.0.0.1', '203.0.0.2']);
    expect(await elements('fip_to_fixed', 'map')).toEqual([['203.0.0.0', '10.1.0.0'], ['203.0.0.1', '10.1.0.1'], ['203.0.0.2', '10.1.0.2']]);
    await writer.replace(NS, 't', contents({ floating: ['203.0.0.1'], fixed: ['10.1.9.9'] }));
    expect(await elements('floating', 'set')).toEqual(['203.0.0.1']);
    expect(await elements('fip_to_fixed', 'map')).toEqual([['203.0.0.1', '10.1.9.9']]);
  });

  it('empties a set given no elements', async () => {
    await writer.replace(NS, 't', contents({ floating: [], fixed: [] }));
    expect(await elements('floating', 'set')).toEqual([]);
    expect(await elements('fip_to_fixed', 'map')).toEqual([]);
  });

  it('carries 2,400 floating IPs in one transaction (the map spread over two messages), and refuses more than one message holds, sending nothing', async () => {
    await writer.replace(NS, 't', contents(fips(2400)));
    expect((await elements('fip_to_fixed', 'map')).length).toBe(2400);
    expect((await elements('floating', 'set')).length).toBe(2400);
    await expect(writer.replace(NS, 't', [...contents(fips(4000)), ...contents(fips(4000))])).rejects.toThrow(SetBatchTooLarge);
    expect((await elements('fip_to_fixed', 'map')).length).toBe(2400);
  });

  it('changes only the elements an update names, and applies none of an update the kernel refuses', async () => {
    await writer.replace(NS, 't', contents(fips(3)));
    const [f1, x1, x9] = ['203.0.0.1', '10.1.0.1', '10.1.9.9'].map(ipv4Bytes);
    await writer.update(NS, 't', [
      { name: 'floating', flush: false, remove: [], keys: [] },
      { name: 'fip_to_fixed', flush: false, remove: [f1], keys: [f1], values: [x9] },
    ]);
    expect(await elements('fip_to_fixed', 'map')).toEqual([['203.0.0.0', '10.1.0.0'], ['203.0.0.1', '10.1.9.9'], ['203.0.0.2', '10.1.0.2']]);
    // Taking out an element that is not there fails the whole transaction.
    const err = await writer.update(NS, 't', [
      { name: 'floating', flush: false, remove: [], keys: [ipv4Bytes('203.0.0.7')] },
      { name: 'fip_to_fixed', flush: false, remove: [ipv4Bytes('203.0.0.8')], keys: [f1], values: [x1] },
    ]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NftablesError);
    expect(await elements('floating', 'set')).toEqual(['203.0.0.0', '203.0.0.1', '203.0.0.2']);
    expect(await elements('fip_to_fixed', 'map')).toContainEqual(['203.0.0.1', '10.1.9.9']);
    // Nothing to change: nothing is sent, and it resolves.
    await writer.update(NS, 't', [{ name: 'floating', flush: false, remove: [], keys: [] }]);
  });

  it("rejects with the kernel's error, and none of the transaction applies", async () => {
    await writer.replace(NS, 't', contents(fips(2)));
    const err = await writer.replace(NS, 't', [...contents(fips(1, 50)), { name: 'nosuchset', keys: [ipv4Bytes('192.0.2.1')] }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NftablesError);
    expect(String(err)).toMatch(/No such file or directory/);
    expect(await elements('floating', 'set')).toEqual(['203.0.0.0', '203.0.0.1']);
    // A value that does not fit the map's type: the kernel refuses it too.
    await expect(writer.replace(NS, 't', [{ name: 'fip_to_fixed', keys: [ipv4Bytes('203.0.0.9')], values: [Uint8Array.from([1, 2])] }])).rejects.toThrow(NftablesError);
    await writer.replace(NS, 't', contents(fips(1, 7))); // and it goes on
    expect(await elements('floating', 'set')).toEqual(['203.0.0.7']);
  });

  it('keeps concurrent transactions apart: each is answered for itself, the last one stands', async () => {
    await Promise.all([1, 2, 3, 4].map((i) => writer.replace(NS, 't', contents(fips(i, 100)))));
    expect(await elements('floating', 'set')).toEqual(['203.0.0.100', '203.0.0.101', '203.0.0.102', '203.0.0.103']);
  });

  it('follows a namespace deleted and made again under the same name: the refill lands in the new one', async () => {
    await writer.replace(NS, 't', contents(fips(1, 20)));
    await deleteNetns(NS);
    await createNetns(NS);
    await execInNetns(NS, 'nft', ['add table ip t; add set ip t floating { type ipv4_addr; }; add map ip t fip_to_fixed { type ipv4_addr : ipv4_addr; }']);
    await writer.replace(NS, 't', contents(fips(1, 21)));
    expect(await elements('floating', 'set')).toEqual(['203.0.0.21']);
  });

  it('refuses a namespace that does not exist, and reopens a forgotten one', async () => {
    await expect(writer.replace(`gone${TAG}`, 't', contents(fips(1)))).rejects.toThrow(/No such file/);
    await expect(writer.replace('../etc', 't', contents(fips(1)))).rejects.toThrow(/invalid network namespace/);
    writer.forget(NS);
    writer.forget(NS); // twice is nothing
    await writer.replace(NS, 't', contents(fips(1, 5)));
    expect(await elements('floating', 'set')).toEqual(['203.0.0.5']);
  });
});
