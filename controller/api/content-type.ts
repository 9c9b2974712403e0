import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest } from '../errors.ts';

// Request bodies are read as Neutron reads them (its body hook JSON-decodes request.body,
// whatever the Content-Type), not as fastify does by default:
// - an empty body is no body, whatever Content-Type says (Tempest, gophercloud and others send
//   `Content-Type: application/json` with every DELETE and PUT .../tags/{tag});
// - a body with no Content-Type, or another one, is JSON (neutron-tempest-plugin's client sends
//   PUTs without one; `curl -d` labels JSON as a form);
// - a non-empty body that is not JSON is a 400 NeutronError and changes nothing.

type Done = (err: Error | null, body?: unknown) => void;

export function neutronBodyParsing(app: FastifyInstance): void {
  // fastify's own parser refuses __proto__ and constructor.prototype keys (prototype poisoning).
  const secureJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (req: FastifyRequest, body: string | Buffer, done: Done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    secureJson(req, text, (err, parsed) => done(err ? badRequest(`Invalid JSON body: ${err.message}`) : null, parsed));
  });
}
