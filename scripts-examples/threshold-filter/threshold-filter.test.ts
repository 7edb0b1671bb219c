import { describe, it, expect } from 'vitest';
import { runExample } from '../run-example.js';

describe('example: threshold filtering with drop', () => {
  it('drops normal readings and routes alarms', async () => {
    const results = await runExample(import.meta.dirname, { now: () => 1000 });
    expect(results).toEqual([
      [{ action: 'drop', reason: 'within 0..80' }],
      [
        {
          action: 'route',
          pool: 'alerts',
          path: '/alarms/boiler-1',
          headers: { 'content-type': 'application/json' },
          body: '{"value":93.5,"max":80,"at":1000}',
        },
      ],
      [{ action: 'drop', reason: 'within 0..100' }],
      [{ action: 'route', pool: 'alerts', path: '/alarms/boiler-1', headers: { 'content-type': 'application/json' }, body: '{"value":-3,"max":80,"at":1000}' }],
      [{ action: 'reject', reason: 'payload must be a number', code: 400 }],
    ]);
  });
});
