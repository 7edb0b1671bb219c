/**
 * The CoAP listener's one UDP socket is shared by every device: its receive
 * buffer (`coap.receiveBufferBytes`, SO_RCVBUF) is what holds a burst while
 * the event loop is busy. A separate process fires a burst of CoAP pings
 * while this process's event loop is blocked; every one must still arrive.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

const BURST = 2000;
/** Linux caps SO_RCVBUF at rmem_max; ask for what the machine allows, at most 4 MiB. */
const WANTED = Math.min(4 * 1024 * 1024, Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8')));

const SENDER = `
const { createSocket } = require('node:dgram');
const sock = createSocket('udp4');
sock.bind(0, '127.0.0.1', () => process.send('ready'));
process.on('message', (port) => {
  let sent = 0;
  // CoAP ping: an empty CON (RFC 7252 §4.3), 4 bytes, a fresh message id each.
  const next = () => {
    if (sent === ${BURST}) return sock.close(() => process.send('sent'));
    const id = sent++;
    sock.send(Buffer.from([0x40, 0x00, id >> 8, id & 255]), port, '127.0.0.1', next);
  };
  next();
});
`;

let gw: TestGateway;
let dir: string;
let sender: ChildProcess;

beforeAll(async () => {
  gw = await startGateway({
    listeners: [{ name: 'coap', protocol: 'coap', host: '127.0.0.1', port: 0, coap: { requestsPerSecond: 0, receiveBufferBytes: WANTED } }],
    pools: [{ name: 'be', endpoints: [{ url: 'http://127.0.0.1:9' }] }],
    routes: [{ match: { address: '#' }, pool: 'be' }],
  });
  dir = mkdtempSync(join(tmpdir(), 'tg-coap-rcvbuf-'));
  writeFileSync(join(dir, 'sender.cjs'), SENDER);
  sender = fork(join(dir, 'sender.cjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise((r) => sender.once('message', r));
});

afterAll(async () => {
  sender.kill();
  await gw.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('coap.receiveBufferBytes', () => {
  it(`keeps a burst of ${BURST} datagrams that arrives while the event loop is blocked`, async () => {
    const listener = gw.gateway.listener('coap')!;
    const before = listener.stats().messagesIn;
    const sent = new Promise((r) => sender.once('message', r));
    sender.send(gw.port('coap'));
    // Block this event loop long enough for the other process to send the
    // whole burst (about 0.1 s); with the system default buffer (~208 KiB)
    // only about 250 of the pings survive this.
    const until = Date.now() + 1500;
    while (Date.now() < until) {
      /* the burst lands in the socket's receive buffer meanwhile */
    }
    await sent;
    const deadline = Date.now() + 3000;
    while (listener.stats().messagesIn - before < BURST && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(listener.stats().messagesIn - before).toBe(BURST);
  });
});
