import { describe, expect, it } from 'vitest';
import { AgentConfigError, loadAgentConfig } from '../../../agent/config.ts';

// The agent's WEFT_* environment (the lab test checks the rest against real hosts).

const base = { WEFT_ENROLMENT_TOKEN: 'weft-enrol-x', WEFT_HOST: 'h1' };
const failure = (env: Record<string, string>) => {
  try {
    loadAgentConfig({ ...base, ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(AgentConfigError);
    return (err as Error).message;
  }
  throw new Error('expected an AgentConfigError');
};

describe('agent config', () => {
  it('has defaults; takes a credential or an enrolment token, and refuses the retired shared agent token', () => {
    expect(loadAgentConfig(base)).toMatchObject({
      host: 'h1', controllerUrls: ['http://127.0.0.1:9696'], routerNamespacePrefix: 'qrouter-', logLevel: 'info', metricsListen: '127.0.0.1:9697',
      enrolmentToken: 'weft-enrol-x', credential: undefined, stateDir: '/var/lib/weft-agent',
    });
    expect(loadAgentConfig({ WEFT_HOST: 'h1', WEFT_AGENT_CREDENTIAL: 'weft-host-y', WEFT_STATE_DIR: '/srv/a' })).toMatchObject({ credential: 'weft-host-y', stateDir: '/srv/a' });
    // Whether a stored credential exists is found out at start (test/unit/agent/identity.test.ts).
    expect(loadAgentConfig({ WEFT_HOST: 'h1' })).toMatchObject({ credential: undefined, enrolmentToken: undefined });
    expect(failure({ WEFT_AGENT_TOKEN: 'tok' })).toMatch(/^WEFT_AGENT_TOKEN is gone: the shared agent token let its holder act as any host.*WEFT_ENROLMENT_TOKEN/);
  });

  it('takes WEFT_METRICS_LISTEN as HOST:PORT, and an empty value turns the endpoint off', () => {
    expect(loadAgentConfig({ ...base, WEFT_METRICS_LISTEN: '0.0.0.0:9100' }).metricsListen).toBe('0.0.0.0:9100');
    expect(loadAgentConfig({ ...base, WEFT_METRICS_LISTEN: 'mgmt.example:9697' }).metricsListen).toBe('mgmt.example:9697');
    expect(loadAgentConfig({ ...base, WEFT_METRICS_LISTEN: '[::1]:9697' }).metricsListen).toBe('[::1]:9697');
    expect(loadAgentConfig({ ...base, WEFT_METRICS_LISTEN: '' }).metricsListen).toBeNull();
    // Other empty variables still mean "unset".
    expect(loadAgentConfig({ ...base, WEFT_LOG_LEVEL: '' }).logLevel).toBe('info');
    for (const bad of ['9697', 'localhost', 'host:port', 'host:70000', '::1:9697', 'a:b:9697']) {
      expect(failure({ WEFT_METRICS_LISTEN: bad }), bad).toMatch(/^WEFT_METRICS_LISTEN: must be HOST:PORT/);
    }
  });
});

describe('agent config: controller replicas', () => {
  it('takes WEFT_CONTROLLER_URL as one URL or a comma-separated list, in order', () => {
    expect(loadAgentConfig({ ...base, WEFT_CONTROLLER_URL: 'http://ctl:9696/' }).controllerUrls).toEqual(['http://ctl:9696']);
    expect(loadAgentConfig({ ...base, WEFT_CONTROLLER_URL: 'http://a:9696, https://b:9696/,http://10.0.0.3:9696' }).controllerUrls)
      .toEqual(['http://a:9696', 'https://b:9696', 'http://10.0.0.3:9696']);
    expect(failure({ WEFT_CONTROLLER_URL: 'http://a:9696,b:9696' })).toMatch(/^WEFT_CONTROLLER_URL: 'b:9696' is not an http/);
    expect(failure({ WEFT_CONTROLLER_URL: 'ftp://a' })).toMatch(/^WEFT_CONTROLLER_URL: 'ftp:\/\/a' is not an http/);
    expect(failure({ WEFT_CONTROLLER_URL: ' , ' })).toMatch(/^WEFT_CONTROLLER_URL: names no URL/);
  });

  it('takes WEFT_CONTROLLER_SOCKET only beside a single URL', () => {
    expect(failure({ WEFT_CONTROLLER_SOCKET: '/run/weft/c.sock', WEFT_CONTROLLER_URL: 'http://a:1,http://b:1' })).toMatch(/^WEFT_CONTROLLER_SOCKET: .*one URL/);
  });
});

describe('agent config: the controller over a unix socket', () => {
  it('takes WEFT_CONTROLLER_SOCKET beside an http:// URL, not beside https://', () => {
    expect(loadAgentConfig({ ...base, WEFT_CONTROLLER_SOCKET: '/run/weft/controller.sock' }).controllerSocket).toBe('/run/weft/controller.sock');
    expect(loadAgentConfig(base).controllerSocket).toBeUndefined();
    expect(failure({ WEFT_CONTROLLER_SOCKET: '/run/weft/c.sock', WEFT_CONTROLLER_URL: 'https://ctl:9696' })).toMatch(/^WEFT_CONTROLLER_SOCKET: .*http:\/\//);
    expect(failure({ WEFT_CONTROLLER_SOCKET: `/${'x'.repeat(120)}` })).toMatch(/^WEFT_CONTROLLER_SOCKET: .*107 bytes/);
  });
});
