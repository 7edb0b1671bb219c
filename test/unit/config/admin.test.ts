/** The `admin` section: loopback by default, a token required elsewhere. */
import { describe, it, expect } from 'vitest';
import { parseConfig, parseConfigText, defaultConfig } from '../../../src/config/load.js';
import { isLoopbackHost } from '../../../src/config/sections/admin.js';
import type { ConfigError } from '../../../src/errors.js';

const base = { listeners: [], pools: [], routes: [] };

function problems(raw: unknown): readonly string[] {
  try {
    parseConfig(raw, { source: 'gw.yaml' });
    return [];
  } catch (err) {
    return (err as ConfigError).problems;
  }
}

describe('admin configuration', () => {
  it('the embedded default enables the admin server on loopback port 9090', () => {
    expect(defaultConfig().admin).toMatchObject({ enabled: true, host: '127.0.0.1', port: 9090 });
  });

  it('defaults host to 127.0.0.1', () => {
    expect(parseConfig({ ...base, admin: { port: 0 } }).admin?.host).toBe('127.0.0.1');
  });

  it('refuses a non-loopback host without a token, naming the path', () => {
    expect(problems({ ...base, admin: { host: '0.0.0.0', port: 9090 } })).toEqual([
      "gw.yaml: /admin/token: is required when /admin/host ('0.0.0.0') is not a loopback address",
    ]);
    expect(problems({ ...base, admin: { host: '0.0.0.0', port: 9090, token: 't' } })).toEqual([]);
    expect(problems({ ...base, admin: { host: '::1', port: 9090 } })).toEqual([]);
  });

  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com']) expect(isLoopbackHost(h)).toBe(false);
  });
});

describe('configuration problems a reader can act on', () => {
  it('reports schema and cross-reference problems together, each with its YAML line, and suggests near-miss keys', () => {
    const text = [
      'listeners:',
      '  - { name: m, protocol: mqtt, port: 0 }',
      'pools:',
      '  - name: p',
      '    endpoints: [{ url: "http://127.0.0.1:1" }]',
      '    tiemoutMs: 5',
      'routes:',
      '  - { match: { address: "#" }, pool: nope }',
      '',
    ].join('\n');
    let problems: readonly string[] = [];
    try {
      parseConfigText(text, { source: 'gw.yaml' });
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems).toEqual([
      expect.stringMatching(/^gw\.yaml: \/pools\/0: unknown key 'tiemoutMs' \(expected one of: name, .*\): did you mean 'timeoutMs'\? \(line 6\)$/),
      "gw.yaml: /routes/0/pool: no pool named 'nope' (defined: p) (line 8)",
    ]);
  });
});
