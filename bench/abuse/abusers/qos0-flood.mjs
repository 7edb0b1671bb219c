/**
 * QoS 0 flood: one MQTT 5 client publishing QoS 0 whenever its socket takes
 * more (256 frames per turn), from its own loopback address, for `seconds`.
 */
import { MqttTransport } from '../../lib/transports/mqtt.mjs';
import { encodePayload, nowNs } from '../../lib/payload.mjs';
import { abuser } from './common.mjs';

const a = abuser({ sent: 0, connected: false });
const { port, address, index } = a.opts;
const t = new MqttTransport({ host: '127.0.0.1', port, clients: 1, qos: 0, version: 5, window: 1, clientPrefix: 'flooder', localAddress: address });
await t.open();
a.stats.connected = true;
const pump = () => {
  if (t.clients[0].socket.destroyed || a.stopped()) return;
  for (let k = 0; k < 256 && t.writable(0); k++) t.send(0, encodePayload(2, index, a.stats.sent++, nowNs()), () => undefined);
  if (t.writable(0)) setImmediate(pump);
  else t.onDrain(0, pump);
};
a.started();
pump();
