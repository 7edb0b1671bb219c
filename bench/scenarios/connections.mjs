/**
 * `connections`: N idle MQTT connections (CONNECT, CONNACK, then nothing).
 * Reports connections per second while opening them (200 connects in flight)
 * and the resident memory the server grew by, per connection, 2 s after the
 * last CONNACK. The open-file limit of the server and the generator is raised
 * with `ulimit -n` (bash) to the hard limit, and N is capped below it.
 */
import { execFileSync } from 'node:child_process';
import { ask, rssBytes } from '../lib/proc.mjs';
import { startGenerator } from '../lib/rig.mjs';
import { startThinggate } from '../lib/thinggate.mjs';
import { startMosquitto } from '../peers/mosquitto.mjs';
import { startAedesPeer } from '../peers/aedes.mjs';
import { stopChild } from '../lib/proc.mjs';
import { round } from '../lib/measure.mjs';

/** The hard open-file limit for processes started from here. */
export function hardFdLimit() {
  return Number(execFileSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim()) || 1024;
}

export function connectionCount(smoke, requested) {
  const cap = Math.min(20_000, hardFdLimit() - 300);
  if (requested) return Math.min(requested, cap);
  return smoke ? 500 : cap;
}

const TARGETS = {
  thinggate: async (backend, fdLimit, ctx) => {
    const t = await startThinggate(backend, { protocol: 'mqtt', fdLimit, cpuProf: ctx.cpuProf, label: 'connections' });
    return { ...t, version: 5 };
  },
  mosquitto: async (_backend, fdLimit) => {
    const b = await startMosquitto({ fdLimit });
    return { ...b, notes: ['mosquitto 2 (Debian), defaults'], version: 5 };
  },
  aedes: async (backend, fdLimit) => ({ ...(await startAedesPeer(backend, { fdLimit })), version: 4 }),
};

export const scenario = {
  name: 'connections',
  group: 'thinggate',
  kind: 'connections',
  description: 'N idle MQTT connections: resident memory per connection and connections per second (thinggate; mosquitto and Aedes for reference)',
  /** One run per target per repetition; returns { [target]: record }. */
  async runOnce(backend, ctx, log) {
    const n = connectionCount(ctx.smoke, ctx.connections);
    const fdLimit = hardFdLimit();
    const out = {};
    for (const [name, start] of Object.entries(TARGETS)) {
      if (ctx.smoke && name !== 'thinggate') continue;
      const target = await start(backend, fdLimit, ctx);
      let gen;
      try {
        await new Promise((r) => setTimeout(r, 1000));
        const before = await rssBytes(target.pid);
        gen = await startGenerator(
          {
            kind: 'mqtt',
            host: '127.0.0.1',
            port: target.port,
            clients: n,
            qos: 1,
            version: target.version,
            window: 1,
            connectConcurrency: 200,
            clientPrefix: `idle-${name}`,
          },
          { fdLimit },
        );
        await new Promise((r) => setTimeout(r, 2000));
        const after = await rssBytes(target.pid);
        const rec = {
          connections: gen.opened.connected,
          connectSeconds: round(gen.opened.seconds, 2),
          connectionsPerSecond: round(gen.opened.perSecond),
          rssBeforeMiB: round(before / 1048576, 1),
          rssAfterMiB: round(after / 1048576, 1),
          rssPerConnectionKiB: round((after - before) / 1024 / gen.opened.connected, 2),
          errors: gen.errors,
        };
        log(
          `  ${name}: ${rec.connections} connections in ${rec.connectSeconds} s (${rec.connectionsPerSecond}/s), RSS ${rec.rssBeforeMiB} → ${rec.rssAfterMiB} MiB = ${rec.rssPerConnectionKiB} KiB each`,
        );
        out[name] = rec;
      } finally {
        if (gen) {
          await ask(gen.child, { cmd: 'close' }, 60_000).catch(() => {});
          await stopChild(gen.child);
        }
        await target.stop();
      }
    }
    return out;
  },
};
