/**
 * Peer (a)'s bridge: a small MQTT.js subscriber that POSTs every message it
 * receives to the back-end with undici — the usual way to put a REST
 * back-end behind a plain broker. MQTT.js acknowledges each QoS 1/2 message
 * to the broker when it is received, not when the POST succeeds, so a broker
 * that drops queued messages under load loses them silently.
 *
 * argv: brokerUrl backendUrl topicFilter qos
 */
import mqtt from 'mqtt';
import { Pool } from 'undici';
import { exitWithParent } from '../lib/proc.mjs';

exitWithParent();
const [brokerUrl, backendUrl, filter = 'bench/#', qos = '1'] = process.argv.slice(2);
const pool = new Pool(backendUrl, { connections: 16, keepAliveTimeout: 60_000 });
let posted = 0;
let failed = 0;

const client = mqtt.connect(brokerUrl, { clientId: 'bench-bridge', clean: true, protocolVersion: 5, reconnectPeriod: 0 });
client.on('error', (err) => process.send?.({ type: 'error', error: err.message }));
client.on('connect', () => {
  client.subscribe(filter, { qos: /** @type {0 | 1 | 2} */ (Number(qos)) }, (err) => {
    if (err) process.send?.({ type: 'error', error: err.message });
    else process.send?.({ type: 'ready' });
  });
});
client.on('message', (topic, payload) => {
  pool.request({ method: 'POST', path: `/messages/${topic}`, headers: { 'content-type': 'application/json' }, body: payload }).then(
    (res) => {
      posted++;
      return res.body.dump();
    },
    () => failed++,
  );
});
process.on('message', (/** @type {any} */ m) => {
  if (m?.cmd === 'stats') process.send({ seq: m.seq, posted, failed });
});
