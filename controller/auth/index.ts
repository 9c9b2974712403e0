import type { Config } from '../config.ts';
import type { Authenticator } from './context.ts';
import { keystoneAuth } from './keystone.ts';
import { noAuth } from './noauth.ts';
import { ensureTokens, staticTokens } from './static-tokens.ts';

/** The authenticator the configuration asks for. */
export function authenticatorFor(config: Config): Authenticator {
  switch (config.auth) {
    case 'noauth':
      return noAuth();
    case 'token':
      return staticTokens(ensureTokens(config));
    case 'keystone':
      // Host agents are not Keystone users: they present their own credentials, which the agent
      // channel checks itself (sync/channel.ts), in every mode.
      return keystoneAuth(config);
  }
}
