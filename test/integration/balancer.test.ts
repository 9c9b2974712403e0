import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { startBalancer, type Balancer } from '../../lab/balancer.ts';

// The conformance run's balancer (lab/balancer.ts) spreads one kept-alive client's requests over
// every replica, skips one that is gone, and carries bodies and statuses unchanged.
const servers: http.Server[] = [];
let balancer: Balancer | undefined;
afterEach(async () => {
  await balancer?.close();
  balancer = undefined;
  await Promise.all(servers.splice(0).map((s) => new Promise((ok) => {
    s.closeAllConnections();
    s.close(ok);
  })));
});

async function backend(name: string): Promise<string> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ name, method: req.method, path: req.url, body, host: req.headers.host, forwardedHost: req.headers['x-forwarded-host'] }));
    });
  });
  servers.push(server);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<string> {
  const s = http.createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  await new Promise((ok) => s.close(ok));
  return url;
}

it('alternates requests between backends, with their methods, paths, bodies and statuses', async () => {
  balancer = await startBalancer([await backend('a'), await backend('b')]);
  const answers = [];
  for (let i = 0; i < 4; i++) {
    const res = await fetch(`${balancer.url}/v2.0/ports?i=${i}`, { method: 'POST', body: `{"n":${i}}`, keepalive: true });
    answers.push({ status: res.status, ...(await res.json()) });
  }
  expect(answers.map((a) => a.name)).toEqual(['a', 'b', 'a', 'b']);
  expect(answers[3]).toMatchObject({ status: 201, name: 'b', method: 'POST', path: '/v2.0/ports?i=3', body: '{"n":3}' });
  // As nginx does by default: the backend's own address as Host, the client's in X-Forwarded-Host.
  expect(answers[3].host).not.toBe(new URL(balancer.url).host);
  expect(answers[3].forwardedHost).toBe(new URL(balancer.url).host);
  expect(balancer.counts).toEqual([2, 2]);
});

it('skips a backend that refuses connections', async () => {
  balancer = await startBalancer([await backend('a'), await closedPort()]);
  const names = [];
  for (let i = 0; i < 3; i++) names.push((await (await fetch(`${balancer.url}/`)).json()).name);
  expect(names).toEqual(['a', 'a', 'a']);
});
