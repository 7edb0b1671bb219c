import { describe, it, expect } from 'vitest';
import { runExample } from '../run-example.js';

describe('example: decoding a packed binary sensor frame', () => {
  it('decodes big-endian fields into JSON and rejects bad frames', async () => {
    const [good, version2, short] = await runExample(import.meta.dirname);
    expect(good).toEqual([
      {
        action: 'route',
        pool: 'ingest',
        path: '/frames',
        key: 'probe-9',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ device: 'probe-9', seq: 258, temperatureC: -5.25, humidityPct: 48.5, batteryPct: 97 }),
      },
    ]);
    expect(version2).toEqual([{ action: 'reject', reason: 'unsupported frame version 2', code: 400 }]);
    expect(short).toEqual([{ action: 'reject', reason: 'frame must be 8 bytes, got 3', code: 400 }]);
  });
});
