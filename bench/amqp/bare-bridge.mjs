/**
 * An AMQP → HTTP gateway reduced to the two libraries used plainly: a rhea
 * container listening on a loopback port, each link holding `inflight`
 * deliveries at most (credit given back as they settle, a quarter of the
 * window at a time, as rhea's own flow controller does), each message POSTed
 * through an undici Pool to the back-end and settled `accepted` after the
 * 2xx (`released` otherwise). No envelope, routing, script, balancer or
 * metrics, and no holding of writes: rhea writes a disposition per accept and
 * undici a request per message. It shows what rhea and undici cost per
 * message before anything thinggate adds or saves.
 *
 * argv: <back-end url> <connections> <pipelining> <inflight>. Reports its
 * port over IPC; exits with its parent.
 */
import rhea from 'rhea';
import { Pool } from 'undici';
import { portOf } from '../lib/net.mjs';

const [url, connections, pipelining, inflight] = process.argv.slice(2);
const pool = new Pool(url, { connections: Number(connections), pipelining: Number(pipelining) });
const headers = { 'content-type': 'application/octet-stream' };

const window = Number(inflight);
const settledSinceFlow = new WeakMap();
/** Settles and gives the credit back once a quarter of the window has settled. */
function settle(receiver, delivery, accepted) {
  if (accepted) delivery.accept();
  else delivery.release();
  const n = (settledSinceFlow.get(receiver) ?? 0) + 1;
  if (n >= window / 4 && receiver.is_open()) {
    receiver.add_credit(n);
    settledSinceFlow.set(receiver, 0);
  } else settledSinceFlow.set(receiver, n);
}

// credit_window 0: rhea's flow controller (credit back on arrival, not settlement) is off.
const container = rhea.create_container({ autoaccept: false, credit_window: 0 });
container.on('error', () => undefined);
container.on('disconnected', () => undefined);
container.on('receiver_open', (ctx) => ctx.receiver.add_credit(window));
container.on('message', (ctx) => {
  const { delivery, message, receiver } = ctx;
  const body = message.body?.content ?? message.body;
  pool.request({ method: 'POST', path: `/messages/${receiver.target?.address ?? ''}`, body, headers }).then(
    (r) => r.body.dump().then(() => settle(receiver, delivery, r.statusCode < 300)),
    () => settle(receiver, delivery, false),
  );
});
const server = container.listen({ port: 0, host: '127.0.0.1' });
// As thinggate's listener does: dispositions must not wait for Nagle's algorithm.
server.on('connection', (socket) => socket.setNoDelay(true));
server.on('listening', () => process.send({ port: portOf(server) }));
process.on('disconnect', () => process.exit(0));
