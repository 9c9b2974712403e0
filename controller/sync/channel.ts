import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CHANNEL_PATH } from '../../schemas/agent/channel.ts';
import type { Authenticator } from '../auth/context.ts';
import { NeutronError, forbidden, httpNotFound } from '../errors.ts';
import type { SyncHub } from './hub.ts';
import type { AgentLink } from './session.ts';

// The agent channel over WebSocket: upgrade requests to CHANNEL_PATH on the controller's HTTP
// server are authenticated with the API's authenticator (agent tokens, and admins for tools),
// refused with a NeutronError body otherwise, and handed to the SyncHub as links.

/** Agent messages are small (hello, heartbeats, applied reports); 16 MiB is plenty for a host's ports. */
const MAX_AGENT_MESSAGE = 16 * 1024 * 1024;
/** How long a closing connection may take to finish the close handshake before it is cut. */
const CLOSE_GRACE_MS = 1000;

export interface Channel {
  /** Close every connection (close handshake, then cut after a grace period) and stop accepting. */
  close(): Promise<void>;
}

/** A close reason must fit in 123 bytes of UTF-8. */
function shortReason(reason: string): string {
  let out = reason;
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1);
  return out;
}

function refuse(socket: Duplex, err: NeutronError): void {
  if (socket.destroyed) return;
  const body = JSON.stringify(err.toBody());
  socket.end(
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? ''}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function linkOf(ws: WebSocket): AgentLink {
  return {
    send: (text) => ws.send(text),
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    close: (code, reason) => {
      if (ws.readyState === ws.CLOSED || ws.readyState === ws.CLOSING) return;
      ws.close(code, shortReason(reason));
      const cut = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
      cut.unref();
      ws.once('close', () => clearTimeout(cut));
    },
  };
}

export function attachChannel(server: Server, hub: SyncHub, authenticator: Authenticator): Channel {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_AGENT_MESSAGE, clientTracking: true });
  const pending = new Set<Duplex>();

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '').split('?')[0];
    if (path !== CHANNEL_PATH) return refuse(socket, httpNotFound());
    pending.add(socket);
    socket.once('close', () => pending.delete(socket));
    authenticator.authenticate(req.headers).then(
      (ctx) => {
        pending.delete(socket);
        if (socket.destroyed) return;
        if (hub.closed) return refuse(socket, new NeutronError(503, 'HTTPServiceUnavailable', 'The controller is shutting down.'));
        if (!ctx.isAgent && !ctx.isAdmin) return refuse(socket, forbidden('agent_channel'));
        wss.handleUpgrade(req, socket, head, (ws) => {
          const session = hub.accept(linkOf(ws));
          ws.on('message', (data, isBinary) => {
            if (isBinary) return session.receive('\u0000'); // a binary frame is a protocol violation
            session.receive(Array.isArray(data) ? Buffer.concat(data).toString('utf8') : data.toString());
          });
          ws.on('close', () => session.onClosed());
          ws.on('error', () => ws.terminate());
        });
      },
      (err) => {
        pending.delete(socket);
        refuse(socket, err instanceof NeutronError ? err : new NeutronError(500, 'HTTPInternalServerError', 'Authentication failed.'));
      },
    );
  };
  server.on('upgrade', onUpgrade);

  return {
    async close() {
      server.off('upgrade', onUpgrade);
      for (const socket of pending) socket.destroy();
      hub.close(); // closes every session with 1001
      const open = [...wss.clients].filter((ws) => ws.readyState !== ws.CLOSED);
      await Promise.all(open.map((ws) => new Promise<void>((done) => {
        if (ws.readyState === ws.CLOSED) return done();
        ws.once('close', () => done());
      })));
      await new Promise<void>((done) => wss.close(() => done()));
    },
  };
}
