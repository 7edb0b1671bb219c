#!/usr/bin/env node
/**
 * The DTLS record layer alone, in this process: one application-data record
 * sealed by the server side (record header, explicit nonce, AES-128-CCM_8 or
 * GCM, tag) and parsed, replay-checked and opened by a reader holding the same
 * keys, as the coaps listener does for every CoAP message each way. CPU µs per
 * record (seal + open) over interleaved rounds of each build given.
 *
 *   npm run build && node bench/dtls/record-layer.mjs [--records 200000] [--rounds 5] [--size 100]
 *       [--suite PSK-AES128-CCM8] [--base node_modules/.cache/old-dist]
 *
 * `--base` names another `tsc` output directory (inside the repository) to
 * compare against the current dist/ in the same invocation: rounds alternate
 * base and current so that a host slowing down or speeding up touches both.
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '5' },
    size: { type: 'string', default: '100' },
    suite: { type: 'string', default: 'PSK-AES128-CCM8' },
    base: { type: 'string' },
  },
});
const N = Number(values.records);
const ROUNDS = Number(values.rounds);
const plain = Buffer.alloc(Number(values.size), 0x5a);
const V = 0xfefd;

async function load(dist) {
  const at = (f) => pathToFileURL(resolve(ROOT, dist, 'security/dtls', f)).href;
  const cipher = await import(at('cipher.js'));
  const record = await import(at('record.js'));
  const suite = cipher.SUITES.find((s) => s.name === values.suite);
  if (!suite) throw new Error(`unknown suite ${values.suite}`);
  return { cipher, record, suite };
}

/** One round: N records sealed as the session sends them and opened as it receives them. */
function round({ cipher, record, suite }) {
  const args = [suite, Buffer.alloc(48, 7), Buffer.alloc(32, 1), Buffer.alloc(32, 2)];
  const writer = cipher.deriveCiphers(...args).server;
  const reader = cipher.deriveCiphers(...args).server;
  const window = new record.ReplayWindow();
  const start = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    const seqNum = record.seqNumOf(1, i);
    let datagram;
    if (writer.sealInto) {
      const length = writer.overhead + plain.length;
      datagram = Buffer.allocUnsafe(13 + length);
      record.writeHeader(datagram, 23, V, seqNum, length);
      writer.sealInto(seqNum, 23, V, plain, datagram, 13);
    } else datagram = record.encodeRecord(23, V, seqNum, writer.seal(seqNum, 23, V, plain));
    const rec = record.parseRecords(datagram)[0];
    if (!window.check(rec.seq)) throw new Error('replay window refused a new record');
    const opened = reader.open(rec.seqNum, rec.type, rec.version, rec.fragment);
    if (!opened || opened.length !== plain.length) throw new Error('record did not open');
    window.accept(rec.seq);
  }
  const u = process.cpuUsage(start);
  return (u.user + u.system) / N;
}

/** @type {{ name: string, build: Awaited<ReturnType<typeof load>> }[]} */
const builds = [...(values.base ? [{ name: 'base', build: await load(values.base) }] : []), { name: 'current', build: await load('dist') }];
/** @type {Map<string, number[]>} */
const results = new Map(builds.map((b) => [b.name, []]));
for (const b of builds) round(b.build); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? builds : [...builds].reverse();
  for (const b of order) results.get(b.name)?.push(round(b.build));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${values.suite}, ${plain.length}-byte records, ${N} per round, ${ROUNDS} rounds`);
for (const [name, xs] of results)
  console.log(`${name}: ${median(xs).toFixed(3)} µs CPU per record, seal + open (rounds ${xs.map((x) => x.toFixed(3)).join(', ')})`);
if (values.base) console.log(`current / base: ${(median(results.get('current') ?? []) / median(results.get('base') ?? [])).toFixed(2)}×`);
