// A round-robin HTTP balancer on loopback: each request goes to the next backend, so a client that
// keeps its connection alive still spreads its requests over every replica (a write to one, the
// read that follows to the other). A backend that refuses the connection is skipped; one that
// fails mid-request answers 502, as a real balancer would. Like nginx's defaults, the backend gets
// its own address as Host and the client's in X-Forwarded-Host/-Proto/-For: links that a backend
// builds name the balancer only if it reads those (Weft: proxyHeaders).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { whileAlive } from './teardown.ts';

export interface Balancer {
  readonly url: string;
  /** Requests sent to each backend, in backend order. */
  readonly counts: readonly number[];
  close(): Promise<void>;
}

export async function startBalancer(backends: readonly string[]): Promise<Balancer> {
  if (!backends.length) throw new Error('balancer: no backends');
  const targets = backends.map((b) => new URL(b));
  const counts = targets.map(() => 0);
  const agent = new http.Agent({ keepAlive: true });
  let next = 0;

  const forward = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, tries: number) => {
    const i = next++ % targets.length;
    const target = targets[i];
    counts[i]++;
    const upstream = http.request({
      host: target.hostname, port: target.port, method: req.method, path: req.url, agent,
      headers: {
        ...req.headers, host: target.host,
        'x-forwarded-host': req.headers.host ?? '', 'x-forwarded-proto': 'http', 'x-forwarded-for': req.socket.remoteAddress ?? '',
      },
    }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' && tries < targets.length) return forward(req, res, body, tries + 1);
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`balancer: ${err.message}\n`);
    });
    upstream.end(body);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => forward(req, res, Buffer.concat(chunks), 1));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  const close = whileAlive(async () => {
    server.closeAllConnections();
    await new Promise((ok) => server.close(ok));
    agent.destroy();
  });
  return { url: `http://127.0.0.1:${port}`, counts, close };
}
