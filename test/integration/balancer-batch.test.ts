/**
 * Batching: several messages in one POST with a JSON array body, per-message
 * outcomes when the back-end gives them, all-or-nothing otherwise.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createBalancer } from '../../src/balancer/index.js';
import type { BatchItem } from '../../src/balancer/batcher.js';
import type { Balancer } from '../../src/balancer/types.js';
import { TestBackend, type Responder } from '../helpers/backend.js';
import { poolConfig, request } from '../unit/balancer/helpers.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function setup(responder: Responder, batch: Record<string, unknown>): Promise<{ b: TestBackend; balancer: Balancer }> {
  const b = await TestBackend.start(responder);
  cleanup.push(() => b.close());
  const balancer = createBalancer([poolConfig({ endpoints: [{ url: b.url }], batch, retries: { backoffBaseMs: 1 } })]);
  cleanup.push(() => balancer.close(0));
  return { b, balancer };
}

describe('balancer batching', () => {
  it('sends up to maxMessages in one request and reads per-message results', async () => {
    const { b, balancer } = await setup(
      (req) => {
        const items = JSON.parse(req.body.toString()) as BatchItem[];
        return {
          status: 200,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ results: items.map((it, i) => ({ id: it.id, status: i === 1 ? 422 : 201, ...(i === 1 && { body: 'bad temperature' }) })) }),
        };
      },
      { maxMessages: 3, maxDelayMs: 5000, path: '/ingest/batch' },
    );
    const results = await Promise.all([
      balancer.dispatch(request({ idempotencyKey: 'a', body: Buffer.from('{"t":1}') })),
      balancer.dispatch(request({ idempotencyKey: 'b', body: Buffer.from('{"t":2}') })),
      balancer.dispatch(request({ idempotencyKey: 'c', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from([0xff, 0x00]) })),
    ]);
    expect(results.map((r) => (r.kind === 'response' ? r.status : r.kind))).toEqual([201, 422, 201]);
    expect(results[1]).toMatchObject({ body: Buffer.from('bad temperature') });
    expect(b.requests.length).toBe(1);
    const sent = b.requests[0]!;
    expect(sent).toMatchObject({ method: 'POST', url: '/ingest/batch' });
    expect(sent.headers['content-type']).toBe('application/json');
    expect(sent.headers['idempotency-key']).toMatch(/^batch-a-3-/);
    const items = JSON.parse(sent.body.toString()) as BatchItem[];
    expect(items.map((i) => [i.id, i.encoding, i.body])).toEqual([
      ['a', 'utf8', '{"t":1}'],
      ['b', 'utf8', '{"t":2}'],
      ['c', 'base64', Buffer.from([0xff, 0x00]).toString('base64')],
    ]);
    expect(items[0]).toMatchObject({ method: 'POST', path: '/telemetry', contentType: 'application/json' });
  });

  it('sends what arrived within maxDelayMs', async () => {
    const { b, balancer } = await setup(() => ({ status: 204 }), { maxMessages: 100, maxDelayMs: 20 });
    const results = await Promise.all([balancer.dispatch(request()), balancer.dispatch(request())]);
    for (const r of results) expect(r).toMatchObject({ kind: 'response', status: 204 });
    expect(b.requests.length).toBe(1);
    expect((JSON.parse(b.requests[0]!.body.toString()) as unknown[]).length).toBe(2);
  });

  it('applies an answer without results to every message, retrying a 503 as one batch', async () => {
    let calls = 0;
    const { b, balancer } = await setup(() => (++calls === 1 ? { status: 503 } : { status: 200, body: 'stored' }), { maxMessages: 2, maxDelayMs: 5000 });
    const results = await Promise.all([balancer.dispatch(request()), balancer.dispatch(request())]);
    for (const r of results) expect(r).toMatchObject({ kind: 'response', status: 200, attempts: 2 });
    expect(b.requests.length).toBe(2);
    expect(b.requests[0]!.headers['idempotency-key']).toBe(b.requests[1]!.headers['idempotency-key']);
    expect(b.requests[0]!.body.equals(b.requests[1]!.body)).toBe(true);
  });
});
