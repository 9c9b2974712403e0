// Traffic probes run inside VM namespaces with `node probe.mjs MODE ...` (no dependencies).
//   serve-tcp PORT                 echo server (lines)
//   connect-tcp HOST PORT MS       exit 0 when a line comes back within MS, else 1
//   stream-tcp HOST PORT           one connection; sends a line every 50 ms, prints "echo N" per reply
//   serve-udp PORT                 echoes datagrams
//   serve-name PORT NAME           answers every TCP connection with NAME (who is behind an address?)
//   ask HOST PORT MS               prints what a serve-name server answered; exit 1 on failure
//   serve-udp-name PORT NAME       answers every datagram with NAME
//   udp-stream HOST PORT SPORT     from a fixed source port, one datagram every 20 ms; prints each answer
//   serve-udp-tag PORT NAME        answers every datagram with NAME:<its payload>
//   udp-probe HOST PORT SPORT MS [FILE]  sends sequence numbers every MS ms from a fixed port;
//                                  writes "reply <epoch ms> <answer> <epoch ms it was sent>" per
//                                  answer (to FILE if given), and prints "sent <n>" on SIGTERM
import net from 'node:net';
import dgram from 'node:dgram';
import fs from 'node:fs';

const [mode, a, b, c] = process.argv.slice(2);
if (mode === 'serve-tcp') {
  net.createServer((s) => { s.on('error', () => {}); s.pipe(s); }).listen(Number(a), '::', () => console.log('listening'));
} else if (mode === 'connect-tcp') {
  const s = net.connect({ host: a, port: Number(b) });
  const timer = setTimeout(() => { console.log('timeout'); process.exit(1); }, Number(c ?? 2000));
  s.on('connect', () => s.write('ping\n'));
  s.on('data', () => { clearTimeout(timer); console.log('ok'); process.exit(0); });
  s.on('error', (e) => { clearTimeout(timer); console.log(`error ${e.code}`); process.exit(1); });
} else if (mode === 'stream-tcp') {
  const s = net.connect({ host: a, port: Number(b) });
  let n = 0;
  s.on('connect', () => { console.log('connected'); setInterval(() => s.write(`${n++}\n`), 50); });
  s.on('data', (d) => { for (const line of d.toString().split('\n').filter(Boolean)) console.log(`echo ${line}`); });
  s.on('error', (e) => { console.log(`error ${e.code}`); process.exit(1); });
} else if (mode === 'serve-udp') {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (m, r) => sock.send(m, r.port, r.address));
  sock.bind(Number(a), () => console.log('listening'));
} else if (mode === 'serve-name') {
  net.createServer((s) => { s.on('error', () => {}); s.end(`${b}\n`); }).listen(Number(a), '::', () => console.log('listening'));
} else if (mode === 'ask') {
  const s = net.connect({ host: a, port: Number(b) });
  let got = '';
  const timer = setTimeout(() => { console.log('timeout'); process.exit(1); }, Number(c ?? 2000));
  s.on('data', (d) => { got += d; });
  s.on('end', () => { clearTimeout(timer); console.log(got.trim()); process.exit(0); });
  s.on('error', (e) => { clearTimeout(timer); console.log(`error ${e.code}`); process.exit(1); });
} else if (mode === 'serve-udp-name') {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (_m, r) => sock.send(b, r.port, r.address));
  sock.bind(Number(a), () => console.log('listening'));
} else if (mode === 'udp-stream') {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (m) => console.log(`reply ${m.toString()}`));
  sock.bind(Number(c), () => setInterval(() => sock.send('x', Number(b), a), 20));
} else if (mode === 'serve-udp-tag') {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (m, r) => sock.send(`${b}:${m}`, r.port, r.address));
  sock.bind(Number(a), () => console.log('listening'));
} else if (mode === 'udp-probe') {
  const sock = dgram.createSocket('udp4');
  const now = () => (performance.timeOrigin + performance.now()).toFixed(3);
  let n = 0;
  const sentAt = [];
  // With a FILE the answers go there (the reader looks when it likes) instead of waking it 500
  // times a second through a pipe.
  const out = process.argv[7] ? fs.openSync(process.argv[7], 'a') : 1;
  sock.on('message', (m) => {
    const seq = Number(String(m).split(':').at(-1));
    fs.writeSync(out, `reply ${now()} ${m} ${sentAt[seq] ?? '-'}\n`);
  });
  process.on('SIGTERM', () => { console.log(`sent ${n}`); process.exit(0); });
  sock.bind(Number(c), () => setInterval(() => { sentAt[n] = now(); sock.send(String(n++), Number(b), a); }, Number(process.argv[6] ?? 2)));
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
