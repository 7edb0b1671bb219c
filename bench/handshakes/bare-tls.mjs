#!/usr/bin/env node
/**
 * Node's own TLS server with nothing of thinggate's on it: the floor under
 * thinggate's mqtts handshake rate (same certificates, client certificates
 * requested and verified as thinggate does, every connection closed by the
 * client after its handshake). Started by run.mjs.
 *
 *   node bench/handshakes/bare-tls.mjs DIR PORT
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:tls';

const [dir, port] = process.argv.slice(2);
const file = (n) => readFileSync(join(dir, n));
const server = createServer(
  { cert: file('server.crt'), key: file('server.key'), ca: file('ca.crt'), requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
  (s) => {
    s.on('error', () => undefined);
    s.on('data', () => undefined);
  },
);
server.on('tlsClientError', () => undefined);
server.listen(Number(port), '127.0.0.1');
