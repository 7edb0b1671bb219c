/**
 * The egress limit in the mqtt-path bench: undici driving the back-end
 * directly (one Pool, `concurrency` requests outstanding, the same headers and
 * 200-byte body a gateway request carries). IPC {cmd:'mark'} → {acked, cpuUs}.
 */
import { Pool } from 'undici';

const o = JSON.parse(process.argv[2]);
const pool = new Pool(o.url, { connections: o.connections });
const body = Buffer.alloc(o.size, 0x61);
let acked = 0;
function loop(i) {
  pool
    .request({
      method: 'POST',
      path: `/messages/devices/dev-${i % 50}/telemetry`,
      body,
      headers: {
        'content-type': 'application/octet-stream',
        'x-thinggate-message-id': '01ABCDEFGH000001XXXXXX',
        'x-thinggate-client-id': `bench-${i}`,
        'x-thinggate-protocol': 'mqtt',
        'x-thinggate-address': `devices/dev-${i % 50}/telemetry`,
        'idempotency-key': '01ABCDEFGH000001XXXXXX',
      },
    })
    .then(
      async (r) => {
        await r.body.dump();
        acked++;
        loop(i);
      },
      (e) => {
        console.error(e.message);
        process.exit(1);
      },
    );
}
for (let i = 0; i < o.concurrency; i++) loop(i);
process.on('message', (/** @type {any} */ m) => {
  if (m.cmd === 'mark') {
    const u = process.cpuUsage();
    process.send({ acked, cpuUs: u.user + u.system });
  }
});
process.send({ ready: true });
process.on('disconnect', () => process.exit(0));
