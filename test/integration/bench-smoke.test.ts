/**
 * Keeps the performance suite from rotting: `node bench/run.mjs --smoke` runs
 * mqtt-qos1-rest (back-end, generator and thinggate as separate processes)
 * for a few seconds against the built
 * dist/ (npm test builds first) and must produce well-formed results with no
 * acknowledged message lost. The numbers themselves are not checked: a smoke
 * run on a busy machine measures nothing.
 */
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');

interface Summary {
  sustainedRate: { median: number | null };
  saturationRate: { median: number | null };
  lostTotal: number;
}

function runBench(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bench/run.mjs'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

describe('bench --smoke', () => {
  it('runs mqtt-qos1-rest end to end and writes its results', async () => {
    expect(existsSync(join(ROOT, 'dist/cli.js')), 'dist/cli.js: run npm run build').toBe(true);
    const out = mkdtempSync(join(tmpdir(), 'tg-bench-smoke-'));
    try {
      const r = await runBench(['--smoke', '--out', out, 'mqtt-qos1-rest']);
      expect(r.output).not.toContain('failed:');
      expect(r.code, r.output).toBe(0);
      for (const name of ['mqtt-qos1-rest']) {
        const rec = JSON.parse(readFileSync(join(out, `${name}.json`), 'utf8')) as { scenario: string; runs: unknown[]; summary: Summary };
        expect(rec.scenario).toBe(name);
        expect(rec.runs).toHaveLength(1);
        expect(rec.summary.saturationRate.median).toBeGreaterThan(0);
        expect(rec.summary.sustainedRate.median).toBeGreaterThan(0);
        // Nothing acknowledged may be missing at the back-end, in any phase.
        expect(rec.summary.lostTotal).toBe(0);
      }
      const md = readFileSync(join(out, 'RESULTS.md'), 'utf8');
      expect(md).toContain('| mqtt-qos1-rest | 1 |');
      expect(md).toContain('mqtt-qos1-rest ≥ 0.75× egress limit');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});
