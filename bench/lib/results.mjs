/**
 * Results: one JSON file per scenario (`bench/results/<scenario>.json`) and
 * the suite's part of `bench/RESULTS.md` (the summary table, the targets and
 * the `## suite` section), rewritten between its own markers only, so other
 * sections of that file are left as they are.
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { existsSync, readFileSync, readdirSync, writeFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mmm } from './stats.mjs';

export const BENCH_DIR = fileURLToPath(new URL('../', import.meta.url));
export const RESULTS_DIR = join(BENCH_DIR, 'results');
export const RESULTS_MD = join(BENCH_DIR, 'RESULTS.md');

/** Commit, Node version, CPU count and time of this run. */
export function environment() {
  let commit = 'unknown';
  let dirty = false;
  try {
    const cwd = join(BENCH_DIR, '..');
    commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
    dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd, encoding: 'utf8' }).trim().length > 0;
  } catch {
    // not a git checkout
  }
  const c = cpus();
  const dist = process.env.THINGGATE_BENCH_DIST ?? 'dist';
  const cli = join(BENCH_DIR, '..', dist, 'cli.js');
  const builtAt = existsSync(cli) ? statSync(cli).mtime.toISOString() : null;
  return {
    commit,
    srcDirty: dirty,
    build: { dir: dist, builtAt },
    node: process.version,
    cpus: c.length,
    cpuModel: c[0]?.model ?? 'unknown',
    date: new Date().toISOString(),
  };
}

/** Median/min/max of the key numbers of a throughput scenario's runs. */
export function summarizeThroughput(runs) {
  const pick = (f) => mmm(runs.map(f));
  const lat = (key, side, q) => pick((r) => r.latency[key]?.[side]?.[q]);
  const summary = {
    sustainedRate: pick((r) => r.sustainedRate),
    saturationRate: pick((r) => r.saturationRate),
    saturationAcked: pick((r) => (r.saturation?.ackLatencyMs ? r.saturation.ackRate : null)),
    saturationDelivered: pick((r) => r.saturation?.deliveredRate),
    saturationLost: pick((r) => r.saturation?.lost),
    lostTotal: runs.reduce(
      (a, r) =>
        a + (r.saturation?.lost ?? 0) + r.steps.reduce((b, s) => b + (s.lost ?? 0), 0) + Object.values(r.latency).reduce((b, l) => b + (l.lost ?? 0), 0),
      0,
    ),
    saturationTargetCpu: pick((r) => r.saturation?.targetCpu),
    saturationGeneratorCpu: pick((r) => r.saturation?.generatorCpu),
    saturationBackendCpu: pick((r) => r.saturation?.backendCpu),
    latency: {},
  };
  const keys = new Set(runs.flatMap((r) => Object.keys(r.latency)));
  for (const key of keys) {
    summary.latency[key] = {
      offeredRate: pick((r) => r.latency[key]?.offeredRate),
      ackP50: lat(key, 'ackMs', 'p50'),
      ackP99: lat(key, 'ackMs', 'p99'),
      backendP50: lat(key, 'backendMs', 'p50'),
      backendP99: lat(key, 'backendMs', 'p99'),
      lost: pick((r) => r.latency[key]?.lost),
      sustainedRuns: runs.filter((r) => r.latency[key]?.sustained).length,
    };
  }
  return summary;
}

export function summarizeConnections(runs) {
  const targets = new Set(runs.flatMap((r) => Object.keys(r)));
  const out = {};
  for (const t of targets) {
    out[t] = {
      connections: mmm(runs.map((r) => r[t]?.connections)),
      connectionsPerSecond: mmm(runs.map((r) => r[t]?.connectionsPerSecond)),
      rssPerConnectionKiB: mmm(runs.map((r) => r[t]?.rssPerConnectionKiB)),
    };
  }
  return out;
}

export function writeScenarioResult(record, dir = RESULTS_DIR) {
  const file = join(dir, `${record.scenario}.json`);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  return file;
}

export function loadResults(dir = RESULTS_DIR) {
  if (!existsSync(dir)) return {};
  const out = {};
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.json')) continue;
    try {
      const r = JSON.parse(readFileSync(join(dir, f), 'utf8'));
      if (typeof r.scenario === 'string' && r.summary) out[r.scenario] = r;
    } catch {
      // a half-written file from an interrupted run: ignore it
    }
  }
  return out;
}

/**
 * Rewrites one generated block of RESULTS.md, the text between
 * `<!-- NAME:begin … -->` and `<!-- NAME:end -->`; everything outside the
 * markers (hand-written notes) stays. A block not there yet goes under the
 * file's title (`at: 'top'`) or at its end.
 */
export function writeMarkedBlock(name, writer, block, { file = RESULTS_MD, at = 'end' } = {}) {
  const begin = `<!-- ${name}:begin (written by ${writer}; edit outside these markers) -->`;
  const end = `<!-- ${name}:end -->`;
  const wrapped = `${begin}\n${block.trim()}\n${end}`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# thinggate benchmark results\n';
  const b = text.indexOf(`<!-- ${name}:begin`);
  const e = text.indexOf(end);
  if (b >= 0 && e > b) text = `${text.slice(0, b)}${wrapped}${text.slice(e + end.length)}`;
  else if (at === 'top') {
    const nl = text.startsWith('# ') ? text.indexOf('\n') + 1 : 0;
    text = `${text.slice(0, nl)}\n${wrapped}\n\n${text.slice(nl).replace(/^\n+/, '')}`;
  } else {
    text = `${text.replace(/\n*$/, '\n\n')}${wrapped}\n`;
  }
  writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
}

/** Replaces the suite's block in RESULTS.md (creating the file or the block if needed). */
export function writeResultsMd(block, file = RESULTS_MD) {
  writeMarkedBlock('bench-suite', 'bench/run.mjs', block, { file, at: 'top' });
}
