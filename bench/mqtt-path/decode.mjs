#!/usr/bin/env node
/**
 * The MQTT listener's per-packet decoding and validation alone, for builds
 * side by side: the mqtt-path bench's PUBLISH (v5, QoS 1, topic
 * `devices/dev-N/telemetry`, 200 B payload, no properties) through
 * decodePublish, and — where the build has one — a PUBACK from the client
 * through validatePacket. Rounds alternate between builds; the figure is
 * the median CPU time per packet (process.cpuUsage), so a busy machine
 * slows both alike. Compare it with the gateway's CPU per message from
 * `bench/mqtt-path/run.mjs`.
 *
 *   node bench/mqtt-path/decode.mjs [--build label=dir ...] [--rounds 15] [--packets 200000]
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import mqttPacket from 'mqtt-packet';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = { rounds: 15, packets: 200_000, builds: [] };
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--build') opt.builds.push(args[++i]);
  else if (args[i] === '--rounds') opt.rounds = Number(args[++i]);
  else if (args[i] === '--packets') opt.packets = Number(args[++i]);
}
if (opt.builds.length === 0) opt.builds.push('current=dist');

const payload = Buffer.alloc(200, 0x61);
const frames = Array.from({ length: 50 }, (_, i) =>
  mqttPacket.generate(
    { cmd: 'publish', topic: `devices/dev-${i}/telemetry`, payload, qos: 1, messageId: i + 1, retain: false, dup: false },
    { protocolVersion: 5 },
  ),
);
const puback = Buffer.from([0x40, 0x02, 0x00, 0x01]);

const builds = [];
for (const b of opt.builds) {
  const [label, dir] = b.split('=');
  const base = join(resolve(ROOT, dir), 'listeners/mqtt');
  const { decodePublish } = await import(pathToFileURL(join(base, 'decode-publish.js')).href);
  const validatePath = join(base, 'validate.js');
  const validatePacket = existsSync(validatePath) ? (await import(pathToFileURL(validatePath).href)).validatePacket : undefined;
  builds.push({ label, decodePublish, validatePacket, publish: [], puback: [] });
}

function cpuNsPerPacket(fn) {
  const t0 = process.cpuUsage();
  fn();
  const t = process.cpuUsage(t0);
  return ((t.user + t.system) * 1000) / opt.packets;
}

let sink = 0;
for (let round = 0; round < opt.rounds; round++) {
  for (const b of builds) {
    b.publish.push(
      cpuNsPerPacket(() => {
        for (let i = 0; i < opt.packets; i++) {
          const f = frames[i % frames.length];
          sink += b.decodePublish(f, 3, true).payload.length;
        }
      }),
    );
    if (b.validatePacket) {
      b.puback.push(
        cpuNsPerPacket(() => {
          for (let i = 0; i < opt.packets; i++) b.validatePacket(puback, 2, 5);
        }),
      );
    }
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`decode: ${opt.rounds} rounds × ${opt.packets} packets per build, alternating (sink ${sink % 7})`);
for (const b of builds) {
  const pub = b.publish.slice(1); // the first round warms the JIT
  const ack = b.puback.slice(1);
  console.log(
    `${b.label}: PUBLISH decode ${median(pub).toFixed(1)} ns (min ${Math.min(...pub).toFixed(1)}, max ${Math.max(...pub).toFixed(1)})` +
      (ack.length ? `; PUBACK validation ${median(ack).toFixed(1)} ns (min ${Math.min(...ack).toFixed(1)})` : '; no validation layer'),
  );
}
