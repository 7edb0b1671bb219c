/**
 * `thinggate script test --config` loads the configuration's plugins, so a
 * script reading `msg.decode()` through the CBOR codec of its route runs as
 * it does in the gateway; run as a real process from dist/ (npm test builds first).
 */
import { expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const CLI = join(import.meta.dirname, '../../../dist/cli.js');
const example = join(import.meta.dirname, '../example');
const args = ['script', 'test', join(example, 'enrich.js'), '--messages', join(example, 'messages.yaml')];

function run(extra: string[]) {
  return spawnSync(process.execPath, ['--no-node-snapshot', CLI, ...args, ...extra], { encoding: 'utf8', timeout: 30_000 });
}

it("decodes CBOR samples with the codec of the configuration's route for the script", () => {
  const r = run(['--config', join(example, 'thinggate.yaml'), '--json']);
  expect(r.status).toBe(0);
  const [line] = r.stdout.trim().split('\n');
  const result = JSON.parse(line!) as { decisions: Array<{ action: string; body: string }> };
  expect(result.decisions[0]!.action).toBe('route');
  expect(JSON.parse(result.decisions[0]!.body)).toEqual({ device: 'sensor-1', temp: 21.5, unit: 'C' });
});

it('without the configuration the CBOR payload reaches msg.decode() undecoded, and the script fails', () => {
  const r = run([]);
  expect(r.stdout).toContain('ERROR TG_ERR_SCRIPT_THREW');
  expect(r.status).toBe(1);
});

it('names a configuration that does not load', () => {
  const r = run(['--config', join(example, 'missing.yaml')]);
  expect(r.stderr).toContain('missing.yaml');
  expect(r.status).toBe(1);
});
