/** Envelopes for tests that drive the pipeline or scripts without a listener. */
import { createEnvelope, type Envelope, type EnvelopeInit } from '../../src/envelope/index.js';

/** An at-least-once MQTT PUBLISH from `dev-1` on listener `mqtt`; `extra` overrides any field. */
export function testEnvelope(address: string, payload: string | Buffer = '', extra: Partial<EnvelopeInit> = {}): Envelope {
  return createEnvelope({
    protocol: 'mqtt',
    listener: 'mqtt',
    source: { clientId: 'dev-1', remoteAddress: '127.0.0.1' },
    address,
    method: 'PUBLISH',
    payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
    delivery: 'at-least-once',
    ...extra,
  });
}
