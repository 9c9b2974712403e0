import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CHANNEL_PATH } from '../../schemas/agent/channel.ts';
import { credentialBySecret, isAgentCredential } from '../auth/agent-credentials.ts';
import { header, type Authenticator } from '../auth/context.ts';
import { NeutronError, forbidden, httpNotFound } from '../errors.ts';
import type { Store } from '../store/types.ts';
import type { SyncHub } from './hub.ts';
import type { AgentLink, ChannelIdentity } from './session.ts';

// The agent channel over WebSocket: upgrade requests to CHANNEL_PATH on the controller's HTTP
// server carry a host's agent credential (auth/agent-credentials.ts), which binds the connection
// to that host, or an admin's token (tools, simulated hosts: any host); anything else is refused
// with a NeutronError body before the upgrade. Accepted ones go to the SyncHub as links.

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

export const invalidCredential = () => new NeutronError(401, 'AgentCredentialInvalid',
  'The agent credential is not valid: unknown, revoked, or replaced by a newer enrolment of its host. Enrol the host again.');

/** The agent credential whose secret is `token`, or a 401. */
export async function agentCredentialOf(store: Store, token: string) {
  let credential = credentialBySecret(store.view(), token);
  // Issued through another replica a moment ago: this one may not have seen it yet.
  if (!credential && store.readBarrier) {
    await store.readBarrier();
    credential = credentialBySecret(store.view(), token);
  }
  if (!credential) throw invalidCredential();
  return credential;
}

/** Who is connecting, from the upgrade request's X-Auth-Token. */
export async function identify(headers: IncomingMessage['headers'], store: Store, authenticator: Authenticator): Promise<ChannelIdentity> {
  const token = header(headers, 'x-auth-token')?.trim();
  if (token && isAgentCredential(token)) {
    const credential = await agentCredentialOf(store, token);
    return { kind: 'host', host: credential.host, credentialId: credential.id };
  }
  const ctx = await authenticator.authenticate(headers);
  if (!ctx.isAdmin) throw forbidden('agent_channel');
  return { kind: 'admin' };
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
    identify(req.headers, hub.store, authenticator).then(
      (identity) => {
        pending.delete(socket);
        if (socket.destroyed) return;
        if (hub.closed) return refuse(socket, new NeutronError(503, 'HTTPServiceUnavailable', 'The controller is shutting down.'));
        wss.handleUpgrade(req, socket, head, (ws) => {
          const session = hub.accept(linkOf(ws), identity);
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
