// The back-end of the balancer benchmark: node:http answering 200 to everything.
// Runs in its own process so it does not share an event loop with the client.
import { createServer } from 'node:http';
import { portOf } from '../lib/net.mjs';

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
    res.end('ok');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: portOf(server) });
});
process.on('disconnect', () => server.close(() => process.exit(0)));
