import type { FastifyInstance, FastifyRequest } from 'fastify';
import { origin } from './resource.ts';

// Version discovery (GET /) and the v2.0 resource index, as keystoneauth and openstacksdk expect.

const COLLECTIONS: Array<[string, string]> = [
  ['network', 'networks'], ['subnet', 'subnets'], ['port', 'ports'], ['router', 'routers'],
  ['floatingip', 'floatingips'], ['security_group', 'security-groups'],
  ['security_group_rule', 'security-group-rules'], ['quota', 'quotas'],
];

export function versionRoutes(app: FastifyInstance): void {
  app.get('/', { schema: { tags: ['versions'], summary: 'API versions' } }, async (req) => ({
    versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ href: `${origin(req)}/v2.0/`, rel: 'self' }] }],
  }));
  const index = async (req: FastifyRequest) => ({
    resources: COLLECTIONS.map(([name, collection]) => ({
      name,
      collection: collection.replace(/-/g, '_'),
      links: [{ href: `${origin(req)}/v2.0/${collection}`, rel: 'self' }],
    })),
  });
  app.get('/v2.0', { schema: { tags: ['versions'], summary: 'Resources of v2.0' } }, index);
  app.get('/v2.0/', { schema: { hide: true } }, index);
}
