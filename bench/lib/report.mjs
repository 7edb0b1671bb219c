/**
 * Renders the suite's block of bench/RESULTS.md from bench/results/*.json:
 * the summary table (every throughput result also as a ratio to the egress
 * limit), the targets of issue 6 with what was measured, connection cost,
 * and the profile notes kept in bench/results/profile.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESULTS_DIR } from './results.mjs';

const fmtN = (x, d = 0) =>
  x === null || x === undefined || Number.isNaN(x) ? '–' : Number(x).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const mmmText = (m, d = 0) => (!m || m.median === null ? '–' : m.n > 1 ? `${fmtN(m.median, d)} (${fmtN(m.min, d)}–${fmtN(m.max, d)})` : fmtN(m.median, d));
const pair = (a, b) => (a?.median === null || a?.median === undefined ? '–' : `${fmtN(a.median, 2)} / ${fmtN(b?.median, 2)}`);

export function renderSuite(results, dir = RESULTS_DIR) {
  const egress = results['egress-limit'];
  const egressRate = egress?.summary?.sustainedRate?.median ?? null;
  const lines = [];
  lines.push('## suite', '');
  lines.push(
    'Written by `npm run bench` (`node bench/run.mjs`); see docs/benchmarks.md for the method. Each cell: median (min–max) over the runs. ' +
      'Rates are messages/s; "sustained" is the highest open-loop rate held with zero loss, nothing refused and the back-end keeping up; ' +
      '"saturation" is the closed-loop rate (50 clients × 10 in flight): acknowledged/s and delivered to the back-end/s within the window (QoS 0: the best delivered rate of its ramp); CPU in cores (2 = the whole machine). Latencies in ms: publish→acknowledgement ("ack") and publish→back-end ("b-e"), p50 / p99. ' +
      '"lost" counts messages acknowledged to the device (QoS 0: sent) that never reached the back-end.',
    '',
  );
  const envs = Object.values(results).map((r) => r.environment);
  const commits = [...new Set(envs.map((e) => `${e.commit}${e.srcDirty ? '+dirty' : ''}`))];
  const e0 = envs[0];
  if (e0)
    lines.push(
      `Machine: ${e0.cpus} CPUs (${e0.cpuModel}), Node ${e0.node}; commits: ${commits.join(', ')}; runs from ${minDate(envs)} to ${maxDate(Object.values(results).map((r) => ({ date: r.finishedAt ?? r.environment.date })))}.`,
      '',
    );

  lines.push(
    '| scenario | runs | sustained | × egress | saturation: acked / delivered | lost at saturation | CPU at saturation: server / back-end / generator | ack p50/p99 @50% | b-e p50/p99 @50% | b-e p50/p99 @90% | b-e p50/p99 @4,000/s | lost @4,000/s | notes |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of Object.values(results)
    .filter((x) => x.kind === 'throughput')
    .sort(order)) {
    const s = r.summary;
    const ratio = egressRate && s.sustainedRate.median !== null ? `${fmtN(s.sustainedRate.median / egressRate, 2)}×` : '–';
    const l50 = s.latency.at50 ?? {};
    const l90 = s.latency.at90 ?? {};
    const l4k = s.latency.at4000 ?? {};
    lines.push(
      `| ${r.scenario} | ${r.runs.length} | ${mmmText(s.sustainedRate)} | ${ratio} | ${satText(s)} | ${mmmText(s.saturationLost)} | ${cpuText(s)} | ${pair(l50.ackP50, l50.ackP99)} | ${pair(l50.backendP50, l50.backendP99)} | ${pair(l90.backendP50, l90.backendP99)} | ${pair(l4k.backendP50, l4k.backendP99)} | ${mmmText(l4k.lost)} | ${(r.notes ?? []).join('; ')}${r.mode === 'smoke' ? ' (smoke run: not a measurement)' : ''}${r.cpuProfile ? ' (run under --cpu-prof)' : ''} |`,
    );
  }
  lines.push('');

  const conn = results.connections;
  if (conn) {
    lines.push(`### Idle connections (${conn.runs.length} runs)`, '');
    lines.push('| server | connections | connections/s | RSS per connection (KiB) |', '|---|---|---|---|');
    for (const [t, s] of Object.entries(conn.summary))
      lines.push(`| ${t} | ${mmmText(s.connections)} | ${mmmText(s.connectionsPerSecond)} | ${mmmText(s.rssPerConnectionKiB, 1)} |`);
    lines.push('');
  }

  lines.push('### Targets (issue 6)', '');
  lines.push('| target | measured | met |', '|---|---|---|');
  for (const t of targets(results, egressRate)) lines.push(`| ${t.what} | ${t.measured} | ${t.met === null ? 'not measured' : t.met ? 'yes' : '**no**'} |`);
  lines.push('');

  const profileFile = join(dir, 'profile.json');
  if (existsSync(profileFile)) {
    const p = JSON.parse(readFileSync(profileFile, 'utf8'));
    lines.push('### Findings and profile of thinggate (`node --cpu-prof`)', '');
    for (const n of p.notes ?? []) lines.push(`- ${n}`);
    if (p.thinggate?.length) {
      lines.push(
        '',
        `${p.scenario}, one run under \`--cpu-prof\` (${p.date}; ${p.basis}; idle ${p.idlePercent}%). Samples charged to the innermost thinggate function on the stack (its own code plus the library and native calls it makes):`,
        '',
      );
      lines.push('| thinggate function | file:line | % |', '|---|---|---|');
      for (const h of p.thinggate) lines.push(`| ${h.function} | ${h.file} | ${h.percent} |`);
    }
    if (p.hotspots?.length) {
      lines.push('', 'Self time by function (anywhere):', '', '| function | file | self % |', '|---|---|---|');
      for (const h of p.hotspots) lines.push(`| ${h.function} | ${h.file} | ${h.selfPercent} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

function satText(s) {
  const acked = s.saturationAcked?.median;
  const delivered = s.saturationDelivered ?? s.saturationRate;
  return `${acked === null || acked === undefined ? '–' : fmtN(acked)} / ${mmmText(delivered)}`;
}

function cpuText(s) {
  const c = (m) => (m?.median === null || m?.median === undefined ? '–' : fmtN(m.median, 2));
  return `${c(s.saturationTargetCpu)} / ${c(s.saturationBackendCpu)} / ${c(s.saturationGeneratorCpu)}`;
}

function targets(results, egressRate) {
  const rate = (name) => results[name]?.summary?.sustainedRate?.median ?? null;
  /** `subject`'s sustained rate ≥ `factor` × `other`'s ('egress': the egress limit). */
  const ratioTarget = (what, subject, other, factor) => {
    const s = rate(subject);
    const o = other === 'egress' ? egressRate : rate(other);
    if (s === null || !o) return { what, measured: 'missing result', met: null };
    return { what, measured: `${fmtN(s)} vs ${fmtN(o)} = ${fmtN(s / o, 2)}×`, met: s >= factor * o };
  };
  const q1 = 'mqtt-qos1-rest';
  const out = [
    ratioTarget('mqtt-qos1-rest ≥ 0.75× egress limit', q1, 'egress', 0.75),
    ratioTarget("mqtt-qos1-rest ≥ 0.75× egress-limit-pipelined (undici with the pool's pipelining)", q1, 'egress-limit-pipelined', 0.75),
    ratioTarget('mqtt-qos1-rest ≥ 1.4× peer (c) Aedes', q1, 'peer-aedes', 1.4),
    ratioTarget('mqtt-qos1-rest ≥ 2.5× peer (a) mosquitto+bridge', q1, 'peer-mosquitto', 2.5),
  ];
  // What a pool with pipelining turned off gives, against the same egress limit (listed only when measured).
  if (rate('mqtt-qos1-unpipelined') !== null && egressRate)
    out.push(ratioTarget('variant: mqtt-qos1-unpipelined ≥ 0.75× egress limit', 'mqtt-qos1-unpipelined', 'egress', 0.75));
  const q1r = results['mqtt-qos1-rest'];
  out.push(
    q1r
      ? { what: 'mqtt-qos1-rest: zero loss (every phase, every run)', measured: `${q1r.summary.lostTotal} lost`, met: q1r.summary.lostTotal === 0 }
      : { what: 'mqtt-qos1-rest: zero loss', measured: 'missing result', met: null },
  );
  const l4k = q1r?.summary?.latency?.at4000;
  out.push(
    l4k?.backendP99?.median != null
      ? { what: 'at 4,000 msg/s offered, publish→back-end p99 ≤ 2 ms', measured: `${fmtN(l4k.backendP99.median, 2)} ms`, met: l4k.backendP99.median <= 2 }
      : { what: 'at 4,000 msg/s offered, publish→back-end p99 ≤ 2 ms', measured: 'missing result', met: null },
  );
  const l50 = q1r?.summary?.latency?.at50;
  out.push(
    l50?.backendP99?.median != null
      ? {
          what: 'at 50% of the sustained rate, p99 ≤ 5 ms',
          measured: `b-e ${fmtN(l50.backendP99.median, 2)} ms, ack ${fmtN(l50.ackP99?.median, 2)} ms`,
          met: Math.max(l50.backendP99.median, l50.ackP99?.median ?? 0) <= 5,
        }
      : { what: 'at 50% of the sustained rate, p99 ≤ 5 ms', measured: 'missing result', met: null },
  );
  out.push(ratioTarget('with batching ≥ 2× egress limit', 'mqtt-qos1-batch', 'egress', 2));
  if (rate('mqtt-qos1-batch-inline') !== null && egressRate)
    out.push(ratioTarget('variant: mqtt-qos1-batch-inline (scripts.threads 0) ≥ 2× egress limit', 'mqtt-qos1-batch-inline', 'egress', 2));
  const kib = results.connections?.summary?.thinggate?.rssPerConnectionKiB?.median;
  const n = results.connections?.summary?.thinggate?.connections?.median;
  out.push(
    kib != null
      ? { what: 'idle connection ≤ 16 KiB RSS', measured: `${fmtN(kib, 1)} KiB (${fmtN(n)} connections)`, met: kib <= 16 }
      : { what: 'idle connection ≤ 16 KiB RSS', measured: 'missing result', met: null },
  );
  return out;
}

const ORDER = [
  'egress-limit',
  'mqtt-qos1-rest',
  'mqtt-qos0-rest',
  'mqtt-qos2-rest',
  'mqtt-qos1-batch',
  'mqtt-qos1-batch-inline',
  'egress-limit-pipelined',
  'mqtt-qos1-unpipelined',
  'coap-con-rest',
  'amqp-rest',
  'peer-mosquitto',
  'peer-node-red',
  'peer-aedes',
];
function order(a, b) {
  return ((ORDER.indexOf(a.scenario) + 100) % 100) - ((ORDER.indexOf(b.scenario) + 100) % 100);
}
function minDate(envs) {
  return (
    envs
      .map((e) => e.date)
      .sort()[0]
      ?.slice(0, 16)
      .replace('T', ' ') + ' UTC'
  );
}
function maxDate(envs) {
  return (
    envs
      .map((e) => e.date)
      .sort()
      .at(-1)
      ?.slice(0, 16)
      .replace('T', ' ') + ' UTC'
  );
}
