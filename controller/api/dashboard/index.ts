import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply } from 'fastify';
import { httpNotFound } from '../../errors.ts';
import type { ApiPlugin } from '../context.ts';

// The dashboard's static files (dashboard/ at the top of the repository: plain HTML, CSS and
// JavaScript modules, no build step), at GET /dashboard and /dashboard/<file>. Served without a
// token (app.ts): the page itself asks for one. Only the files named here are served, so no
// request path ever becomes a file system path. Read on each request: they are small, and an
// edited file shows on reload.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../dashboard');

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  svg: 'image/svg+xml',
};

export const DASHBOARD_FILES = [
  'index.html', 'dashboard.css', 'dashboard.js', 'session.js', 'events.js', 'model.js', 'picture.js', 'agents.js', 'favicon.svg',
] as const;

/**
 * Scripts and styles only from here, no inline code, no framing, no referrer: resource names are
 * tenant-chosen text and the page holds a token, so an injected name must never run (the scripts
 * also only ever set names as text).
 */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const dashboardApi: ApiPlugin = (app) => {
  const serve = async (reply: FastifyReply, file: string) => {
    const type = TYPES[file.slice(file.lastIndexOf('.') + 1)];
    const body = await readFile(join(ROOT, file));
    return reply
      .type(type)
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .send(body);
  };
  const docs = { schema: { hide: true } };
  app.get('/dashboard', docs, async (_req, reply) => serve(reply, 'index.html'));
  app.get('/dashboard/', docs, async (_req, reply) => serve(reply, 'index.html'));
  app.get('/dashboard/:file', docs, async (req, reply) => {
    const { file } = req.params as { file: string };
    if (!(DASHBOARD_FILES as readonly string[]).includes(file)) throw httpNotFound();
    return serve(reply, file);
  });
};
