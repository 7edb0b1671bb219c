/**
 * The script-overhead bench's back-end: node:http in its own process,
 * answering 204 at once, so the gateway process's CPU is the gateway's.
 * Prints its port on stdout, then serves until its parent goes away.
 */
import { createServer } from 'node:http';
import { portOf } from '../lib/net.mjs';

const server = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(204);
    res.end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${portOf(server)}\n`));
process.on('disconnect', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
