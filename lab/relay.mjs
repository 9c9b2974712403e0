// The lab's "management network": agents run inside host namespaces, where 127.0.0.1 is not the
// controller's. Two relays, no dependencies, so that they start fast:
//   node relay.mjs tcp-to-unix PORT UNIX_PATH      in a host namespace: 127.0.0.1:PORT -> the unix socket
//   node relay.mjs unix-to-tcp UNIX_PATH HOST PORT in the root namespace: the unix socket -> the controller
// Each prints "listening" once it accepts connections.
import net from 'node:net';

const [mode, a, b, c] = process.argv.slice(2);
const pipe = (client, upstream) => {
  client.pipe(upstream).pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
};
if (mode === 'tcp-to-unix') {
  net.createServer((s) => pipe(s, net.connect({ path: b }))).listen(Number(a), '127.0.0.1', () => console.log('listening'));
} else if (mode === 'unix-to-tcp') {
  net.createServer((s) => pipe(s, net.connect({ host: b, port: Number(c) }))).listen(a, () => console.log('listening'));
} else {
  console.error(`relay: unknown mode '${mode}' (tcp-to-unix PORT UNIX_PATH | unix-to-tcp UNIX_PATH HOST PORT)`);
  process.exit(2);
}
