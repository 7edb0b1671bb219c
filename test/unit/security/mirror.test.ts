/**
 * The mirror's choice of copies (share, rate, client ids, clients switched on
 * at run time), its payload redaction by JSON Pointer, and the run-time switch's
 * expiry, with injected randomness and time.
 */
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { Mirror, sampleFraction, type MirrorDeps } from '../../../src/security/mirror.js';
import { redactJson } from '../../../src/security/mirror-redact.js';
import { MirrorSwitch } from '../../../src/security/mirror-switch.js';
import { Metrics } from '../../../src/observability/metrics.js';
import type { MirrorConfig } from '../../../src/config/types.js';
import type { UpstreamRequest } from '../../../src/balancer/types.js';
import { testEnvelope } from '../../helpers/envelope.js';

const base: MirrorConfig = {
  pool: 'tap',
  path: '/m',
  batch: 1000,
  maxBytes: 1 << 20,
  sample: 1,
  redactHeaders: [],
  redactPayload: false,
  redactFields: [],
  queue: 1000,
};

/** A mirror to a pool whose dispatch records each batch's lines; `flush` waits for the writes. */
function mirrorOf(config: Partial<MirrorConfig>, deps: Partial<MirrorDeps> = {}) {
  const lines: Array<Record<string, unknown>> = [];
  const dispatch = (r: UpstreamRequest) => {
    for (const l of r.body.toString().trim().split('\n')) lines.push(JSON.parse(l) as Record<string, unknown>);
    return Promise.resolve({ kind: 'response' as const, status: 204, headers: {}, body: Buffer.alloc(0), endpoint: 'x', attempts: 1 });
  };
  const mirror = new Mirror('r', { ...base, ...config }, { baseDir: '/', metrics: new Metrics(), logger: pino({ level: 'silent' }), dispatch, ...deps });
  return { mirror, lines, flush: () => new Promise((r) => setTimeout(r, 10)) };
}

describe('sampling', () => {
  it('reads a percentage as a fraction', () => {
    expect(sampleFraction('5%')).toBe(0.05);
    expect(sampleFraction('100%')).toBe(1);
    expect(sampleFraction(0.25)).toBe(0.25);
  });

  it('copies the given share of messages', async () => {
    let i = 0;
    const { mirror, lines, flush } = mirrorOf({ sample: '25%' }, { random: () => (i++ % 4) / 4 });
    for (let n = 0; n < 100; n++) mirror.offer(testEnvelope('a'));
    await flush();
    expect(lines).toHaveLength(25);
  });

  it('copies at most `rate` messages per second, refilling with time', async () => {
    let now = 1_000_000;
    const { mirror, lines, flush } = mirrorOf({ rate: 10 }, { now: () => now });
    for (let n = 0; n < 50; n++) mirror.offer(testEnvelope('a'));
    await flush();
    expect(lines).toHaveLength(10);
    now += 500;
    for (let n = 0; n < 50; n++) mirror.offer(testEnvelope('a'));
    await flush();
    expect(lines).toHaveLength(15);
  });

  it('copies a client switched on at run time unsampled, even outside `clientIds`', async () => {
    const clients = new MirrorSwitch();
    const { mirror, lines, flush } = mirrorOf({ clientIds: [], sample: 0 }, { clients });
    mirror.offer(testEnvelope('a'));
    clients.enable('dev-1');
    mirror.offer(testEnvelope('a'));
    mirror.offer(testEnvelope('a', '', { source: { clientId: 'dev-2', remoteAddress: '127.0.0.1' } }));
    await flush();
    expect(lines.map((l) => l.clientId)).toEqual(['dev-1']);
  });
});

describe('redaction', () => {
  it('replaces the values JSON Pointers name, escapes included', () => {
    const doc = { a: { 'b/c': 1, 'd~e': 2, keep: 3 }, list: [{ pw: 'x' }, { pw: 'y' }], __proto__x: 0 };
    const out = JSON.parse(redactJson(Buffer.from(JSON.stringify(doc)), ['/a/b~1c', '/a/d~0e', '/list/1/pw', '/missing/x'], 'R')!) as unknown;
    expect(out).toEqual({ a: { 'b/c': 'R', 'd~e': 'R', keep: 3 }, list: [{ pw: 'x' }, { pw: 'R' }], __proto__x: 0 });
  });

  it('redacts a key named __proto__ like any other', () => {
    expect(redactJson(Buffer.from('{"__proto__":{"t":1}}'), ['/__proto__'], 'R')).toBe('{"__proto__":"R"}');
  });

  it('leaves out a payload that is not JSON when fields are to be redacted', async () => {
    const { mirror, lines, flush } = mirrorOf({ redactFields: ['/pw'] });
    mirror.offer(testEnvelope('a', 'pw=hunter2'));
    mirror.offer(testEnvelope('a', '{"pw":"hunter2","v":1}'));
    await flush();
    expect(lines[0]!.payload).toBe('[redacted]');
    expect(JSON.parse(Buffer.from(String(lines[1]!.payload), 'base64').toString())).toEqual({ pw: '[redacted]', v: 1 });
  });
});

describe('MirrorSwitch', () => {
  it('switches a client off by itself when its time is up', () => {
    let now = 0;
    const s = new MirrorSwitch(() => now);
    s.enable('a', 1000);
    s.enable('b');
    expect(s.has('a')).toBe(true);
    now = 1000;
    expect(s.has('a')).toBe(false);
    expect(s.list().map((e) => e.clientId)).toEqual(['b']);
    expect(s.disable('b')).toMatchObject({ clientId: 'b' });
    expect(s.disable('b')).toBeUndefined();
  });
});
