#!/usr/bin/env node
/**
 * thinggate's performance suite.
 *
 *   npm run bench                          every scenario, 3 runs each
 *   node bench/run.mjs SCENARIO...         only these (see --list)
 *   node bench/run.mjs --smoke [SCENARIO…] a few seconds per scenario, 1 run; results not written
 *   options: --runs N, --cpu-prof DIR (profile thinggate), --connections N (connections scenario),
 *            --out DIR (results and a RESULTS.md there instead), --list, --no-write (print only),
 *            --report (rewrite the table from the results already written; runs nothing)
 *
 * Every process (back-end, generator, thinggate, peers) is a child of this
 * one, on 127.0.0.1, and is killed by PID when this process ends.
 * Prerequisites: `npm run build`, `npm --prefix bench install`, Debian's
 * mosquitto. See docs/benchmarks.md.
 */
import { parseArgs } from 'node:util';
import { mkdirSync } from 'node:fs';
import { SCENARIOS, scenarioByName } from './scenarios/index.mjs';
import { measureRun } from './lib/measure.mjs';
import { startBackend, withRig } from './lib/rig.mjs';
import { stopChild } from './lib/proc.mjs';
import { join, resolve } from 'node:path';
import {
  environment,
  loadResults,
  summarizeConnections,
  summarizeThroughput,
  writeResultsMd,
  writeScenarioResult,
  RESULTS_DIR,
  RESULTS_MD,
} from './lib/results.mjs';
import { renderSuite } from './lib/report.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    smoke: { type: 'boolean', default: false },
    runs: { type: 'string' },
    'cpu-prof': { type: 'string' },
    list: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    connections: { type: 'string' },
    out: { type: 'string' },
    report: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  process.stdout.write(
    'usage: node bench/run.mjs [--smoke] [--runs N] [--cpu-prof DIR] [--connections N] [--out DIR] [--no-write] [--list] [--report] [SCENARIO...]\n',
  );
  process.exit(0);
}
if (values.list) {
  for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(18)} ${s.description}\n`);
  process.exit(0);
}

if (values.report) {
  // After editing the profile notes, or to see the table of results gathered by several invocations.
  const dir = values.out ? resolve(values.out) : RESULTS_DIR;
  writeResultsMd(renderSuite(loadResults(dir), dir), values.out ? join(dir, 'RESULTS.md') : RESULTS_MD);
  process.exit(0);
}

const selected = positionals.length ? positionals.map((n) => scenarioByName(n) ?? fail(`unknown scenario '${n}' (see --list)`)) : SCENARIOS;
const smoke = values.smoke;
const runs = Number(values.runs ?? (smoke ? 1 : 3));
// Results go to bench/results and bench/RESULTS.md; --out DIR sends them (and a RESULTS.md) elsewhere.
// A smoke run writes only with --out: its numbers are not measurements.
const outDir = values.out ? resolve(values.out) : RESULTS_DIR;
const resultsMd = values.out ? join(outDir, 'RESULTS.md') : RESULTS_MD;
const write = !values['no-write'] && (!smoke || values.out !== undefined);
const profile = smoke ? 'smoke' : 'full';
const env = environment();
const log = (line) => process.stdout.write(`${line}\n`);

/**
 * @param {string} message
 * @returns {never}
 */
function fail(message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

log(`thinggate bench: commit ${env.commit}${env.srcDirty ? ' (src modified)' : ''}, Node ${env.node}, ${env.cpus} CPUs, ${runs} run(s), ${profile}`);
mkdirSync(outDir, { recursive: true });
let failures = 0;

for (const scenario of selected) {
  const startedAt = Date.now();
  log(`\n== ${scenario.name}: ${scenario.description}`);
  const ctx = { smoke, cpuProf: values['cpu-prof'], connections: values.connections ? Number(values.connections) : undefined };
  try {
    const record = {
      scenario: scenario.name,
      kind: scenario.kind,
      group: scenario.group,
      description: scenario.description,
      environment: env,
      mode: profile,
      runs: [],
    };
    if (ctx.cpuProf) record.cpuProfile = ctx.cpuProf;
    if (scenario.kind === 'connections') {
      const backend = await startBackend();
      try {
        for (let r = 0; r < runs; r++) {
          log(`-- run ${r + 1}/${runs}`);
          record.runs.push(await scenario.runOnce(backend, ctx, log));
        }
      } finally {
        await stopChild(backend.child);
      }
      record.summary = summarizeConnections(record.runs);
    } else {
      await withRig(
        (backend) => scenario.start(backend, ctx),
        async (rig) => {
          record.notes = rig.target.notes ?? [];
          if (rig.target.routing) record.routing = rig.target.routing;
          for (const n of record.notes) log(`   ${n}`);
          for (let r = 0; r < runs; r++) {
            log(`-- run ${r + 1}/${runs}`);
            const run = await measureRun(rig, profile, log);
            // The accepted sets are only needed for loss; keep the files small.
            record.runs.push(run);
            log(`   sustained ${run.sustainedRate}/s (saturation ${run.saturationRate}/s, lost at saturation ${run.saturation.lost})`);
          }
        },
      );
      record.summary = summarizeThroughput(record.runs);
    }
    record.elapsedSeconds = Math.round((Date.now() - startedAt) / 1000);
    record.finishedAt = new Date().toISOString();
    if (write) {
      log(`wrote ${writeScenarioResult(record, outDir)}`);
      // After every scenario, so an interrupted suite still leaves a current table.
      writeResultsMd(renderSuite(loadResults(outDir), outDir), resultsMd);
    } else log(JSON.stringify(record.summary));
  } catch (err) {
    failures++;
    log(`!! ${scenario.name} failed: ${err instanceof Error ? err.stack : String(err)}`);
  }
}

if (write) log(`\nupdated ${resultsMd}`);
process.exitCode = failures > 0 ? 1 : 0;
