/**
 * Slow drip (slowloris): 2,000 MQTT 5 connections from its own loopback
 * address, opened at 500/s. Each sends a valid CONNECT, then starts a
 * 1,000-byte PUBLISH and sends one more byte of it every 2 s, holding a
 * connection and a partial packet for almost nothing, for `seconds`.
 * Reports how many are open now and at most, how many got their CONNACK,
 * and how many the gateway closed or refused.
 */
import { connect } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { abuser } from './common.mjs';

const CONNECTIONS = 2000;
const OPEN_PER_TICK = 5; // every 10 ms: 500/s
const DRIP_MS = 2000;
const a = abuser({ attempts: 0, connacked: 0, open: 0, maxOpen: 0, closedByServer: 0, refusedBeforeConnack: 0 });
const { port, address } = a.opts;
const CONNECT = mqttPacket.generate(
  { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: '', keepalive: 0 },
  { protocolVersion: 5 },
);
// PUBLISH QoS 0 with remaining length 1,000 (0xe8 0x07): the packet the drip never finishes.
const HEAD = Buffer.from([0x30, 0xe8, 0x07, 0x00]);
/** @type {Set<import('node:net').Socket>} */
const sockets = new Set();
/** Those the abuser closes itself at the end (not counted as closed by the gateway). */
const closing = new WeakSet();
/** Those past their CONNACK, in the middle of the PUBLISH. */
const dripping = new Set();

function open() {
  a.stats.attempts++;
  let connacked = false;
  const s = connect({ host: '127.0.0.1', port, localAddress: address });
  s.on('connect', () => {
    sockets.add(s);
    a.stats.open++;
    a.stats.maxOpen = Math.max(a.stats.maxOpen, a.stats.open);
    s.write(CONNECT);
  });
  s.on('data', (d) => {
    if (connacked || d[0] !== 0x20) return;
    connacked = true;
    a.stats.connacked++;
    s.write(HEAD);
    dripping.add(s);
  });
  s.on('error', () => undefined);
  s.on('close', () => {
    dripping.delete(s);
    if (sockets.delete(s)) a.stats.open--;
    if (closing.has(s)) return;
    if (connacked) a.stats.closedByServer++;
    else a.stats.refusedBeforeConnack++;
  });
}

a.started();
const opener = setInterval(() => {
  for (let k = 0; k < OPEN_PER_TICK && a.stats.attempts < CONNECTIONS; k++) open();
  if (a.stats.attempts >= CONNECTIONS) clearInterval(opener);
}, 10);
const drip = setInterval(() => {
  for (const s of dripping) if (s.writable) s.write(Buffer.from('x'));
}, DRIP_MS);
// Stop by itself: close every socket once the time is up.
const end = setInterval(() => {
  if (!a.stopped()) return;
  clearInterval(end);
  clearInterval(opener);
  clearInterval(drip);
  for (const s of [...sockets]) {
    closing.add(s);
    s.destroy();
  }
}, 100);
