/**
 * Readiness probe for broker-based peers: publishes a marked message (phase
 * 0, which the back-end counts as stray) until one reaches the back-end, so
 * the measurement starts only once the subscriber side is in place.
 */
import { connect } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { ask } from './proc.mjs';
import { encodePayload, nowNs } from './payload.mjs';

/**
 * @param {number} port
 * @param {{ child: import('./proc.mjs').BenchChild }} backend
 * @param {3 | 4 | 5} [version]
 * @param {number} [timeoutMs]
 */
export async function waitForDelivery(port, backend, version = 4, timeoutMs = 30_000) {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  socket.on('data', () => {});
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(
    mqttPacket.generate(
      { cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, clientId: 'bench-probe', keepalive: 0 },
      { protocolVersion: version },
    ),
  );
  const before = (await ask(backend.child, { cmd: 'snapshot' })).stray;
  const deadline = Date.now() + timeoutMs;
  try {
    for (let k = 0; ; k++) {
      socket.write(
        mqttPacket.generate(
          { cmd: 'publish', topic: 'bench/probe', qos: 0, dup: false, retain: false, payload: encodePayload(0, 0, k, nowNs()) },
          { protocolVersion: version },
        ),
      );
      await new Promise((r) => setTimeout(r, 200));
      if ((await ask(backend.child, { cmd: 'snapshot' })).stray > before) return;
      if (Date.now() > deadline) throw new Error(`no probe message reached the back-end through port ${port} within ${timeoutMs} ms`);
    }
  } finally {
    socket.destroy();
  }
}
