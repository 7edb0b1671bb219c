import { describe, it, expect } from 'vitest';
import { runExample } from '../run-example.js';

describe('example: per-device duplicate and sequence detection using state', () => {
  it('drops duplicates and stale messages per device and flags gaps', async () => {
    const r = await runExample(import.meta.dirname);
    const ok = (dev: string, seq: number, gap?: number) => [
      {
        action: 'route',
        pool: 'ingest',
        path: `/devices/${dev}/data`,
        headers: { 'x-seq': String(seq), ...(gap !== undefined && { 'x-seq-gap': String(gap) }) },
      },
    ];
    expect(r).toEqual([
      ok('dev-a', 1),
      ok('dev-a', 2),
      [{ action: 'drop', reason: 'duplicate or stale seq 2 (last 2)' }],
      ok('dev-b', 1),
      ok('dev-a', 5, 2),
      [{ action: 'drop', reason: 'duplicate or stale seq 4 (last 5)' }],
    ]);
  });
});
