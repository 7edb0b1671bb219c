/**
 * `thinggate script test SCRIPT --messages FILE [--config FILE] [--json]`:
 * runs a routing script against sample messages and prints each decision;
 * the script's log lines go to stderr. With `--config`, the configuration's
 * plugins are loaded and its `scripts` section applies: payloads are decoded
 * ahead of the script (`msg.decode()`) by the `decode` codec of the route
 * running this script, else by the codec their content type names. Exit 0 when every message was handled, 1 when the script failed on any (or does not
 * compile), 2 on a usage error.
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import type { Subcommand } from '../util/subcommand.js';
import { resolve } from 'node:path';
import type { DryRunOptions, DryRunResult } from './dry-run.js';
import { printable } from './printable.js';

const USAGE = 'thinggate script test SCRIPT --messages FILE [--config FILE] [--json]';

export const scriptSubcommand: Subcommand = {
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    let script: string;
    let messages: string;
    let json: boolean;
    let configFile: string | undefined;
    try {
      const { values, positionals } = parseArgs({
        args,
        options: { messages: { type: 'string', short: 'm' }, config: { type: 'string', short: 'c' }, json: { type: 'boolean', default: false } },
        allowPositionals: true,
      });
      if (positionals[0] !== 'test' || positionals.length !== 2 || values.messages === undefined) throw new Error('expected: test SCRIPT --messages FILE');
      script = positionals[1]!;
      messages = values.messages;
      json = values.json ?? false;
      configFile = values.config;
    } catch (err) {
      process.stderr.write(`thinggate script: ${(err as Error).message}\nusage: ${USAGE}\n`);
      return 2;
    }
    // The engine loads isolated-vm; only this subcommand pays for it.
    const { dryRun, loadSamples } = await import('./dry-run.js');
    let results: DryRunResult[];
    try {
      // ctx.log lines (and failure warnings) go to stderr as JSON lines; decisions to stdout.
      const logger = pino({ level: 'info', base: null }, pino.destination({ dest: 2, sync: true }));
      const fromConfig = configFile === undefined ? {} : await configOptions(configFile, script);
      results = await dryRun(script, loadSamples(messages), { logger, ...fromConfig });
    } catch (err) {
      process.stderr.write(`thinggate script: ${(err as Error).message}\n`);
      return 1;
    }
    let failed = 0;
    results.forEach((r, i) => {
      if (r.kind === 'message' && !r.ok) failed++;
      if (r.kind === 'message' && r.ok && r.reply && 'ok' in r.reply) failed++;
      if (r.kind === 'connect' && !r.admission.ok && r.admission.status === 503) failed++;
      process.stdout.write(json ? `${JSON.stringify(printable(summary(r)))}\n` : render(i + 1, r));
    });
    if (!json) process.stdout.write(`${results.length} sample(s), ${failed} script error(s)\n`);
    return failed > 0 ? 1 : 0;
  },
};

/** The configuration's `scripts` section and codecs (its plugins loaded), as the route running `script` has them. */
async function configOptions(file: string, script: string): Promise<Pick<DryRunOptions, 'scriptsConfig' | 'codecs'>> {
  const { loadConfig } = await import('../plugins/load.js');
  const { config, registries } = await loadConfig(file);
  const codecs = registries.codecResolver(config.baseDir);
  const route = config.routes.find((r) => r.script !== undefined && resolve(config.baseDir, r.script) === resolve(script));
  return { scriptsConfig: config.scripts, codecs: { codecs, ...(route?.decode !== undefined && { decoder: codecs.resolve(route.decode) }) } };
}

function summary(r: DryRunResult): Record<string, unknown> {
  if (r.kind === 'connect') return { connect: r.sample.connect.clientId, admission: r.admission };
  if (!r.ok) return { address: r.envelope.address, error: { code: r.code, reason: r.reason } };
  return { address: r.envelope.address, decisions: r.decisions, ...(r.reply !== undefined && { reply: r.reply }) };
}

function render(n: number, r: DryRunResult): string {
  const s = summary(r);
  const head = r.kind === 'connect' ? `#${n} connect ${r.sample.connect.clientId}` : `#${n} ${r.envelope.address} (client ${r.envelope.source.clientId})`;
  if (r.kind === 'connect')
    return `${head}\n  ${r.admission.ok ? 'accept' : 'reject'} ${JSON.stringify(r.admission.ok ? (r.admission.identity ?? {}) : r.admission)}\n`;
  if (!r.ok) return `${head}\n  ERROR ${r.code}: ${r.reason}\n`;
  let out = `${head}\n`;
  for (const d of r.decisions) {
    const { action, ...rest } = d;
    out += `  ${action} ${JSON.stringify(printable(rest))}\n`;
  }
  if (s.reply !== undefined) out += `  onResponse → ${JSON.stringify(printable(s.reply))}\n`;
  return out;
}
