#!/usr/bin/env node
/**
 * The CBOR → JSON route codec alone, per message, in-process: what
 * `transcodedBody` (src/routing/transcode.ts) costs a static route with
 * `decode: application/cbor` and `request.encode: application/json`, and its
 * two halves (plugins/cbor's decode, the JSON codec's encode). No sockets, no
 * HTTP: a figure that stays comparable on a busy machine.
 *
 *   npm run build && node bench/codecs/cbor-json.mjs [--build label=dir ...] [--rounds 5] [--messages 200000] [--size 200]
 *
 * `dir` holds a build's `dist/` and `plugins/` (default: the repository itself);
 * for an older build, copy both under node_modules/.cache/ so that they find
 * the repository's node_modules. Each (build, round) runs in a fresh process,
 * builds alternating, so JIT state and machine noise hit them alike.
 * Payloads are the suite's bench messages (bench/lib/payload.mjs) encoded as
 * CBOR, each one a distinct Buffer view into one larger buffer, as MQTT
 * payloads are slices of the socket's read.
 */
import { execFileSync } from 'node:child_process';
import { resolve, join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const { values } = parseArgs({
  options: {
    build: { type: 'string', multiple: true },
    rounds: { type: 'string', default: '5' },
    messages: { type: 'string', default: '200000' },
    size: { type: 'string', default: '200' },
    child: { type: 'string' },
  },
});

if (values.child) {
  process.stdout.write(JSON.stringify(await measure(values.child, Number(values.messages), Number(values.size))));
  process.exit(0);
}

const builds = (values.build?.length ? values.build : ['current=.']).map((b) => {
  const [label, dir] = b.includes('=') ? b.split('=') : [b, b];
  return { label, dir: resolve(ROOT, dir) };
});
const rounds = Number(values.rounds);
const rows = new Map(builds.map((b) => [b.label, []]));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
process.stderr.write(`codec bench: ${values.messages} messages of ${values.size} B (JSON size) per stage, ${rounds} rounds, load ${loadavg()[0].toFixed(1)}\n`);
for (let r = 0; r < rounds; r++) {
  for (const b of builds) {
    const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', b.dir, '--messages', values.messages, '--size', values.size], {
      encoding: 'utf8',
    });
    const res = JSON.parse(out);
    rows.get(b.label).push(res);
    process.stderr.write(
      `round ${r + 1} ${b.label}: route ${res.route.toFixed(2)} µs, decode ${res.decode.toFixed(2)} µs, encode ${res.encode.toFixed(2)} µs (CPU per message), load ${loadavg()[0].toFixed(1)}\n`,
    );
  }
}
console.log('\n| build | route (decode + encode) µs/msg, median | decode µs/msg | JSON encode µs/msg | per-round route µs/msg |');
console.log('|---|---:|---:|---:|---|');
for (const b of builds) {
  const rs = rows.get(b.label);
  const m = (k) => median(rs.map((x) => x[k])).toFixed(2);
  console.log(`| ${b.label} | ${m('route')} | ${m('decode')} | ${m('encode')} | ${rs.map((x) => x.route.toFixed(2)).join(', ')} |`);
}

/** In a child: CPU µs per message of each stage, after a warm-up of the same length. */
async function measure(dir, n, size) {
  const imp = (p) => import(pathToFileURL(join(dir, p)).href);
  const { builtinRegistries } = await imp('dist/plugins/builtins.js');
  const { transcodedBody } = await imp('dist/routing/transcode.js');
  const cbor = (await imp('plugins/cbor/index.js')).default;
  const { encode } = await import('cbor-x/encode');
  const { encodePayload } = await import('../lib/payload.mjs');
  const registries = builtinRegistries();
  cbor.setup({ registerCodec: (c) => registries.codecs.register(c, 'cbor') }, {});
  const codecs = registries.codecResolver(dir);
  const decoder = codecs.resolve('application/cbor');
  const encoder = codecs.resolve('application/json');
  const route = { kind: 'static', decoder, encoder, codecs };
  const decision = { action: 'route' };

  // 1,000 distinct messages laid end to end in one buffer; each use takes a fresh view.
  const messages = [];
  for (let i = 0; i < 1000; i++)
    messages.push(Buffer.from(encode(JSON.parse(encodePayload(1, i % 50, i, 123456789012345 + i * 997, size).toString('latin1')))));
  const all = Buffer.concat(messages);
  const offsets = [];
  let at = 0;
  for (const m of messages) offsets.push([at, (at += m.length)]);
  const payload = (i) => all.subarray(offsets[i % 1000][0], offsets[i % 1000][1]);
  const decoded = messages.map((m) => decoder.decode(Buffer.from(m)));
  const expected = Buffer.from(JSON.stringify(decoded[0]));
  const got = transcodedBody({ payload: payload(0) }, route, decision);
  if (!got?.body.equals(expected)) throw new Error(`route output differs from JSON.stringify: ${got?.body}`);

  const stage = (fn) => {
    let sink = 0;
    for (let pass = 0; pass < 2; pass++) {
      const c0 = process.cpuUsage();
      for (let i = 0; i < n; i++) sink ^= fn(i) ? 1 : 0;
      const c = process.cpuUsage(c0);
      if (pass === 1) return (c.user + c.system) / n + sink * 0;
    }
  };
  return {
    route: stage((i) => transcodedBody({ payload: payload(i) }, route, decision)),
    decode: stage((i) => decoder.decode(payload(i))),
    encode: stage((i) => encoder.encode(decoded[i % 1000])),
  };
}
