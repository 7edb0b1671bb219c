/**
 * Cost of remembering one CoAP exchange (message-id deduplication, RFC 7252
 * §4.5) once the cache is full: each add then also forgets the oldest entry.
 * Prints µs per add for each 100,000 adds into a cache bounded at 100,000
 * (the `coap.maxExchanges` default).
 *
 *   npm run build && node bench/coap/exchange-cache.mjs [DIST_DIR]
 *
 * DIST_DIR (default dist/) may name another tsc output, e.g. an older
 * commit's, to compare.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const dist = resolve(process.argv[2] ?? new URL('../../dist', import.meta.url).pathname);
const { ExchangeCache } = await import(pathToFileURL(`${dist}/listeners/coap/exchanges.js`).href);
const cache = new ExchangeCache(247_000, 100_000);
const rows = [];
let t = process.hrtime.bigint();
for (let i = 1; i <= 600_000; i++) {
  cache.add(i, 1000 + i / 10); // 10,000 requests/s of simulated time: nothing expires within the run
  if (i % 100_000 === 0) {
    const n = process.hrtime.bigint();
    rows.push({ adds: i, usPerAdd: Number(n - t) / 100_000 / 1000 });
    t = n;
  }
}
for (const r of rows) console.log(`${String(r.adds).padStart(7)} adds: ${r.usPerAdd.toFixed(2)} µs/add`);
const full = rows
  .slice(1)
  .map((r) => r.usPerAdd)
  .sort((a, b) => a - b);
console.log(`median once full: ${full[Math.floor(full.length / 2)].toFixed(2)} µs/add (${dist})`);
