/** `thinggate check` and `thinggate schema` with plugins configured, run as a real process from dist/. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const CLI = join(import.meta.dirname, '../../dist/cli.js');
const fixtures = join(import.meta.dirname, '../fixtures/plugins');

function run(args: string[]) {
  return spawnSync(process.execPath, ['--no-node-snapshot', CLI, ...args], { encoding: 'utf8', timeout: 20_000 });
}

/** Configuration files live beside the fixtures, so `use: ./x.mjs` is relative to them. */
function config(name: string, plugins: string): string {
  const f = join(fixtures, `${name}.generated.yaml`);
  writeFileSync(
    f,
    `plugins: ${plugins}\nlisteners: [{name: l, protocol: lines, port: 0, lines: {prefix: t}}]\npools: [{name: p, endpoints: [{url: "http://127.0.0.1:1"}]}]\nroutes: [{match: {address: "#"}, pool: p}]\n`,
  );
  return f;
}

describe('thinggate CLI with plugins', () => {
  it('check validates a plugin listener and counts the plugins', () => {
    const r = run(['check', '-c', config('ok', '[{use: ./lines.mjs}]')]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('valid (1 listeners, 1 pools, 1 routes, 1 plugins)');
    expect(r.status).toBe(0);
  });

  it('check names a plugin that throws in setup and exits 2', () => {
    const f = config('bad', '[{use: ./lines.mjs}, {use: ./throws-in-setup.mjs}]');
    const r = run(['check', '-c', f]);
    expect(r.stderr).toContain(`${f}: /plugins/1: plugin 'throws' (./throws-in-setup.mjs) failed in setup: no licence key`);
    expect(r.status).toBe(2);
  });

  it("schema -c includes the configured plugins' listener schemas and names", () => {
    const r = run(['schema', '-c', config('schema', '[{use: ./lines.mjs}]')]);
    expect(r.status).toBe(0);
    const items = JSON.parse(r.stdout).properties.listeners.items;
    expect(items.properties.protocol.enum).toContain('lines');
    expect(items.properties.lines.properties.prefix).toEqual({ type: 'string', default: 'lines' });
  });
});
