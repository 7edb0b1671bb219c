/**
 * Workers on one host (docs/scaling.md): `mqtt-qos1-rest` with the Redis
 * state backend, once as one process and once as `--workers 2`, in one run
 * of the suite so both see the same machine. Each starts its own
 * redis-server; the counts of Redis commands during the measured phases go
 * into the scenario's notes (zero expected for telemetry: presence is
 * written per connection, not per message).
 */
import { execFileSync } from 'node:child_process';
import { startThinggate } from '../lib/thinggate.mjs';
import { commandDelta, startRedis } from '../lib/redis.mjs';
import { CLIENTS, WINDOW } from './thinggate.mjs';

/** The PIDs of a process's children (a cluster primary's workers). */
function childrenOf(pid) {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * Starts thinggate for scenario `name` with `opts` (MQTT, the suite's client
 * load), on a redis-server of its own unless `redis` is false. A gateway that
 * does not start leaves no redis-server behind, and stopping the target
 * prints the Redis commands it used while it ran.
 */
async function startTarget(name, backend, ctx, opts, { redis: onRedis = true } = {}) {
  const redis = onRedis ? await startRedis() : undefined;
  const t = await startThinggate(backend, {
    protocol: 'mqtt',
    ...opts,
    ...(redis && { state: { backend: 'redis', url: redis.url, keyPrefix: 'bench:' } }),
    cpuProf: ctx.cpuProf,
    label: name,
  }).catch(async (err) => {
    await redis?.stop();
    throw err;
  });
  const before = redis?.commandstats();
  return {
    ...t,
    transport: { kind: 'mqtt', host: '127.0.0.1', port: t.port, clients: CLIENTS, qos: 1, version: 5, window: WINDOW },
    async stop() {
      if (redis) process.stdout.write(`  ${name}: Redis commands while it ran: ${JSON.stringify(commandDelta(before, redis.commandstats()))}\n`);
      await t.stop();
      await redis?.stop();
    },
  };
}

function workers(n) {
  const name = `mqtt-qos1-rest-workers${n}`;
  return {
    name,
    group: 'thinggate',
    kind: 'throughput',
    description: `MQTT 5, QoS 1, as mqtt-qos1-rest with state.backend redis, ${n === 1 ? 'one process' : `--workers ${n}`}`,
    async start(backend, ctx) {
      const t = await startTarget(name, backend, ctx, {
        ...(n > 1 && { args: ['--workers', String(n)] }),
        // Each worker loads the whole gateway, and a loaded host may take more than the default 20 s to start even one.
        startTimeoutMs: 90_000,
      });
      return {
        ...t,
        notes: [...t.notes, `state.backend redis (redis-server on loopback)${n > 1 ? `; --workers ${n} (node:cluster, round-robin accept)` : ''}`],
        // The primary and its workers: the target's CPU is theirs together.
        pids: () => [t.pid, ...childrenOf(t.pid)],
      };
    },
  };
}

/**
 * The shared rate counter's cost: `mqtt-qos1-rest` with the guard's message
 * limits counting every message (the limits set far above the load, so
 * nothing is throttled and only the counting costs), once on the embedded
 * backend and once on Redis, where each node also flushes its counts to
 * Redis (src/guard/shared-rate-counter.ts). Loopback is exempt from the
 * guard by default, which would count nothing: the exemption is lifted, and
 * scoring, flapping and the accept rate are off so the bench's own clients
 * are never banned or held back.
 */
const COUNTING_LIMITS = {
  exempt: [],
  scoring: { enabled: false },
  flapping: { enabled: false },
  limits: {
    connectionsPerSecond: 0,
    messages: {
      clientId: { perSecond: 1_000_000, burst: 2_000_000 },
      address: { perSecond: 1_000_000, burst: 2_000_000 },
      prefix: { perSecond: 1_000_000, burst: 2_000_000 },
    },
    bytes: {
      clientId: { perSecond: 1_000_000_000, burst: 2_000_000_000 },
      address: { perSecond: 1_000_000_000, burst: 2_000_000_000 },
      prefix: { perSecond: 1_000_000_000, burst: 2_000_000_000 },
    },
  },
};

function sharedLimits(backendName) {
  const name = `mqtt-qos1-limits-${backendName}`;
  return {
    name,
    group: 'thinggate',
    kind: 'throughput',
    description: `MQTT 5, QoS 1, as mqtt-qos1-rest with guard message and byte limits counting (never reached), state.backend ${backendName}`,
    async start(backend, ctx) {
      const t = await startTarget(name, backend, ctx, { guard: COUNTING_LIMITS }, { redis: backendName === 'redis' });
      return { ...t, notes: [...t.notes, `guard: ${JSON.stringify(COUNTING_LIMITS)}`, `state.backend ${backendName}`] };
    },
  };
}

/**
 * Shared `ctx.state`'s cost (docs/scaling.md): a script that de-duplicates
 * by client and (phase, sequence number), writing `ctx.state` for every message, on
 * the redis backend with the state shared between nodes and with
 * `scripts.state.shared: false` (each node its own; no Redis operation).
 */
const DEDUP_SCRIPT = `export function onMessage(msg, ctx) {
  const p = msg.json();
  const key = 'c' + p.c;
  const seq = p.r + ':' + p.s;
  if (ctx.state.get(key) === seq) return drop('duplicate');
  ctx.state.set(key, seq);
  return route('default');
}
`;

function scriptState(shared) {
  const name = `mqtt-qos1-state-${shared ? 'shared' : 'local'}`;
  return {
    name,
    group: 'thinggate',
    kind: 'throughput',
    description: `MQTT 5, QoS 1, as mqtt-qos1-rest with a script writing ctx.state per message, state.backend redis, ctx.state ${shared ? 'shared' : 'per node'}`,
    async start(backend, ctx) {
      const t = await startTarget(name, backend, ctx, { files: { 'route.js': DEDUP_SCRIPT }, scripts: { state: { shared } } });
      return {
        ...t,
        notes: [...t.notes, 'script: de-duplication by client and sequence number, one ctx.state write per message', `scripts.state.shared: ${shared}`],
      };
    },
  };
}

export const scenarios = [workers(1), workers(2), sharedLimits('embedded'), sharedLimits('redis'), scriptState(false), scriptState(true)];
