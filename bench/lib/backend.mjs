/**
 * The bench back-end: a minimal node:http server in its own process. It
 * answers every request 204 at once and records, for the current phase,
 * which messages arrived (by client and sequence number, so loss and
 * duplicates can be computed) and the publish→back-end latency of each.
 *
 * IPC commands (see proc.mjs `ask`): `phase` (start recording phase N),
 * `snapshot` (counts and latency so far), `received` (the bitsets).
 * Started by the harness with `forkNode`; prints nothing.
 */
import { createServer } from 'node:http';
import { once } from 'node:events';
import { exitWithParent, serveIpc } from './proc.mjs';
import { forEachMessage, nowNs } from './payload.mjs';
import { SeqSets, newHistogram, summarize } from './stats.mjs';
import { portOf } from './net.mjs';

exitWithParent();

let phase = -1;
let received = new SeqSets();
let latency = newHistogram();
let requests = 0;
/** Requests of any phase since start: lets the harness see when a server has gone quiet. */
let totalRequests = 0;
let stray = 0;
let unparsed = 0;
let firstAt = 0;
let lastAt = 0;
/** Receipt time (ns) of each distinct message of the phase, for counts inside a time window. */
let times = new Float64Array(1 << 16);

function onMessage(r, c, s, t) {
  if (r !== phase) {
    stray++;
    return;
  }
  const now = nowNs();
  if (firstAt === 0) firstAt = now;
  lastAt = now;
  if (received.add(c, s)) {
    latency.record(Math.min(Math.max(1, now - t), 119e9));
    const k = received.count - 1;
    if (k >= times.length) {
      const grown = new Float64Array(times.length * 2);
      grown.set(times);
      times = grown;
    }
    times[k] = now;
  }
}

const server = createServer({ keepAliveTimeout: 60_000, requestTimeout: 0 }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    requests++;
    totalRequests++;
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    if (forEachMessage(body, onMessage) === 0) unparsed++;
    res.writeHead(204);
    res.end();
  });
  req.on('error', () => res.destroy());
});
server.on('clientError', (_err, socket) => socket.destroy());
server.keepAliveTimeout = 60_000;
server.headersTimeout = 61_000;
server.maxRequestsPerSocket = 0;

serveIpc({
  phase(msg) {
    phase = msg.phase;
    received = new SeqSets();
    latency = newHistogram();
    requests = 0;
    stray = 0;
    unparsed = 0;
    firstAt = 0;
    lastAt = 0;
    return {};
  },
  /** Distinct messages of the phase received at or before `until` (monotonic ns). */
  countUntil(msg) {
    let n = 0;
    for (let k = 0; k < received.count; k++) if (times[k] <= msg.until) n++;
    return { count: n };
  },
  snapshot() {
    return {
      phase,
      requests,
      totalRequests,
      messages: received.count,
      duplicates: received.duplicates,
      stray,
      unparsed,
      firstAt,
      lastAt,
      latency: summarize(latency),
    };
  },
  received() {
    return { received: received.toJSON() };
  },
});

server.listen(0, '127.0.0.1');
await once(server, 'listening');
process.send({ type: 'ready', port: portOf(server) });
