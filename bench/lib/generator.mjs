/**
 * The load generator, in its own process. It holds N client connections
 * (MQTT, HTTP, CoAP or AMQP transports) and runs phases on request:
 *
 * - open loop: ONE shared ticker (1 ms) releases messages at the offered rate,
 *   round-robin over the clients; a message whose client has its window full
 *   waits in that client's queue, and its clock starts when it was released,
 *   so time spent queued counts in its latency;
 * - closed loop: every client keeps its window full for the duration
 *   (saturation).
 *
 * For each phase it reports what was released, sent, acknowledged, refused
 * and left unanswered, the publish→ack latency, the acknowledged set (for
 * loss) and its own CPU use (to show it is not the bottleneck).
 */
import { exitWithParent, serveIpc } from './proc.mjs';
import { encodePayload, nowNs } from './payload.mjs';
import { SeqSets, newHistogram, summarize } from './stats.mjs';

exitWithParent();

/** @type {{size:number, fireAndForget:boolean, window(i:number):number, send(i:number,p:Buffer,d:(ok:boolean,code:unknown)=>void):void, writable?(i:number):boolean, onDrain?(i:number, f:() => void):void, open():Promise<object>, close():Promise<void>, errors:string[]}} */
let transport;
let heldOpen = null;

async function makeTransport(spec) {
  switch (spec.kind) {
    case 'mqtt': {
      const { MqttTransport } = await import('./transports/mqtt.mjs');
      return new MqttTransport(spec);
    }
    case 'mqttjs': {
      const { MqttJsTransport } = await import('./transports/mqttjs.mjs');
      return new MqttJsTransport(spec);
    }
    case 'http': {
      const { HttpTransport } = await import('./transports/http.mjs');
      return new HttpTransport(spec);
    }
    case 'coap': {
      const { CoapTransport } = await import('./transports/coap.mjs');
      return new CoapTransport(spec);
    }
    case 'coap-raw': {
      const { RawCoapTransport } = await import('./transports/coap-raw.mjs');
      return new RawCoapTransport(spec);
    }
    case 'amqp': {
      const { AmqpTransport } = await import('./transports/amqp.mjs');
      return new AmqpTransport(spec);
    }
    case 'framed': {
      const { FramedTransport } = await import('./transports/framed.mjs');
      return new FramedTransport(spec);
    }
    default:
      throw new Error(`unknown transport ${spec.kind}`);
  }
}

/**
 * Runs one phase. `rate` (messages/s) for open loop; omitted for closed loop.
 * Resolves when every message is settled or `drainMs` after the window ends.
 */
function runPhase({ phase, rate, durationMs, drainMs = 3000, payloadBytes = 200 }) {
  const n = transport.size;
  const open = typeof rate === 'number';
  const ff = transport.fireAndForget;
  const seq = new Uint32Array(n);
  const inflight = new Uint32Array(n);
  const queues = Array.from({ length: n }, () => []);
  const acked = new SeqSets();
  const ackLatency = newHistogram();
  const refused = {};
  let released = 0;
  let sent = 0;
  let ackedInWindow = 0;
  let failed = 0;
  let queued = 0;
  let maxQueued = 0;
  let rr = 0;
  let windowOpen = true;
  const cpu0 = process.cpuUsage();
  const start = nowNs();
  const end = start + durationMs * 1e6;
  let finish;
  const finished = new Promise((r) => (finish = r));

  const send = (i, tNs) => {
    const s = seq[i]++;
    inflight[i]++;
    sent++;
    transport.send(i, encodePayload(phase, i, s, tNs, payloadBytes), (ok, code) => {
      inflight[i]--;
      const now = nowNs();
      if (ok) {
        acked.add(i, s);
        if (!ff) ackLatency.record(Math.min(Math.max(1, now - tNs), 119e9));
        if (now <= end) ackedInWindow++;
      } else {
        failed++;
        refused[code] = (refused[code] ?? 0) + 1;
      }
      if (ff) return;
      if (queues[i].length > 0) {
        queued--;
        send(i, queues[i].shift());
      } else if (!open && windowOpen && code !== 'closed') {
        // Closed loop: the acknowledgement releases the next message (not on a dead connection).
        released++;
        send(i, nowNs());
      }
      if (!windowOpen) checkDone();
    });
  };

  // Fire-and-forget (QoS 0 / NON): the socket's buffer is the only window.
  const pump = (i) => {
    while (queues[i].length > 0 && transport.writable(i)) {
      queued--;
      send(i, queues[i].shift());
    }
    if (!open && windowOpen) {
      let k = 0;
      while (transport.writable(i) && k++ < 64) {
        released++;
        send(i, nowNs());
      }
    }
    if ((queues[i].length > 0 || (!open && windowOpen)) && !pumping[i]) {
      pumping[i] = 1;
      const again = () => {
        pumping[i] = 0;
        if (windowOpen || queues[i].length > 0) pump(i);
        else checkDone();
      };
      if (transport.writable(i)) setImmediate(again);
      else transport.onDrain(i, again);
    }
  };
  const pumping = new Uint8Array(n);

  let ticker;
  if (open) {
    ticker = setInterval(() => {
      const now = nowNs();
      const until = Math.min(now, end);
      const due = Math.floor(((until - start) * rate) / 1e9) - released;
      for (let k = 0; k < due; k++) {
        const i = rr;
        rr = rr + 1 === n ? 0 : rr + 1;
        released++;
        const canSend = ff ? transport.writable(i) && queues[i].length === 0 : inflight[i] < transport.window(i) && queues[i].length === 0;
        if (canSend) send(i, now);
        else {
          queues[i].push(now);
          queued++;
          if (ff) pump(i);
        }
      }
      if (queued > maxQueued) maxQueued = queued;
      if (now >= end) closeWindow();
    }, 1);
  } else {
    for (let i = 0; i < n; i++) {
      if (ff) pump(i);
      else
        for (let w = transport.window(i); w > 0; w--) {
          released++;
          send(i, nowNs());
        }
    }
    setTimeout(closeWindow, durationMs);
  }

  let queuedAtEnd = 0;
  let drainTimer;
  function closeWindow() {
    if (!windowOpen) return;
    windowOpen = false;
    clearInterval(ticker);
    queuedAtEnd = queued;
    drainTimer = setTimeout(() => finishPhase(), drainMs);
    checkDone();
  }
  function checkDone() {
    if (windowOpen) return;
    if (queued > 0) return;
    for (let i = 0; i < n; i++) if (inflight[i] > 0 && !ff) return;
    finishPhase();
  }
  let done = false;
  function finishPhase() {
    if (done) return;
    done = true;
    clearTimeout(drainTimer);
    let unanswered = 0;
    if (!ff) for (let i = 0; i < n; i++) unanswered += inflight[i];
    unanswered += queued;
    const cpu = process.cpuUsage(cpu0);
    const wallS = durationMs / 1000;
    finish({
      phase,
      mode: open ? 'open' : 'closed',
      offeredRate: open ? rate : null,
      durationMs,
      startNs: start,
      endNs: end,
      finishedNs: nowNs(),
      released,
      sent,
      acked: acked.count,
      ackedInWindow,
      ackRate: ackedInWindow / wallS,
      sendRate: sent / wallS,
      failed,
      refused,
      unanswered,
      queuedAtEnd,
      maxQueued,
      ackLatency: summarize(ackLatency),
      generatorCpu: (cpu.user + cpu.system) / 1e6 / ((nowNs() - start) / 1e9),
      errors: transport.errors.splice(0, 20),
      ackedSet: acked.toJSON(),
    });
  }
  return finished;
}

serveIpc({
  async open(msg) {
    transport = await makeTransport(msg.transport);
    if (msg.transport.encoding === 'cbor') await sendAsCbor(transport);
    heldOpen = await transport.open();
    return { open: heldOpen, errors: transport.errors.slice(0, 20) };
  },
  async run(msg) {
    return runPhase(msg);
  },
  async close() {
    await transport?.close();
    return {};
  },
});

process.send({ type: 'ready' });

/**
 * Payloads sent as CBOR (the same fields as the JSON bench message, in the same
 * order, so the JSON a codec route makes of them is found by the back-end).
 */
async function sendAsCbor(t) {
  const { encode } = await import('cbor-x/encode');
  const send = t.send.bind(t);
  t.send = (i, payload, done) => send(i, encode(JSON.parse(payload.toString('latin1'))), done);
}
