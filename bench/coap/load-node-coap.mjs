/**
 * CoAP load generator built on node-coap's own client (child process):
 * SOCKETS agents (one UDP socket each), each keeping WINDOW CON POST
 * requests outstanding through `coap.request`. This is how a Node
 * application would drive a CoAP server; the raw generator (load.mjs)
 * is lighter and measures the servers rather than the client.
 *
 * argv: port sockets window size warmupMs seconds
 * Reports { rate, answered, lost, errors } over IPC.
 */
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../package.json', import.meta.url));
const coap = require('coap');

const [port, SOCKETS, WINDOW, SIZE, WARMUP_MS, SECONDS] = process.argv.slice(2).map(Number);
const payload = Buffer.alloc(SIZE, 0x61);
let counting = false;
let answered = 0;
let errors = 0;

for (let s = 0; s < SOCKETS; s++) {
  const agent = new coap.Agent({ type: 'udp4' });
  const one = () => {
    const req = coap.request({
      hostname: '127.0.0.1',
      port,
      method: 'POST',
      pathname: `/telemetry/bench-${s}`,
      agent,
      options: { 'Content-Format': 'application/octet-stream' },
    });
    req.on('response', (res) => {
      if (!res.code.startsWith('2.')) errors++;
      else if (counting) answered++;
      res.resume();
      one();
    });
    req.on('error', () => {
      errors++;
      one();
    });
    req.end(payload);
  };
  for (let i = 0; i < WINDOW; i++) one();
}

setTimeout(() => {
  counting = true;
  const t0 = performance.now();
  setTimeout(() => {
    const rate = answered / ((performance.now() - t0) / 1000);
    process.send({ rate, answered, lost: 0, errors }, () => process.exit(0));
  }, SECONDS * 1000);
}, WARMUP_MS);
