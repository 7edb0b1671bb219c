/**
 * The measurement procedure shared by every throughput scenario. One "run":
 *
 *  1. warm-up (closed loop, discarded);
 *  2. saturation: closed loop, every client keeps its window full
 *     (unacknowledged QoS 0 / NON: a rate ramp instead, see below);
 *     S = min(acknowledged/s, delivered-to-back-end/s);
 *  3. sustained rate: open loop at 0.95·S, 0.85·S, … until a step passes:
 *     zero loss, nothing refused or unanswered, the generator never more
 *     than 50 ms behind, and every acknowledged message at the back-end
 *     within 500 ms of the window's end;
 *  4. latency (open loop) at 50 % and 90 % of the sustained rate, and at a
 *     fixed 4,000 messages/s.
 *
 * Loss is always counted the same way: messages acknowledged to the device
 * (for fire-and-forget QoS 0 / NON: sent) whose id never reached the back-end.
 */
import { ask, cpuSeconds } from './proc.mjs';
import { SeqSets } from './stats.mjs';

export const PROFILES = {
  full: { warmupMs: 1500, saturationMs: 3000, stepMs: 2500, latencyMs: 3000, steps: [0.95, 0.85, 0.75, 0.6, 0.45, 0.3, 0.2, 0.1, 0.05], fixedRates: [4000] },
  smoke: { warmupMs: 200, saturationMs: 500, stepMs: 500, latencyMs: 500, steps: [0.5, 0.25, 0.1], fixedRates: [] },
};

let phaseCounter = 0;

/** Runs one phase on the rig and joins the generator's and the back-end's views of it. */
export async function phase(rig, spec) {
  const id = ++phaseCounter;
  await ask(rig.backend, { cmd: 'phase', phase: id });
  const cpu0 = rig.targetCpu ? await rig.targetCpu() : null;
  const b0 = await cpuSeconds(rig.backend.pid).catch(() => null);
  const g = await ask(rig.generator, { cmd: 'run', phase: id, ...spec }, spec.durationMs + 60_000);
  if (rig.target.alive && !rig.target.alive()) {
    const tail = rig.target.log ? `\n${rig.target.log().slice(-2000)}` : '';
    throw new Error(`the server under test exited during a phase${tail}`);
  }
  const cpu1 = rig.targetCpu ? await rig.targetCpu() : null;
  const b1 = await cpuSeconds(rig.backend.pid).catch(() => null);
  // CPU use (cores) over the window plus the drain the generator waited for.
  const busySeconds = (g.finishedNs - g.startNs) / 1e9;
  // Wait for the back-end to catch up: every acknowledged message, or no progress for 1 s (at most 8 s).
  let snap = await ask(rig.backend, { cmd: 'snapshot' });
  const settleDeadline = Date.now() + 8000;
  let lastCount = -1;
  let stableSince = Date.now();
  while (snap.messages < g.acked && Date.now() < settleDeadline) {
    if (snap.messages !== lastCount) {
      lastCount = snap.messages;
      stableSince = Date.now();
    } else if (Date.now() - stableSince > 1000) break;
    await new Promise((r) => setTimeout(r, 100));
    snap = await ask(rig.backend, { cmd: 'snapshot' });
  }
  const idle = await waitQuiet(rig, snap.messages >= g.acked ? 200 : 1000, 15_000);
  snap = await ask(rig.backend, { cmd: 'snapshot' });
  const inWindow = (await ask(rig.backend, { cmd: 'countUntil', until: g.endNs })).count;
  const lagLimit = (await ask(rig.backend, { cmd: 'countUntil', until: g.endNs + 500e6 })).count;
  const received = SeqSets.fromJSON((await ask(rig.backend, { cmd: 'received' })).received);
  const ackedSet = SeqSets.fromJSON(g.ackedSet);
  const lost = ackedSet.missingFrom(received);
  const seconds = spec.durationMs / 1000;
  const out = {
    mode: g.mode,
    offeredRate: g.offeredRate,
    durationMs: spec.durationMs,
    sent: g.sent,
    acked: g.acked,
    ackRate: round(g.ackRate),
    deliveredRate: round(inWindow / seconds),
    delivered: snap.messages,
    lost,
    refused: g.failed,
    refusedBy: g.refused,
    unanswered: g.unanswered,
    duplicates: snap.duplicates,
    unparsedRequests: snap.unparsed,
    backendRequests: snap.requests,
    queuedAtEnd: g.queuedAtEnd,
    maxQueued: g.maxQueued,
    deliveredLate: snap.messages - lagLimit,
    ackLatencyMs: g.ackLatency,
    backendLatencyMs: snap.latency,
    generatorCpu: round(g.generatorCpu, 2),
    targetCpu: cpu0 !== null && cpu1 !== null ? round((cpu1 - cpu0) / busySeconds, 2) : null,
    backendCpu: b0 !== null && b1 !== null ? round((b1 - b0) / busySeconds, 2) : null,
    errors: g.errors,
    serverIdleAfter: idle,
  };
  if (rig.fireAndForget) {
    // Nothing is acknowledged at QoS 0: every message sent and not received is lost.
    out.ackLatencyMs = null;
  }
  return out;
}

/**
 * Waits until the back-end has received nothing (from any phase) for `quietMs`,
 * at most `capMs`. A server that acknowledges before delivering may still be
 * working through a backlog; the next phase must not start on top of it.
 */
async function waitQuiet(rig, quietMs, capMs) {
  const deadline = Date.now() + capMs;
  let last = (await ask(rig.backend, { cmd: 'snapshot' })).totalRequests;
  let since = Date.now();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const now = (await ask(rig.backend, { cmd: 'snapshot' })).totalRequests;
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return true;
  }
  return false;
}

/** Runs a phase; if the server is still busy with it afterwards, restarts the server so the next phase starts clean. */
async function cleanPhase(rig, spec, log) {
  const p = await phase(rig, spec);
  if (!p.serverIdleAfter && rig.restart) {
    log('  (server still delivering a backlog 15 s after the phase: restarting it)');
    await rig.restart();
  }
  return p;
}

/** Did an open-loop step sustain its offered rate? Returns the reasons it did not. */
export function sustainFailures(p) {
  const why = [];
  if (p.lost > 0) why.push(`${p.lost} lost`);
  if (p.refused > 0) why.push(`${p.refused} refused`);
  if (p.unanswered > 0) why.push(`${p.unanswered} unanswered`);
  if (p.queuedAtEnd > Math.max(50, p.offeredRate * 0.05)) why.push(`generator ${p.queuedAtEnd} behind`);
  if (p.deliveredLate > 0) why.push(`${p.deliveredLate} delivered > 500 ms late`);
  if (p.delivered < p.acked) why.push(`${p.acked - p.delivered} acknowledged, not (yet) delivered`);
  return why;
}

/**
 * One full run of the procedure. `log` receives progress lines.
 * @returns {Promise<object>} the run's record
 */
export async function measureRun(rig, profile, log) {
  const p = PROFILES[profile];
  if (rig.fireAndForget) return measureRunUnacknowledged(rig, p, log);
  await cleanPhase(rig, { durationMs: p.warmupMs, drainMs: 2000 }, log);
  const sat = await cleanPhase(rig, { durationMs: p.saturationMs, drainMs: 3000 }, log);
  // Delivered inside the window can undercount a peer whose deliveries lag its acks (it keeps
  // delivering after the window); everything it delivered, over the window, overcounts a little,
  // which the downward search below corrects. An undercount could not be corrected.
  const S = Math.min(sat.ackRate || Infinity, Math.max(sat.deliveredRate, sat.delivered / (p.saturationMs / 1000)));
  log(
    `saturation: ${sat.ackRate} acked/s, ${sat.deliveredRate} delivered/s, lost ${sat.lost}; cpu (cores): target ${sat.targetCpu}, back-end ${sat.backendCpu}, generator ${sat.generatorCpu}`,
  );
  const steps = [];
  let sustained = null;
  for (const f of p.steps) {
    const rate = Math.max(10, Math.round((S * f) / 10) * 10);
    const st = await cleanPhase(rig, { rate, durationMs: p.stepMs, drainMs: 2000 }, log);
    const why = sustainFailures(st);
    steps.push({
      factor: f,
      rate,
      pass: why.length === 0,
      why,
      lost: st.lost,
      ackP99: st.ackLatencyMs?.p99 ?? null,
      backendP99: st.backendLatencyMs?.p99 ?? null,
    });
    log(`  open loop ${rate}/s: ${why.length === 0 ? 'sustained' : why.join(', ')}`);
    if (why.length === 0) {
      sustained = { rate, phase: st };
      break;
    }
  }
  // One refinement halfway between the passing step and the failed one above it.
  const k = steps.length - 1;
  if (sustained && k > 0 && profile === 'full') {
    const rate = Math.round((S * (steps[k].factor + steps[k - 1].factor)) / 2 / 10) * 10;
    const st = await cleanPhase(rig, { rate, durationMs: p.stepMs, drainMs: 2000 }, log);
    const why = sustainFailures(st);
    steps.push({
      factor: (steps[k].factor + steps[k - 1].factor) / 2,
      rate,
      pass: why.length === 0,
      why,
      lost: st.lost,
      ackP99: st.ackLatencyMs?.p99 ?? null,
      backendP99: st.backendLatencyMs?.p99 ?? null,
    });
    log(`  open loop ${rate}/s: ${why.length === 0 ? 'sustained' : why.join(', ')}`);
    if (why.length === 0) sustained = { rate, phase: st };
  }
  const latency = await latencyPhases(rig, p, sustained?.rate ?? 0, log);
  return { saturation: sat, saturationRate: round(S), steps, sustainedRate: sustained?.rate ?? 0, sustainedPhase: sustained?.phase ?? null, latency };
}

/**
 * Without acknowledgements (QoS 0, CoAP NON) there is no loop to close: a
 * closed-loop flood only fills kernel buffers and poisons later phases. So
 * the rate is ramped instead (open loop, ×1.5 from 1,000/s until a step fails,
 * then once halfway back); "saturation" is the best delivered rate seen.
 */
async function measureRunUnacknowledged(rig, p, log) {
  await cleanPhase(rig, { rate: 500, durationMs: p.warmupMs, drainMs: 2000 }, log);
  const steps = [];
  let pass = null;
  let failRate = null;
  /** @type {any} */
  let best = null;
  const tryRate = async (rate) => {
    const st = await cleanPhase(rig, { rate, durationMs: p.stepMs, drainMs: 2000 }, log);
    const why = sustainFailures(st);
    steps.push({ rate, pass: why.length === 0, why, lost: st.lost, backendP99: st.backendLatencyMs?.p99 ?? null });
    log(`  open loop ${rate}/s: ${why.length === 0 ? 'sustained' : why.join(', ')}`);
    if (!best || st.deliveredRate > best.deliveredRate) best = st;
    return why.length === 0 ? st : null;
  };
  for (let rate = 1000; steps.length < (p === PROFILES.smoke ? 2 : 12); rate = Math.round((rate * 1.5) / 10) * 10) {
    const st = await tryRate(rate);
    if (!st) {
      failRate = rate;
      break;
    }
    pass = { rate, phase: st };
  }
  if (pass && failRate) {
    const mid = Math.round(Math.sqrt(pass.rate * failRate) / 10) * 10;
    const st = await tryRate(mid);
    if (st) pass = { rate: mid, phase: st };
  }
  log(`  best delivered rate ${best?.deliveredRate}/s`);
  const latency = await latencyPhases(rig, p, pass?.rate ?? 0, log);
  return {
    saturation: best,
    saturationRate: round(best?.deliveredRate ?? 0),
    steps,
    sustainedRate: pass?.rate ?? 0,
    sustainedPhase: pass?.phase ?? null,
    latency,
  };
}

async function latencyPhases(rig, p, sustainedRate, log) {
  const latency = {};
  const sustained = sustainedRate > 0 ? { rate: sustainedRate } : null;
  if (sustained) {
    for (const [label, f] of /** @type {Array<[string, number]>} */ ([
      ['at50', 0.5],
      ['at90', 0.9],
    ])) {
      const rate = Math.max(10, Math.round((sustained.rate * f) / 10) * 10);
      const lp = await cleanPhase(rig, { rate, durationMs: p.latencyMs, drainMs: 2000 }, log);
      latency[label] = latencyRecord(lp);
      log(`  latency ${label} (${rate}/s): ack p50/p99 ${fmt(lp.ackLatencyMs)}, back-end p50/p99 ${fmt(lp.backendLatencyMs)}, lost ${lp.lost}`);
    }
  }
  for (const rate of p.fixedRates) {
    const lp = await cleanPhase(rig, { rate, durationMs: p.latencyMs, drainMs: 2000 }, log);
    latency[`at${rate}`] = latencyRecord(lp);
    log(
      `  latency at ${rate}/s: ack p50/p99 ${fmt(lp.ackLatencyMs)}, back-end p50/p99 ${fmt(lp.backendLatencyMs)}, lost ${lp.lost}, sustained: ${sustainFailures(lp).join(', ') || 'yes'}`,
    );
  }
  return latency;
}

function latencyRecord(lp) {
  return {
    offeredRate: lp.offeredRate,
    ackRate: lp.ackRate,
    lost: lp.lost,
    sustained: sustainFailures(lp).length === 0,
    why: sustainFailures(lp),
    ackMs: lp.ackLatencyMs,
    backendMs: lp.backendLatencyMs,
    targetCpu: lp.targetCpu,
    backendCpu: lp.backendCpu,
    generatorCpu: lp.generatorCpu,
  };
}

function fmt(l) {
  return l?.count ? `${l.p50}/${l.p99} ms` : 'n/a';
}

export function round(x, digits = 0) {
  if (typeof x !== 'number' || !Number.isFinite(x)) return x;
  const m = 10 ** digits;
  return Math.round(x * m) / m;
}
