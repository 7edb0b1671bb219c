/**
 * `thinggate script test SCRIPT --messages FILE`, run as a real process from
 * dist/ (npm test builds first).
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ScriptDir } from '../unit/scripting/support.js';

const CLI = join(import.meta.dirname, '../../dist/cli.js');
const EXAMPLES = join(import.meta.dirname, '../../scripts-examples');

function run(args: string[]) {
  return spawnSync(process.execPath, ['--no-node-snapshot', CLI, ...args], { encoding: 'utf8', timeout: 20_000 });
}

describe('thinggate script test', () => {
  it('prints each decision of an example and exits 0', () => {
    const r = run(['script', 'test', join(EXAMPLES, 'topic-to-rest/script.js'), '--messages', join(EXAMPLES, 'topic-to-rest/messages.yaml')]);
    expect(r.stdout).toContain(
      '#1 telemetry/plant-7/pump-3/pressure (client pump-3)\n  route {"pool":"ingest","method":"PUT","path":"/sites/plant-7/devices/pump-3/metrics/pressure"}',
    );
    expect(r.stdout).toContain('#3 misc/other');
    expect(r.stdout).toContain(`  reject {"reason":"no mapping for 'misc/other'","code":404}`);
    expect(r.stdout).toContain('3 sample(s), 0 script error(s)');
    expect(r.status).toBe(0);
  });

  it('shows onResponse and admissions, and --json prints one object per sample', () => {
    const r = run(['script', 'test', join(EXAMPLES, 'admission/script.js'), '--messages', join(EXAMPLES, 'admission/messages.yaml'), '--json']);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(6);
    expect(lines[0]).toEqual({
      connect: 'acme-0001',
      admission: { ok: true, identity: { principal: 'acme-0001', method: 'script', attributes: { tenant: 'acme', serial: '0001' } } },
    });
    expect(lines[1]).toMatchObject({ admission: { ok: false, status: 401 } });
    expect(r.status).toBe(0);
    const inquiry = run(['script', 'test', join(EXAMPLES, 'inquiry/script.js'), '--messages', join(EXAMPLES, 'inquiry/messages.yaml')]);
    expect(inquiry.stdout).toMatch(/^ {2}onResponse → \{"payload":".*0\.31.*","status":200,"contentType":"application\/json"\}$/m);
    expect(inquiry.status).toBe(0);
  });

  it('exits 1 when the script fails on a message, naming the code and line', () => {
    const dir = new ScriptDir();
    try {
      dir.write('s.js', "export function onMessage(msg) {\n  if (msg.text() === 'bad') throw new Error('boom');\n  return drop();\n}\n");
      dir.write(
        'm.json',
        JSON.stringify([
          { address: 'a', text: 'ok' },
          { address: 'b', text: 'bad' },
          { address: 'c', base64: 'AAE=' },
        ]),
      );
      const r = run(['script', 'test', join(dir.path, 's.js'), '--messages', join(dir.path, 'm.json')]);
      expect(r.stdout).toContain('#2 b (client sample-device)\n  ERROR TG_ERR_SCRIPT_THREW: onMessage threw Error: boom (s.js:2)');
      expect(r.stdout).toContain('3 sample(s), 1 script error(s)');
      expect(r.status).toBe(1);
    } finally {
      dir.remove();
    }
  });

  it('exits 1 when the script does not compile, and 2 on a usage error', () => {
    const dir = new ScriptDir();
    try {
      dir.write('broken.js', 'export function onMessage( {');
      dir.write('m.yaml', '- address: a\n');
      const r = run(['script', 'test', join(dir.path, 'broken.js'), '--messages', join(dir.path, 'm.yaml')]);
      expect(r.stderr).toMatch(/does not compile/);
      expect(r.status).toBe(1);
      expect(run(['script', 'test', join(dir.path, 'broken.js')]).status).toBe(2);
    } finally {
      dir.remove();
    }
  });
});
