/**
 * Bench back-end for the AMQP run: node:http on a loopback port, answering
 * every request 204 once its body is read. Reports its port over IPC and
 * counts requests; exits with its parent.
 */
import { createServer } from 'node:http';
import { portOf } from '../lib/net.mjs';

let requests = 0;
const server = createServer({ keepAliveTimeout: 60_000, requestTimeout: 0 }, (req, res) => {
  req.on('data', () => undefined);
  req.on('end', () => {
    requests++;
    res.writeHead(204);
    res.end();
  });
  req.on('error', () => res.destroy());
});
server.listen(0, '127.0.0.1', () => process.send({ port: portOf(server) }));
process.on('message', (m) => {
  if (m === 'count') process.send({ requests });
});
process.on('disconnect', () => process.exit(0));
