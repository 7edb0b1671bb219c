/**
 * Runs an example's script against its messages.yaml (as
 * `thinggate script test` does) and returns, per sample, its decisions with
 * bytes shown as text, or its error, or its admission.
 */
import { join } from 'node:path';
import { dryRun, loadSamples, type DryRunResult } from '../src/scripting/dry-run.js';
import { printable } from '../src/scripting/printable.js';

export async function runResults(dir: string, options: Parameters<typeof dryRun>[2] = {}): Promise<DryRunResult[]> {
  return dryRun(join(dir, 'script.js'), loadSamples(join(dir, 'messages.yaml')), options);
}

export async function runExample(dir: string, options: Parameters<typeof dryRun>[2] = {}): Promise<unknown[]> {
  return (await runResults(dir, options)).map((r) => {
    if (r.kind === 'connect') return r.admission;
    if (!r.ok) return { error: r.code, reason: r.reason };
    return printable(r.reply !== undefined ? { decisions: r.decisions, reply: r.reply } : r.decisions);
  });
}
