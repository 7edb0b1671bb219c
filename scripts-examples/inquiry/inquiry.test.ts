import { describe, it, expect } from 'vitest';
import { runExample } from '../run-example.js';

describe('example: inquiry answered by a back-end and replied to the device', () => {
  it('asks the back-end for a reply and reshapes it in onResponse', async () => {
    const [tariff, unknown, weather] = await runExample(import.meta.dirname);
    const request = { action: 'route', pool: 'pricing', method: 'GET', reply: true, body: '' };
    expect(tariff).toEqual({
      decisions: [{ ...request, path: '/tariffs/current?device=meter-12' }],
      reply: { payload: '{"p":0.31,"c":"EUR","until":"2026-01-01T06:00:00Z","d":"meter-12"}', status: 200, contentType: 'application/json' },
    });
    expect(unknown).toEqual({
      decisions: [{ ...request, path: '/tariffs/current?device=meter-99' }],
      reply: { payload: '{"err":"unknown-device"}', status: 404, contentType: 'application/json' },
    });
    expect(weather).toEqual([{ action: 'reject', reason: "unknown inquiry 'weather'", code: 404 }]);
  });
});
