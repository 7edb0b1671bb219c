/**
 * Back-end for the mqtt-path bench: node:http answering 204 at once and
 * counting requests. Reports its port on start; answers `{cmd:'count'}` over
 * IPC with the number of requests and its own CPU time.
 */
import { createServer } from 'node:http';
import { portOf } from '../lib/net.mjs';

let requests = 0;
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    requests++;
    res.writeHead(204).end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send({ port: portOf(server) }));
process.on('message', (/** @type {any} */ m) => {
  if (m.cmd === 'count') process.send({ count: requests });
});
process.on('disconnect', () => process.exit(0));
