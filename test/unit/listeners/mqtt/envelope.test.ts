import { describe, expect, it } from 'vitest';
import { buildEnvelope } from '../../../../src/listeners/mqtt/envelope.js';

const source = { clientId: 'c1', remoteAddress: '127.0.0.1' };

describe('buildEnvelope', () => {
  it('maps QoS to delivery and keeps the payload', () => {
    const e = buildEnvelope('mqtt', source, 'a/b', Buffer.from('x'), 2, undefined, 1000);
    expect(e).toMatchObject({ protocol: 'mqtt', listener: 'mqtt', method: 'PUBLISH', address: 'a/b', delivery: 'exactly-once', receivedAt: 1000 });
    expect(e.headers).toEqual({});
    expect(Object.isFrozen(e)).toBe(true);
  });

  it('maps MQTT 5 properties', () => {
    const e = buildEnvelope(
      'mqtt',
      source,
      't',
      Buffer.alloc(0),
      1,
      {
        contentType: 'application/json',
        userProperties: { 'X-One': '1', Multi: ['a', 'b'] },
        responseTopic: 'r/t',
        correlationData: Buffer.from([0xfb, 0xff]),
        messageExpiryInterval: 30,
      },
      5000,
    );
    expect(e.delivery).toBe('at-least-once');
    expect(e.contentType).toBe('application/json');
    expect(e.headers).toEqual({ 'x-one': '1', multi: 'a, b' });
    expect(e.replyTo).toBe('r/t');
    expect(e.correlationId).toBe('-_8');
    expect(e.expiresAt).toBe(35000);
  });
});
