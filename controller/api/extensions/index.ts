import { availableExtensions, presentExtension } from '../../domain/extensions.ts';
import { httpNotFound } from '../../errors.ts';
import type { ApiPlugin } from '../context.ts';

// GET /v2.0/extensions and /v2.0/extensions/{alias}: what this controller supports,
// decided at request time from the routes actually registered (see domain/extensions.ts).

export const extensionsApi: ApiPlugin = (app) => {
  const serves = (path: string) => app.hasRoute({ method: 'GET', url: `/v2.0/${path}` });
  const docs = (summary: string) => ({ schema: { tags: ['extensions'], summary } });

  app.get('/v2.0/extensions', docs('List API extensions'), async () => ({
    extensions: availableExtensions(serves).map(presentExtension),
  }));
  app.get('/v2.0/extensions/:alias', docs('Show an API extension'), async (req) => {
    const { alias } = req.params as { alias: string };
    const ext = availableExtensions(serves).find((e) => e.alias === alias);
    if (!ext) throw httpNotFound(`Extension with alias ${alias} does not exist`);
    return { extension: presentExtension(ext) };
  });
};
