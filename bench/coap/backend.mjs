/**
 * Bench back-end for the CoAP run: node:http on a loopback port answering
 * every request 204 once its body is read. Reports its port over IPC and
 * exits with its parent.
 */
import { createServer } from 'node:http';
import { portOf } from '../lib/net.mjs';

const server = createServer({ keepAliveTimeout: 60_000, requestTimeout: 0 }, (req, res) => {
  req.on('data', () => undefined);
  req.on('end', () => {
    res.writeHead(204);
    res.end();
  });
  req.on('error', () => res.destroy());
});
server.listen(0, '127.0.0.1', () => process.send({ port: portOf(server) }));
process.on('disconnect', () => process.exit(0));
