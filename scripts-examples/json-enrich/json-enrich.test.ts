import { describe, it, expect } from 'vitest';
import { runExample } from '../run-example.js';

describe('example: JSON transform and enrichment', () => {
  it('converts, renames and enriches readings; refuses malformed ones', async () => {
    const [acme, plain, notJson, badType] = await runExample(import.meta.dirname);
    expect(acme).toEqual([
      {
        action: 'route',
        pool: 'ingest',
        path: '/readings/th-1',
        headers: { 'x-schema': 'reading.v2', 'content-type': 'application/json' },
        body: JSON.stringify({ device: 'th-1', tenant: 'acme', temperatureC: 22, humidityPct: 40, receivedAt: '2026-01-01T00:00:00.000Z' }),
      },
    ]);
    expect(JSON.parse((plain as Array<{ body: string }>)[0]!.body)).toEqual({
      device: 'th-2',
      tenant: 'default',
      temperatureC: 0,
      humidityPct: null,
      receivedAt: '2026-01-01T00:00:00.000Z',
    });
    expect(notJson).toEqual([{ action: 'reject', reason: 'payload is not JSON', code: 400 }]);
    expect(badType).toEqual([{ action: 'reject', reason: 'tempF must be a number', code: 422 }]);
  });
});
