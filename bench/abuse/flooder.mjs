/**
 * The abusive client of `bench/abuse/run.mjs`, in a process of its own so
 * its busy loop does not slow the well-behaved clients it is measured
 * against: one MQTT 5 client from 127.0.0.2 publishing QoS 0 whenever its
 * socket takes more, until the harness goes away.
 *
 *   forked by run.mjs with: PORT CLIENT_INDEX
 */
import { MqttTransport } from '../lib/transports/mqtt.mjs';
import { encodePayload, nowNs } from '../lib/payload.mjs';
import { exitWithParent } from '../lib/proc.mjs';

exitWithParent();
const [port, index] = process.argv.slice(2).map(Number);
const t = new MqttTransport({ host: '127.0.0.1', port, clients: 1, qos: 0, version: 5, window: 1, clientPrefix: 'flooder', localAddress: '127.0.0.2' });
await t.open();
let seq = 0;
const pump = () => {
  if (t.clients[0].socket.destroyed) return;
  for (let k = 0; k < 256 && t.writable(0); k++) t.send(0, encodePayload(2, index, seq++, nowNs()), () => undefined);
  if (t.writable(0)) setImmediate(pump);
  else t.onDrain(0, pump);
};
process.send?.({ type: 'connected' });
pump();
