/** Failed messages are visible at info, rate-limited with a count of what was suppressed. */
import { describe, it, expect } from 'vitest';
import { Writable } from 'node:stream';
import pino from 'pino';
import { FailureLog } from '../../../src/observability/failure-log.js';
import { EventLog } from '../../../src/observability/events.js';
import { createEnvelope } from '../../../src/envelope/index.js';
import { accepted, rejected, unavailable } from '../../../src/envelope/outcome.js';

function setup(level: string) {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  let now = 1_000_000;
  const events = new EventLog(100);
  const log = new FailureLog(pino({ level }, sink), events, { perSecond: () => 2, routeOf: () => 'telemetry', now: () => now });
  return { lines, events, log, advance: (ms: number) => (now += ms) };
}

const env = createEnvelope({
  protocol: 'mqtt',
  listener: 'mqtt',
  source: { clientId: 'dev-1', remoteAddress: '10.0.0.7' },
  address: 'telemetry/1',
  method: 'PUBLISH',
  payload: Buffer.from('x'),
  delivery: 'at-least-once',
});

describe('failure log', () => {
  it('logs a failed message at info with listener, client, address, route, endpoint and reason', async () => {
    const { lines, events, log } = setup('info');
    log.record(env, unavailable('TG_ERR_UPSTREAM_STATUS', 'back-end http://10.1.1.1:8080 answered 503'));
    log.record(env, accepted());
    await new Promise((r) => setImmediate(r));
    expect(lines).toEqual([
      expect.objectContaining({
        level: 30,
        msg: 'message unavailable',
        listener: 'mqtt',
        clientId: 'dev-1',
        remoteAddress: '10.0.0.7',
        address: 'telemetry/1',
        route: 'telemetry',
        endpoint: 'http://10.1.1.1:8080',
        status: 503,
        code: 'TG_ERR_UPSTREAM_STATUS',
      }),
    ]);
    expect(events.recent()).toEqual([expect.objectContaining({ category: 'failure', kind: 'unavailable', clientId: 'dev-1' })]);
    log.record(env, unavailable('TG_ERR_UPSTREAM_UNAVAILABLE', 'http://10.1.1.2:8080: connect ECONNREFUSED 10.1.1.2:8080 (connect-failure)'));
    await new Promise((r) => setImmediate(r));
    expect(lines[1]).toMatchObject({ endpoint: 'http://10.1.1.2:8080' });
  });

  it('rate-limits and reports how many lines it suppressed', async () => {
    const { lines, log, advance } = setup('info');
    for (let i = 0; i < 7; i++) log.record(env, rejected(404, 'TG_ERR_NO_ROUTE', 'no route'));
    advance(1000);
    log.record(env, rejected(404, 'TG_ERR_NO_ROUTE', 'no route'));
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => [l.msg, l.suppressed])).toEqual([
      ['message without a route', undefined],
      ['message without a route', undefined],
      ['message without a route', 5],
    ]);
  });

  it('logs every decision at debug', async () => {
    const { lines, log } = setup('debug');
    log.record(env, accepted());
    await new Promise((r) => setImmediate(r));
    expect(lines).toEqual([expect.objectContaining({ level: 20, msg: 'message accepted', clientId: 'dev-1', route: 'telemetry' })]);
  });
});
