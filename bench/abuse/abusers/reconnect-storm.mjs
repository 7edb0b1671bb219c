/**
 * Reconnect storm: `rate` (1,000) MQTT 5 connections a second from its own
 * loopback address, each CONNECT → CONNACK → DISCONNECT, cycling through 20
 * client ids, for `seconds`. At most 500 sockets open at once; each is given
 * 2 s. Counts attempts, CONNACKs accepted and refused (by reason code) and
 * sockets refused or reset before any CONNACK (what an address ban does).
 */
import { connect } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { abuser } from './common.mjs';

const RATE = 1000;
const TICK_MS = 10;
const MAX_OPEN = 500;
const IDS = 20;
const a = abuser({ attempts: 0, accepted: 0, refusedCodes: /** @type {Record<string, number>} */ ({}), droppedBeforeConnack: 0, skipped: 0 });
const { port, address } = a.opts;
const connects = Array.from({ length: IDS }, (_, k) =>
  mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: `storm-${k}`, keepalive: 0 }, { protocolVersion: 5 }),
);
const DISCONNECT = Buffer.from([0xe0, 0x00]);
let open = 0;

function attempt() {
  if (open >= MAX_OPEN) {
    a.stats.skipped++;
    return;
  }
  const n = a.stats.attempts++;
  open++;
  let answered = false;
  const s = connect({ host: '127.0.0.1', port, localAddress: address });
  s.setTimeout(2000, () => s.destroy());
  s.on('connect', () => s.write(connects[n % IDS]));
  s.on('data', (d) => {
    if (answered || d[0] !== 0x20 || d.length < 4) return;
    answered = true;
    const code = d[3];
    if (code === 0) a.stats.accepted++;
    else a.stats.refusedCodes[code] = (a.stats.refusedCodes[code] ?? 0) + 1;
    s.end(code === 0 ? DISCONNECT : undefined);
  });
  s.on('error', () => undefined);
  s.on('close', () => {
    open--;
    if (!answered) a.stats.droppedBeforeConnack++;
  });
}

a.started();
const timer = setInterval(() => {
  if (a.stopped()) return clearInterval(timer);
  for (let k = 0; k < (RATE * TICK_MS) / 1000; k++) attempt();
}, TICK_MS);
