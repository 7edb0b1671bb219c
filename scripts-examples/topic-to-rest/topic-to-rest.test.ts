import { describe, it, expect } from 'vitest';
import { runExample } from '../run-example.js';

describe('example: topic → REST path mapping', () => {
  it('maps telemetry and event topics to REST paths and rejects the rest', async () => {
    const [telemetry, event, other] = await runExample(import.meta.dirname);
    expect(telemetry).toEqual([{ action: 'route', pool: 'ingest', method: 'PUT', path: '/sites/plant-7/devices/pump-3/metrics/pressure' }]);
    expect(event).toEqual([{ action: 'route', pool: 'ingest', method: 'POST', path: '/devices/pump%203/events', key: 'pump 3' }]);
    expect(other).toEqual([{ action: 'reject', reason: "no mapping for 'misc/other'", code: 404 }]);
  });
});
