// The all-in-one's decisions about the local host (all-in-one/local-host.ts); the real start is
// test/e2e/all-in-one.test.ts.
import { describe, expect, it } from 'vitest';
import { agentUnavailable, DEFAULT_PUBLIC, localAgentConfig } from '../../../all-in-one/local-host.ts';

describe('agentUnavailable', () => {
  it('runs the agent only on Linux as root, unless WEFT_ALL_IN_ONE=0', () => {
    expect(agentUnavailable({ env: {}, platform: 'linux', uid: 0 })).toBeNull();
    expect(agentUnavailable({ env: {}, platform: 'linux', uid: 1000 })).toMatch(/needs root/);
    expect(agentUnavailable({ env: {}, platform: 'darwin', uid: 0 })).toMatch(/needs Linux/);
    expect(agentUnavailable({ env: { WEFT_ALL_IN_ONE: '0' }, platform: 'linux', uid: 0 })).toBe('WEFT_ALL_IN_ONE=0');
  });
});

describe('localAgentConfig', () => {
  const base = { controllerUrl: 'http://127.0.0.1:9696', dataDir: '/srv/weft', publicNet: DEFAULT_PUBLIC };
  it('gives the agent its own switch in the data dir, the public network on br-ex and VXLAN on loopback', () => {
    const c = localAgentConfig({ ...base, env: {} });
    expect(c).toMatchObject({
      controllerUrls: ['http://127.0.0.1:9696'], runDir: '/srv/weft/agent', stateDir: '/srv/weft/agent', ovsdb: undefined,
      tunnelIp: '127.0.0.1', bridgeMappings: { public: 'br-ex' }, datapath: 'netdev',
    });
  });
  it("lets the user's WEFT_* agent settings win, but not over the controller's address", () => {
    const c = localAgentConfig({ ...base, env: { WEFT_HOST: 'node7', WEFT_ROUTER_NAMESPACE_PREFIX: 'r-', WEFT_CONTROLLER_URL: 'http://elsewhere:1', WEFT_LISTEN: '0.0.0.0:1' } });
    expect(c.host).toBe('node7');
    expect(c.routerNamespacePrefix).toBe('r-');
    expect(c.controllerUrls).toEqual(['http://127.0.0.1:9696']);
  });
});
