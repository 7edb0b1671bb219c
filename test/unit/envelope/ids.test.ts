import { describe, it, expect } from 'vitest';
import { newId } from '../../../src/envelope/ids.js';
import { createEnvelope } from '../../../src/envelope/envelope.js';

describe('envelope ids', () => {
  it('are unique and sort in creation order, also when the clock steps back', () => {
    const ids = [newId(1_000), newId(1_000), newId(1_001), newId(999), newId(1_002)];
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    expect(ids[0]).toMatch(/^[0-9A-HJKMNP-TV-Z]{22}$/);
  });

  it('envelopes are frozen, headers included', () => {
    const env = createEnvelope({
      protocol: 'mqtt',
      listener: 'l',
      source: { clientId: 'c', remoteAddress: '127.0.0.1' },
      address: 'a/b',
      method: 'PUBLISH',
      payload: Buffer.from('x'),
      delivery: 'at-least-once',
      headers: { k: 'v' },
    });
    expect(Object.isFrozen(env) && Object.isFrozen(env.headers) && Object.isFrozen(env.source)).toBe(true);
    expect(() => {
      (env.headers as Record<string, string>).k = 'w';
    }).toThrow(TypeError);
  });
});
