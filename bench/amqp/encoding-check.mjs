/**
 * The AMQP encoding check's cost per frame (src/listeners/amqp/encoding-check.ts,
 * run by the frame scanner on every performative before rhea decodes it),
 * against what rhea spends decoding the same frame. The check has no switch
 * (it is a correctness check), so it is measured beside rhea's own work on
 * the same frames, in one process, the variants alternating each round:
 *   scanner  FrameScanner.push per frame (framing + the encoding check), as the listener runs it
 *   framing  the same scanner with the check left out (replaced on the instance, for this measurement only)
 *   check    measure() of the performative alone
 *   rhea     frames.read_frame per frame (performative decode)
 *   rhea+msg read_frame plus message.decode of the payload (what a transfer costs rhea)
 *
 *   npm run build && node bench/amqp/encoding-check.mjs [--frames 20000] [--rounds 7] [--size 64] [--properties 4]
 */
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { measure } from '../../dist/listeners/amqp/encoding-check.js';
import { FrameScanner } from '../../dist/listeners/amqp/frame-scanner.js';

// rhea is thinggate's own dependency; resolve it from the repository root.
const require = createRequire(new URL('../../package.json', import.meta.url));
const rhea = require('rhea');
const frames = require('rhea/lib/frames.js');

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '7' },
    size: { type: 'string', default: '64' },
    properties: { type: 'string', default: '4' },
  },
});
const FRAMES = Number(values.frames);
const ROUNDS = Number(values.rounds);
const SIZE = Number(values.size);
const PROPERTIES = Number(values.properties);

/** Transfer frames as a sender writes them: an unsettled delivery with a message of SIZE bytes and some application properties. */
function transferFrames() {
  const application_properties = {};
  for (let i = 0; i < PROPERTIES; i++) application_properties[`key-${i}`] = `value-${i}`;
  const out = [];
  for (let i = 0; i < FRAMES; i++) {
    const message = rhea.message.encode({ to: 'telemetry/dev-1', application_properties, body: rhea.message.data_section(Buffer.alloc(SIZE, i & 0xff)) });
    const transfer = frames.transfer({ handle: 0, delivery_id: i, delivery_tag: Buffer.from(String(i)), message_format: 0, settled: false, more: false });
    out.push(frames.write_frame(frames.amqp_frame(0, transfer.described(), message)));
  }
  return out;
}

/** The scanner without the encoding check: its framing work alone (for this measurement only). */
function framingOnly() {
  const s = new FrameScanner(1 << 20);
  Object.defineProperty(s, 'check', { value: () => undefined });
  return s;
}

const all = transferFrames();
const HEADER = Buffer.from('AMQP\u0000\u0001\u0000\u0000', 'latin1');
function scan(scanner) {
  scanner.push(HEADER);
  for (const f of all) if (scanner.push(f)) throw new Error('the scanner refused a valid frame');
}
let sink = 0;
const variants = {
  scanner: () => scan(new FrameScanner(1 << 20)),
  framing: () => scan(framingOnly()),
  check: () => {
    for (const f of all) {
      const end = measure(f, 8, f.length);
      if (typeof end === 'number') sink += end;
    }
  },
  rhea: () => {
    for (const f of all) sink += frames.read_frame(f).size;
  },
  'rhea+msg': () => {
    for (const f of all) {
      const frame = frames.read_frame(f);
      sink += rhea.message.decode(frame.payload).body.content.length;
    }
  },
};

const ns = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (const fn of Object.values(variants)) fn(); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  const order = Object.keys(variants);
  if (r % 2 === 1) order.reverse();
  for (const k of order) {
    const t = process.hrtime.bigint();
    variants[k]();
    ns[k].push(Number(process.hrtime.bigint() - t) / FRAMES);
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const m = Object.fromEntries(Object.entries(ns).map(([k, v]) => [k, median(v)]));
const load = loadavg()
  .map((x) => x.toFixed(2))
  .join(' ');
console.log(`frames ${FRAMES} × ${ROUNDS} rounds, frame ${all[0].length} bytes, load average ${load}`);
for (const [k, v] of Object.entries(m)) console.log(`${k.padEnd(9)} median ${v.toFixed(0)} ns/frame  (rounds: ${ns[k].map((x) => x.toFixed(0)).join(', ')})`);
console.log(`check / rhea read_frame: ${(m.check / m.rhea).toFixed(3)}; check / (rhea read_frame + message decode): ${(m.check / m['rhea+msg']).toFixed(3)}`);
console.log(`the check inside the scanner, (scanner − framing) / (rhea read_frame + message decode): ${((m.scanner - m.framing) / m['rhea+msg']).toFixed(3)}`);
console.log(`scanner / framing (on against off): ${(m.scanner / m.framing).toFixed(2)}×`);
if (sink === 0) console.log('');
