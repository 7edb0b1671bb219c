/**
 * The `thinggate` command line, run as a real process from dist/ (npm test builds first).
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CLI = join(import.meta.dirname, '../../dist/cli.js');

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, ['--no-node-snapshot', CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 });
}

function file(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tg-cli-'));
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

describe('thinggate CLI', () => {
  it('check: exit 0 for a valid file', () => {
    const f = file(
      'ok.yaml',
      'listeners: [{name: m, protocol: mqtt, port: 0}]\npools: [{name: p, endpoints: [{url: "http://127.0.0.1:1"}]}]\nroutes: [{match: {address: "#"}, pool: p}]\n',
    );
    const r = run(['check', '-c', f]);
    expect(r.stdout).toContain('valid (1 listeners, 1 pools, 1 routes)');
    expect(r.status).toBe(0);
  });

  it('check: exit 2 listing every problem with file and path', () => {
    const f = file('bad.yaml', 'listeners: [{name: m, protocol: mqtt}]\npools: []\nroutes: [{match: {address: "#"}, pool: nope}]\nextra: 1\n');
    const r = run(['check', '-c', f]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${f}: /listeners/0/port: is required`);
    expect(r.stderr).toContain(`${f}: /: unknown key 'extra'`);
  });

  it('start: exit 2 on an invalid file, before binding anything', () => {
    const f = file('bad.json', '{"listeners": 3}');
    const r = run(['start', '-c', f]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('/listeners: must be of type array');
  });

  it('usage errors exit 2; schema prints the JSON Schema the build ships', () => {
    expect(run(['frobnicate']).status).toBe(2);
    expect(run(['check']).status).toBe(2);
    const r = run(['schema']);
    expect(r.status).toBe(0);
    const schema = JSON.parse(r.stdout) as { title: string; properties: Record<string, unknown> };
    expect(schema.title).toBe('thinggate configuration');
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['listeners', 'pools', 'routes']));
    expect(JSON.parse(readFileSync(join(import.meta.dirname, '../../dist/thinggate.schema.json'), 'utf8'))).toEqual(schema);
  });
});
