/**
 * CoAP request flood from one address: one UDP socket on its own loopback
 * address sending confirmable POSTs to /bench/c<index>/data as fast as the
 * socket takes them (64 per turn), for `seconds`. The token carries the
 * sequence number, so a 2.xx answer names the message the gateway accepted
 * (delivered to the back-end). Counts answers by class and 4.29s.
 */
import { createSocket } from 'node:dgram';
import { encodePayload, nowNs } from '../../lib/payload.mjs';
import { abuser } from './common.mjs';

const PER_TURN = 64;
const a = abuser({ sent: 0, tooMany: 0, otherErrors: 0, ackedSeqs: /** @type {number[]} */ ([]), sendErrors: 0 });
const { port, address, index } = a.opts;
const seg = Buffer.from(`c${index}`);
const header = Buffer.concat([
  Buffer.from([0x44, 0x02, 0, 0, 0, 0, 0, 0]), // CON POST, 4-byte token
  Buffer.from([0xb5]),
  Buffer.from('bench'),
  Buffer.from([seg.length]),
  seg,
  Buffer.from([0x04]),
  Buffer.from('data'),
  Buffer.from([0x11, 50]), // Content-Format application/json
  Buffer.from([0xff]),
]);
const sock = createSocket('udp4');
await new Promise((r) => sock.bind(0, address, () => r(undefined)));
sock.on('message', (m) => {
  if (m.length < 8 || (m[0] & 0x0f) !== 4) return;
  const code = m[1];
  if (code === 0) return;
  if (code >> 5 === 2) a.stats.ackedSeqs.push(m.readUInt32BE(4));
  else if (code === (4 << 5) + 29) a.stats.tooMany++;
  else a.stats.otherErrors++;
});
let inFlight = 0;
const pump = () => {
  if (a.stopped()) return;
  for (let k = 0; k < PER_TURN; k++) {
    const seq = a.stats.sent++;
    const b = Buffer.concat([header, encodePayload(2, index, seq, nowNs())]);
    b.writeUInt16BE(seq & 0xffff, 2);
    b.writeUInt32BE(seq, 4);
    inFlight++;
    sock.send(b, port, '127.0.0.1', (err) => {
      inFlight--;
      if (err) a.stats.sendErrors++;
    });
  }
  // Let the socket's queue drain before the next batch, so memory stays bounded.
  if (inFlight < 4 * PER_TURN) setImmediate(pump);
  else setTimeout(pump, 1);
};
a.started();
pump();
