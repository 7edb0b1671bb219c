/**
 * CoAP load generator (child process): SOCKETS UDP sockets, each keeping
 * WINDOW CON POST requests outstanding; every piggybacked 2.xx response is
 * counted and replaced by the next request. A separate response (empty ACK,
 * then CON) is acknowledged and counted when the CON arrives. A request
 * unanswered for 2 s is sent again with a new message id (counted as lost).
 *
 * argv: port sockets window size warmupMs seconds
 * Reports { rate, answered, lost, errors } over IPC.
 */
import { createSocket } from 'node:dgram';

const [port, SOCKETS, WINDOW, SIZE, WARMUP_MS, SECONDS] = process.argv.slice(2).map(Number);
const payload = Buffer.alloc(SIZE, 0x61);

/** A CON POST to /telemetry/bench-<s> with a 4-byte token; message id and token patched per send. */
function template(s) {
  const path = Buffer.from(`bench-${s}`);
  const parts = [
    Buffer.from([0x44, 0x02, 0, 0, 0, 0, 0, 0]), // ver 1, CON, TKL 4, POST, mid, token
    Buffer.from([0xb9]),
    Buffer.from('telemetry'), // Uri-Path (11), len 9
    Buffer.from([path.length]),
    path, // Uri-Path, delta 0
    Buffer.from([0x11, 42]), // Content-Format (12) = 42 application/octet-stream
    Buffer.from([0xff]),
    payload,
  ];
  return Buffer.concat(parts);
}

let counting = false;
let answered = 0;
let lost = 0;
let errors = 0;
const sockets = [];

for (let s = 0; s < SOCKETS; s++) {
  const sock = createSocket('udp4');
  const tpl = template(s);
  let mid = (s * 9973) & 0xffff;
  /** slot by token index → sent-at */
  const sentAt = new Float64Array(WINDOW);
  const send = (slot) => {
    const b = Buffer.from(tpl);
    mid = (mid + 1) & 0xffff;
    b.writeUInt16BE(mid, 2);
    b.writeUInt32BE(slot, 4);
    sentAt[slot] = performance.now();
    sock.send(b, port, '127.0.0.1');
  };
  sock.on('message', (m) => {
    if (m.length < 4) return;
    const type = (m[0] >> 4) & 3;
    const code = m[1];
    if (code === 0) return; // empty ACK of a separate response: the CON follows
    if (type === 0) sock.send(Buffer.from([0x60, 0, m[2], m[3]]), port, '127.0.0.1'); // ACK a separate response
    const tkl = m[0] & 0x0f;
    if (tkl !== 4 || m.length < 8) return;
    const slot = m.readUInt32BE(4);
    if (slot >= WINDOW || sentAt[slot] === 0) return;
    if (code >> 5 !== 2) errors++;
    else if (counting) answered++;
    sentAt[slot] = 0;
    send(slot);
  });
  sock.bind(0, '127.0.0.1', () => {
    sock.setRecvBufferSize(4 * 1024 * 1024);
    for (let i = 0; i < WINDOW; i++) send(i);
  });
  setInterval(() => {
    const now = performance.now();
    for (let i = 0; i < WINDOW; i++) {
      if (sentAt[i] !== 0 && now - sentAt[i] > 2000) {
        lost++;
        send(i);
      }
    }
  }, 500).unref();
  sockets.push(sock);
}

setTimeout(() => {
  counting = true;
  const t0 = performance.now();
  setTimeout(() => {
    const rate = answered / ((performance.now() - t0) / 1000);
    process.send({ rate, answered, lost, errors }, () => process.exit(0));
  }, SECONDS * 1000);
}, WARMUP_MS);
