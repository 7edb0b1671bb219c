#!/usr/bin/env node
/**
 * The route schema check alone: what `routes[].schema` adds per message on
 * the event loop (JSON.parse of the payload, the compiled ajv validator),
 * against the same route without inspection, in interleaved rounds, in this
 * process. Payloads are the MQTT benchmarks' 200-byte JSON messages and the
 * schema is mqtt-qos1-schema's.
 *
 *   npm run build && node bench/inspection/schema-check.mjs [--messages 200000] [--rounds 5]
 *
 * Compare the µs per message with the gateway's CPU per message in
 * mqtt-qos1-rest (bench/RESULTS.md) to see the share schema validation takes.
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { inspectionFor } from '../../dist/security/inspection.js';
import { Metrics } from '../../dist/observability/metrics.js';
import { Guard } from '../../dist/guard/guard.js';
import { encodePayload } from '../lib/payload.mjs';
import { BENCH_SCHEMA } from '../scenarios/thinggate.mjs';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' } } });
const N = Number(values.messages);
const ROUNDS = Number(values.rounds);

const dir = mkdtempSync(join(tmpdir(), 'tg-schema-bench-'));
writeFileSync(join(dir, 'bench.schema.json'), JSON.stringify(BENCH_SCHEMA));
const logger = pino({ level: 'silent' });
const metrics = new Metrics();
const deps = { baseDir: dir, guard: new Guard(logger, metrics), metrics, logger };
const route = { match: { address: '#' }, pool: 'default', request: { method: 'POST', path: '/', headers: {}, reply: false } };
const withSchema = inspectionFor({ ...route, schema: 'bench.schema.json' }, 0, deps).inspect;
const envs = Array.from({ length: 1024 }, (_, i) => ({
  id: String(i),
  protocol: 'mqtt',
  listener: 'mqtt',
  receivedAt: 0,
  source: { clientId: `c${i}`, remoteAddress: '127.0.0.1' },
  address: 'bench/t',
  method: 'PUBLISH',
  payload: encodePayload(1, i, i, 1e15 + i),
  headers: {},
  delivery: 'at-least-once',
}));

function round(check) {
  let refused = 0;
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) if (check?.(envs[i & 1023])) refused++;
  const t = process.cpuUsage(t0);
  if (refused) throw new Error(`${refused} bench payloads refused by the schema`);
  return (t.user + t.system) / N;
}

const off = [];
const on = [];
for (let r = 0; r < ROUNDS; r++) {
  off.push(round(undefined));
  on.push(round(withSchema));
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`payload ${envs[0].payload.length} bytes, ${N} messages × ${ROUNDS} rounds (CPU µs per message, median)`);
console.log(`  without inspection: ${median(off).toFixed(3)}   with schema: ${median(on).toFixed(3)}   added: ${(median(on) - median(off)).toFixed(3)}`);
console.log(`  rounds with schema: ${on.map((v) => v.toFixed(3)).join(', ')}`);
rmSync(dir, { recursive: true, force: true });
