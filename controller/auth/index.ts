import type { Config } from '../config.ts';
import type { Authenticator } from './context.ts';
import { keystoneAuth } from './keystone.ts';
import { noAuth } from './noauth.ts';
import { ensureAgentToken, ensureTokens, staticTokens, withAgentToken } from './static-tokens.ts';

/** The authenticator the configuration asks for. */
export function authenticatorFor(config: Config): Authenticator {
  switch (config.auth) {
    case 'noauth':
      return noAuth();
    case 'token':
      return staticTokens(ensureTokens(config), config.agentToken);
    case 'keystone':
      return withAgentToken(keystoneAuth(config), ensureAgentToken(config));
  }
}
