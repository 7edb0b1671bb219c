/**
 * Peer (c): an Aedes broker whose `authorizePublish` hook POSTs each message
 * to the back-end with undici and calls back only after the response, so the
 * device's PUBACK (sent by Aedes after the hook completes) follows the
 * back-end's answer — the same guarantee thinggate gives. A non-2xx answer
 * fails the hook (Aedes then closes the connection: MQTT 3.1.1 has no
 * negative PUBACK). Aedes speaks MQTT 3.1.1, so the generator connects with
 * protocol level 4 here.
 *
 * argv: backendUrl; sends { type: 'ready', port } over IPC.
 */
import { createServer } from 'node:net';
import { once } from 'node:events';
// @ts-expect-error aedes is installed only with `npm --prefix bench install` (the peer comparisons)
import { Aedes } from 'aedes';
import { Pool } from 'undici';
import { exitWithParent } from '../lib/proc.mjs';
import { portOf } from '../lib/net.mjs';

exitWithParent();
const [backendUrl] = process.argv.slice(2);
const pool = new Pool(backendUrl, { connections: 16, keepAliveTimeout: 60_000 });
const broker = await Aedes.createBroker();

broker.authorizePublish = (_client, packet, callback) => {
  if (packet.topic.startsWith('$SYS/')) return callback(new Error('$SYS topic is reserved'));
  pool.request({ method: 'POST', path: `/messages/${packet.topic}`, headers: { 'content-type': 'application/json' }, body: packet.payload }).then(
    async (res) => {
      await res.body.dump();
      callback(res.statusCode >= 200 && res.statusCode < 300 ? null : new Error(`back-end answered ${res.statusCode}`));
    },
    (err) => callback(err),
  );
};
broker.on('clientError', () => {});
broker.on('connectionError', () => {});

const server = createServer(broker.handle);
server.listen(0, '127.0.0.1');
await once(server, 'listening');
process.send({ type: 'ready', port: portOf(server) });
