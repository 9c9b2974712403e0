import { forbidden } from '../../errors.ts';
import type { ApiPlugin } from '../context.ts';

// GET /v2.0/weft/status (admin, read-only): the model's current revision, which Neutron's API has
// no place for. With each agent's applied_revision (GET /v2.0/agents) it tells how far behind an
// agent is: `weft status` shows that lag.

export const STATUS_PATH = '/v2.0/weft/status';

export const statusApi: ApiPlugin = (app, { store }) => {
  app.get(STATUS_PATH, { schema: { tags: ['weft'], summary: "The model's current revision (admin)" } }, async (req) => {
    if (!req.ctx.isAdmin) throw forbidden('get_weft_status');
    return { status: { revision: store.revision } };
  });
};
