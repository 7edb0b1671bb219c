/**
 * A command line that tells the truth: version and help, `check` reporting
 * every problem (TLS files and scripts included), `start` failing cleanly.
 * Runs dist/cli.js (npm test builds first).
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CLI = join(import.meta.dirname, '../../dist/cli.js');
const VERSION = (JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }).version;

function run(args: string[]) {
  return spawnSync(process.execPath, ['--no-node-snapshot', CLI, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, THINGGATE_LOG_FORMAT: 'json' },
  });
}

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tg-cli-op-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('thinggate CLI for operators', () => {
  it('prints its version and help on every command', () => {
    const v = run(['--version']);
    expect(v.status).toBe(0);
    expect(v.stdout.trim()).toBe(`thinggate ${VERSION}`);
    for (const cmd of ['start', 'check', 'schema', 'script']) {
      const h = run([cmd, '--help']);
      expect(h.status, cmd).toBe(0);
      expect(h.stdout, cmd).toMatch(new RegExp(`^usage: thinggate ${cmd}`));
    }
    expect(run(['help']).stdout).toContain('thinggate --version');
    // Six processes, one after another: on a loaded 2-core machine each start can take seconds.
  }, 120_000);

  it('check: reports an unreadable TLS file and a script that does not compile in one run', () => {
    const dir = folder({
      'gw.yaml': [
        'listeners: [{ name: secure, protocol: mqtt, port: 0, tls: { cert: missing.crt, key: missing.key } }]',
        'pools: [{ name: p, endpoints: [{ url: "http://127.0.0.1:1" }] }]',
        'routes: [{ match: { address: "#" }, script: broken.js, pool: p }]',
        '',
      ].join('\n'),
      'broken.js': 'export function onMessage( {\n',
    });
    const r = run(['check', '-c', join(dir, 'gw.yaml')]);
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/gw\.yaml: \/listeners\/0\/tls: .*missing\.crt/);
    expect(lines[1]).toMatch(/gw\.yaml: \/routes\/0\/script: .*broken\.js/);
  });

  it('start: an invalid file exits 2 printing each problem once, with no stack trace and no "stopped"', () => {
    const dir = folder({ 'gw.yaml': 'listeners: [{ name: m, protocol: mqtt }]\npools: []\nroutes: [{ match: { address: "#" }, pool: nope }]\n' });
    const r = run(['start', '-c', join(dir, 'gw.yaml')]);
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines.filter((l) => l.includes('/listeners/0/port: is required'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes("/routes/0/pool: no pool named 'nope'"))).toHaveLength(1);
    expect(r.stderr + r.stdout).not.toMatch(/\n\s+at /);
    expect(r.stdout).not.toContain('stopped');
  });

  it('start: a listener that cannot start is reported once, without "stopped" first and without a stack', () => {
    const dir = folder({
      'gw.yaml':
        'listeners: [{ name: secure, protocol: mqtt, host: 127.0.0.1, port: 0, tls: { cert: missing.crt, key: missing.key } }]\npools: []\nroutes: []\n',
    });
    const r = run(['start', '-c', join(dir, 'gw.yaml')]);
    expect(r.status).toBe(1);
    const logs = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logs.map((l) => l.msg)).not.toContain('thinggate stopped');
    expect(logs.at(-1)).toMatchObject({ level: 'fatal', msg: 'thinggate could not start', code: 'TG_ERR_TLS_MATERIAL' });
    expect(r.stdout).not.toContain('"stack"');
  });
});
