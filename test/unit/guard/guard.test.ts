/**
 * The Guard logs a source's repeated security event once, then one summary
 * per interval with the number left out; its counter counts every event.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Guard } from '../../../src/guard/guard.js';
import { MAX_TRACKED_SOURCES } from '../../../src/guard/repeats.js';
import { Metrics } from '../../../src/observability/metrics.js';

function capture(): { guard: (intervalMs?: number) => Guard; lines: Array<Record<string, unknown>>; metrics: Metrics } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const metrics = new Metrics();
  return { guard: (intervalMs) => new Guard(logger, metrics, intervalMs === undefined ? {} : { summaryIntervalMs: intervalMs }), lines, metrics };
}

const INTERVAL = 1000;
const event = (remoteAddress: string, detail = 'bad packet') => ({ kind: 'malformed-packet', listener: 'mqtt', clause: 'MQTT-1.5.5-1', remoteAddress, detail });

async function counted(metrics: Metrics, kind: string): Promise<number> {
  const values = (await metrics.registry.getSingleMetric('thinggate_guard_events_total')!.get()).values;
  return values.filter((v) => v.labels.kind === kind).reduce((n, v) => n + v.value, 0);
}

const flushed = (): Promise<void> => new Promise((r) => setImmediate(r));

afterEach(() => {
  vi.useRealTimers();
});

describe('security event aggregation', () => {
  it('logs the first of a flood from one source, then one summary per interval with the count, and counts every event', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const { guard, lines, metrics } = capture();
    const g = guard(INTERVAL);
    for (let i = 0; i < 500; i++) g.report(event('10.0.0.1', `bad packet ${i}`));
    vi.advanceTimersByTime(INTERVAL);
    for (let i = 0; i < 100; i++) g.report(event('10.0.0.1'));
    // The flood stops; the timer still writes the last summary.
    vi.advanceTimersByTime(INTERVAL);
    await flushed();
    const security = lines.filter((l) => l.event === 'security');
    const summaries = lines.filter((l) => l.event === 'security-summary');
    expect(security).toHaveLength(1);
    expect(security[0]).toMatchObject({ level: 40, kind: 'malformed-packet', detail: 'bad packet 0' });
    expect(summaries.map((s) => s.suppressed)).toEqual([499, 100]);
    expect(summaries[0]).toMatchObject({
      level: 40,
      kind: 'malformed-packet',
      listener: 'mqtt',
      remoteAddress: '10.0.0.1',
      clause: 'MQTT-1.5.5-1',
      lastDetail: 'bad packet 499',
      intervalMs: INTERVAL,
    });
    expect(await counted(metrics, 'malformed-packet')).toBe(600);
    // A source quiet for a whole interval is forgotten: its next event is logged in full again.
    vi.advanceTimersByTime(INTERVAL);
    g.report(event('10.0.0.1', 'again'));
    await flushed();
    expect(lines.filter((l) => l.event === 'security').map((l) => l.detail)).toEqual(['bad packet 0', 'again']);
  });

  it('keeps sources, kinds and clauses apart', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const { guard, lines } = capture();
    const g = guard(INTERVAL);
    g.report(event('10.0.0.1'));
    g.report(event('10.0.0.2'));
    g.report({ ...event('10.0.0.1'), kind: 'oversize' });
    g.report({ ...event('10.0.0.1'), clause: 'MQTT-3.1.0-1' });
    g.report(event('10.0.0.1'));
    vi.advanceTimersByTime(INTERVAL);
    await flushed();
    expect(lines.filter((l) => l.event === 'security')).toHaveLength(4);
    expect(lines.filter((l) => l.event === 'security-summary').map((l) => [l.remoteAddress, l.suppressed])).toEqual([['10.0.0.1', 1]]);
  });

  it('writes pending summaries on flush (gateway stop), without waiting for the timer', async () => {
    const { guard, lines } = capture();
    const g = guard(60_000);
    for (let i = 0; i < 3; i++) g.report(event('10.0.0.1'));
    g.flush();
    await flushed();
    expect(lines.filter((l) => l.event === 'security-summary').map((l) => l.suppressed)).toEqual([2]);
  });

  it('defaults to a 10 s interval; 0 logs every event', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const { guard, lines } = capture();
    const g = guard();
    g.report(event('10.0.0.1'));
    g.report(event('10.0.0.1'));
    vi.advanceTimersByTime(9_999);
    await flushed();
    expect(lines.filter((l) => l.event === 'security-summary')).toHaveLength(0);
    vi.advanceTimersByTime(1);
    await flushed();
    expect(lines.filter((l) => l.event === 'security-summary')).toHaveLength(1);
    const every = guard(0);
    for (let i = 0; i < 5; i++) every.report(event('10.0.0.9'));
    await flushed();
    expect(lines.filter((l) => l.event === 'security' && l.remoteAddress === '10.0.0.9')).toHaveLength(5);
  });

  it('logs TLS handshake failures at info, other kinds at warn', async () => {
    const { guard, lines } = capture();
    const g = guard(0);
    g.report({ kind: 'tls-handshake-failure', listener: 'mqtts', remoteAddress: '10.0.0.1', detail: 'no shared cipher' });
    g.report(event('10.0.0.1'));
    await flushed();
    expect(lines.map((l) => [l.kind, l.level])).toEqual([
      ['tls-handshake-failure', 30],
      ['malformed-packet', 40],
    ]);
  });

  it('bounds the sources it tracks: beyond the cap, new sources share one summary', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const { guard, lines, metrics } = capture();
    const g = guard(INTERVAL);
    const n = MAX_TRACKED_SOURCES + 50;
    for (let i = 0; i < n; i++) g.report(event(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`));
    vi.advanceTimersByTime(INTERVAL);
    await flushed();
    expect(lines.filter((l) => l.event === 'security')).toHaveLength(MAX_TRACKED_SOURCES + 1);
    expect(lines.filter((l) => l.event === 'security-summary')).toEqual([expect.objectContaining({ remoteAddress: '(many)', suppressed: 49 })]);
    expect(await counted(metrics, 'malformed-packet')).toBe(n);
  });
});
