/**
 * The baseline: a bare node-coap server that only answers (2.04, no
 * payload) — no back-end, no routing. Reports its port over IPC and exits
 * with its parent.
 */
import { createRequire } from 'node:module';

// node-coap is thinggate's own dependency; resolve it from the repository root.
const require = createRequire(new URL('../../package.json', import.meta.url));
const coap = require('coap');

const server = coap.createServer({ type: 'udp4' }, (_req, res) => {
  res.code = '2.04';
  res.end();
});
server.listen(0, '127.0.0.1', () => process.send({ port: /** @type {any} */ (server)._sock.address().port }));
process.on('disconnect', () => process.exit(0));
