/**
 * Malformed-packet storm: 20 connections at a time from its own loopback
 * address, each sending a valid MQTT 5 CONNECT and then a malformed packet
 * (a PUBLISH whose topic length runs past the packet's end, MQTT 5 §1.5.4 /
 * §3.3.2.1); as the gateway closes one, the next opens, for `seconds`.
 * Counts connections, malformed packets written, and connections refused
 * before their CONNACK (an address ban or the connection-rate limit).
 */
import { connect } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { abuser } from './common.mjs';

const CONCURRENCY = 20;
const a = abuser({ connections: 0, malformedSent: 0, refusedBeforeConnack: 0 });
const { port, address } = a.opts;
const CONNECT = mqttPacket.generate(
  { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: '', keepalive: 0 },
  { protocolVersion: 5 },
);
// PUBLISH QoS 0, remaining length 6: topic length 0x7fff claims far more than the 4 bytes that follow.
const MALFORMED = Buffer.from([0x30, 0x06, 0x7f, 0xff, 0x61, 0x62, 0x00, 0x00]);

function one() {
  if (a.stopped()) return;
  a.stats.connections++;
  let connacked = false;
  const s = connect({ host: '127.0.0.1', port, localAddress: address });
  s.setTimeout(2000, () => s.destroy());
  s.on('connect', () => s.write(CONNECT));
  s.on('data', (d) => {
    if (connacked || d[0] !== 0x20) return;
    connacked = true;
    s.write(MALFORMED);
    a.stats.malformedSent++;
  });
  s.on('error', () => undefined);
  s.on('close', () => {
    if (!connacked) a.stats.refusedBeforeConnack++;
    // Refused sockets come back at once: pace the next attempt a little so a banned storm stays bounded.
    setTimeout(one, connacked ? 0 : 10);
  });
}

a.started();
for (let k = 0; k < CONCURRENCY; k++) one();
