import { describe, it, expect } from 'vitest';
import { runExample } from '../run-example.js';

describe('example: fan-out notification to device topics', () => {
  it('publishes to every floor display and the zone sirens, and records the alarm', async () => {
    const [hq, unknown] = await runExample(import.meta.dirname);
    const notice = '{"building":"hq","zone":"east","kind":"smoke","at":1767225600000}';
    expect(hq).toEqual([
      { action: 'publish', topic: 'displays/hq/floor-1', payload: notice, qos: 1, contentType: 'application/json' },
      { action: 'publish', topic: 'displays/hq/floor-2', payload: notice, qos: 1, contentType: 'application/json' },
      { action: 'publish', topic: 'displays/hq/floor-3', payload: notice, qos: 1, contentType: 'application/json' },
      { action: 'publish', topic: 'sirens/hq/east/command', payload: 'on', qos: 1, retain: true },
      { action: 'route', pool: 'records', path: '/alarms/hq', headers: { 'content-type': 'application/json' }, body: notice },
    ]);
    expect(unknown).toEqual([{ action: 'reject', reason: "unknown building 'moon'", code: 404 }]);
  });
});
