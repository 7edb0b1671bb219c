/**
 * QoS 1 flood at the maximum rate: one MQTT 5 client keeping its whole
 * window (the server's Receive Maximum, at most 1,000) of QoS 1 PUBLISHes in
 * flight, a new one as each PUBACK comes back, from its own loopback address,
 * for `seconds`. Reports the sequence numbers acknowledged with a success
 * code, so the harness can check that each one reached the back-end.
 */
import { MqttTransport } from '../../lib/transports/mqtt.mjs';
import { encodePayload, nowNs } from '../../lib/payload.mjs';
import { abuser } from './common.mjs';

const a = abuser({ sent: 0, refused: 0, ackedSeqs: /** @type {number[]} */ ([]) });
const { port, address, index } = a.opts;
const t = new MqttTransport({ host: '127.0.0.1', port, clients: 1, qos: 1, version: 5, window: 1000, clientPrefix: 'qos1-flooder', localAddress: address });
await t.open();
const send = () => {
  if (a.stopped() || t.clients[0].socket.destroyed) return;
  const seq = a.stats.sent++;
  t.send(0, encodePayload(2, index, seq, nowNs()), (ok) => {
    if (ok) a.stats.ackedSeqs.push(seq);
    else a.stats.refused++;
    // A refused message (PUBACK 0x97) is sent again at once as a new one: the flooder does not back off.
    send();
  });
};
a.started();
for (let w = 0; w < t.window(0); w++) send();
