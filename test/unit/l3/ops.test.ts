// withDefaultOps (agent/l3/ops.ts): a fake's methods, completed with the defaults, made only when needed.
import { describe, expect, it } from 'vitest';
import { withDefaultOps, type L3Ops } from '../../../agent/l3/ops.ts';

const defaults = (made: string[]) => (): L3Ops => {
  made.push('defaults');
  const fail = (what: string) => async () => { throw new Error(`default ${what}`); };
  return {
    ensure: fail('ensure'), setGatewayAddresses: fail('setGatewayAddresses'), applyRules: fail('applyRules'), nft: fail('nft'), nftSets: fail('nftSets'), releaseNft: () => undefined,
    remove: fail('remove'), list: async () => [], conntrack: fail('conntrack'), announce: fail('announce'),
  };
};

describe('withDefaultOps', () => {
  it("sends set refills through a fake's own nft() when the fake has no nftSets: it sees every nft change", async () => {
    const made: string[] = [];
    const ops = withDefaultOps({ nft: async () => undefined }, defaults(made));
    expect(ops.nftSets).toBeUndefined();
    await ops.nft('ns', 'flush set ip weft floating');
    expect(made).toEqual([]);
  });

  it("uses a fake's nftSets, and the defaults' when the fake leaves nft to them too", async () => {
    const seen: string[] = [];
    const own = withDefaultOps({ nft: async () => undefined, nftSets: async (ns, table) => void seen.push(`${ns} ${table}`) }, defaults([]));
    await own.nftSets!('ns', 'weft', []);
    expect(seen).toEqual(['ns weft']);
    const made: string[] = [];
    const bare = withDefaultOps({}, defaults(made));
    await expect(bare.nftSets!('ns', 'weft', [])).rejects.toThrow('default nftSets');
    expect(made).toEqual(['defaults']);
  });

  it("leaves a gateway's addresses to a fake's own ensure() when the fake cannot set them alone", async () => {
    const made: string[] = [];
    const ops = withDefaultOps({ ensure: async () => undefined }, defaults(made));
    expect(ops.setGatewayAddresses).toBeUndefined();
    const bare = withDefaultOps({}, defaults(made));
    await expect(bare.setGatewayAddresses!({ routerId: 'r', interfaces: [], routes: [] })).rejects.toThrow('default setGatewayAddresses');
  });
});
