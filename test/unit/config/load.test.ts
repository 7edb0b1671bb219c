import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, parseConfigText, loadConfigFile, defaultConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';

const minimal = () => ({
  listeners: [{ name: 'mqtt', protocol: 'mqtt', port: 0 }],
  pools: [{ name: 'p', endpoints: [{ url: 'http://127.0.0.1:8080' }] }],
  routes: [{ match: { address: '#' }, pool: 'p' }],
});

function problemsOf(raw: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(raw, { source: 'gw.yaml', env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('TG_ERR_CONFIG_INVALID');
    return [...(err as ConfigError).problems];
  }
  throw new Error('configuration was accepted');
}

describe('configuration loading', () => {
  it('applies defaults and freezes the result', () => {
    const c = parseConfig(minimal(), { env: {} });
    expect(c.listeners[0]!.host).toBe('0.0.0.0');
    expect(c.listeners[0]!.limits.maxPacketBytes).toBe(262144);
    expect(c.pools[0]!.strategy).toBe('round-robin');
    expect(c.pools[0]!.endpoints[0]!.weight).toBe(1);
    expect(c.routes[0]!.request).toMatchObject({ method: 'POST', path: '/messages/{address}' });
    expect(Object.isFrozen(c.pools[0]!.endpoints[0])).toBe(true);
  });

  it('names the file and JSON path of an unknown key, with the keys expected', () => {
    const raw = minimal() as Record<string, unknown>;
    (raw.pools as Array<Record<string, unknown>>)[0]!.tiemout = 5;
    const [p] = problemsOf(raw);
    expect(p).toMatch(/^gw\.yaml: \/pools\/0: unknown key 'tiemout' \(expected one of: .*timeoutMs/);
  });

  it('reports a missing required key by its path', () => {
    const raw = minimal();
    delete (raw.listeners[0] as Record<string, unknown>).port;
    expect(problemsOf(raw)).toContain('gw.yaml: /listeners/0/port: is required');
  });

  it('reports wrong types, enums, patterns, formats and ranges', () => {
    // biome-ignore lint/suspicious/noExplicitAny: the test writes wrong values into the parsed document on purpose
    const raw = minimal() as Record<string, any>;
    raw.listeners[0].port = 'eighty';
    raw.listeners[0].protocol = 'mqtts';
    raw.pools[0].endpoints[0].url = 'ftp://x';
    raw.pools[0].timeoutMs = -1;
    raw.routes[0].request = { path: 'no-slash' };
    const problems = problemsOf(raw);
    expect(problems).toContain('gw.yaml: /listeners/0/port: must be of type integer');
    expect(problems).toContain('gw.yaml: /listeners/0/protocol: must be one of "mqtt", "mqtt-ws", "coap", "amqp", "http"');
    expect(problems.some((p) => p.startsWith('gw.yaml: /pools/0/endpoints/0/url: must match the pattern'))).toBe(true);
    expect(problems).toContain('gw.yaml: /pools/0/timeoutMs: must be >= 1');
    expect(problems.some((p) => p.startsWith('gw.yaml: /routes/0/request/path: must match the pattern ^/'))).toBe(true);
    expect(problems.length).toBeGreaterThanOrEqual(5); // all at once
  });

  it('accepts proxyProtocol on TCP listeners only, with trusted balancers named by prefix', () => {
    const raw = minimal();
    raw.listeners.push(
      { name: 'c', protocol: 'coap', port: 0, proxyProtocol: { trustedFrom: ['10.0.0.0/8'] } } as never,
      { name: 'm', protocol: 'mqtt', port: 0, proxyProtocol: { trustedFrom: ['10.0.0.0/33', 'lb'] } } as never,
      { name: 'e', protocol: 'mqtt', port: 0, proxyProtocol: { trustedFrom: [] } } as never,
    );
    const problems = problemsOf(raw);
    expect(problems).toContain('gw.yaml: /listeners/1/proxyProtocol: not supported on a udp listener (the PROXY protocol is for TCP streams)');
    expect(problems.some((p) => p.startsWith('gw.yaml: /listeners/2/proxyProtocol/trustedFrom/0:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('gw.yaml: /listeners/2/proxyProtocol/trustedFrom/1:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('gw.yaml: /listeners/3/proxyProtocol/trustedFrom: name at least one'))).toBe(true);
    const ok = parseConfig(
      { ...minimal(), listeners: [{ name: 'm', protocol: 'mqtt', port: 0, proxyProtocol: { trustedFrom: ['10.0.0.0/8'] } }] },
      { source: 'gw.yaml', env: {} },
    );
    expect(ok.listeners[0]!.proxyProtocol).toEqual({ enabled: true, trustedFrom: ['10.0.0.0/8'] });
  });

  it('checks references between sections', () => {
    // biome-ignore lint/suspicious/noExplicitAny: the test writes wrong values into the parsed document on purpose
    const raw = minimal() as Record<string, any>;
    raw.routes.push({ match: { address: 'a/#', listener: 'nope' }, pool: 'missing' });
    raw.routes.push({ match: { address: 'a/#x' }, pool: 'p' });
    raw.routes.push({ match: {} });
    raw.pools.push({ name: 'p', endpoints: [{ url: 'http://127.0.0.1:1' }] });
    const problems = problemsOf(raw);
    expect(problems).toContain("gw.yaml: /routes/1/pool: no pool named 'missing' (defined: p)");
    expect(problems).toContain("gw.yaml: /routes/1/match/listener: no listener named 'nope'");
    expect(problems.some((p) => p.startsWith("gw.yaml: /routes/2/match/address: '#' must stand alone"))).toBe(true);
    expect(problems).toContain("gw.yaml: /routes/3: needs one of 'pool', 'script' or 'target'");
    expect(problems).toContain("gw.yaml: /pools/1/name: duplicate name 'p'");
  });

  it("checks a route mirror's destination and sample", () => {
    // biome-ignore lint/suspicious/noExplicitAny: the test writes wrong values into the parsed document on purpose
    const raw = minimal() as Record<string, any>;
    raw.routes.push({ match: { address: 'a/#' }, pool: raw.routes[0].pool, mirror: {} });
    raw.routes.push({ match: { address: 'b/#' }, pool: raw.routes[0].pool, mirror: { pool: 'nope', sample: '150%' } });
    raw.routes.push({ match: { address: 'c/#' }, pool: raw.routes[0].pool, mirror: { file: 't.jsonl', sample: '5%', redactFields: ['no-slash'] } });
    const problems = problemsOf(raw);
    expect(problems).toContain("gw.yaml: /routes/1/mirror: needs 'file', 'pool' or both");
    expect(problems.some((p) => p.startsWith("gw.yaml: /routes/2/mirror/pool: no pool named 'nope'"))).toBe(true);
    expect(problems.some((p) => p.startsWith('gw.yaml: /routes/2/mirror/sample'))).toBe(true);
    expect(problems.some((p) => p.startsWith('gw.yaml: /routes/3/mirror/redactFields/0'))).toBe(true);
    expect(problems.some((p) => p.startsWith('gw.yaml: /routes/3/mirror/sample'))).toBe(false);
  });

  it('checks the script bounds against each other: a decision must fit a quarter of the isolate', () => {
    const raw = { ...minimal(), scripts: { memoryMb: 8, maxDecisionBytes: 4 * 1024 * 1024, suspend: { initialMs: 5000, maxMs: 1000 } } };
    const problems = problemsOf(raw);
    expect(problems).toContain('gw.yaml: /scripts/maxDecisionBytes: must be at most a quarter of memoryMb (2097152 bytes with memoryMb 8)');
    expect(problems).toContain('gw.yaml: /scripts/suspend/maxMs: must be at least suspend.initialMs (5000)');
    const ok = parseConfig({ ...minimal(), scripts: { memoryMb: 8 } }, { source: 'gw.yaml', env: {} });
    expect(ok.scripts).toMatchObject({ maxDecisionBytes: 1048576, maxBatchDecisionBytes: 4194304, suspend: { timeouts: 3, initialMs: 1000, maxMs: 60000 } });
    expect(ok.scripts.throttle.addressFailures).toBe(50);
  });

  it('refuses unknown path placeholders and clashing ports', () => {
    // biome-ignore lint/suspicious/noExplicitAny: the test writes wrong values into the parsed document on purpose
    const raw = minimal() as Record<string, any>;
    raw.routes[0].request = { path: '/x/{topic}' };
    raw.listeners = [
      { name: 'a', protocol: 'mqtt', port: 1883, host: '127.0.0.1' },
      { name: 'b', protocol: 'mqtt-ws', port: 1883, host: '127.0.0.1' },
    ];
    const problems = problemsOf(raw);
    expect(problems.some((p) => p.includes('/routes/0/request/path: unknown placeholder {topic}'))).toBe(true);
    expect(problems).toContain('gw.yaml: /listeners/1/port: tcp port 1883 on 127.0.0.1 is already used by /listeners/0');
  });

  it('interpolates ${VAR} and ${VAR:-default} in values, and names a missing variable', () => {
    const text = `
listeners: [{ name: mqtt, protocol: mqtt, port: 0 }]
pools: [{ name: p, endpoints: [{ url: "http://\${BACKEND_HOST}:\${BACKEND_PORT:-8080}" }] }]
routes: [{ match: { address: "#" }, pool: p, request: { headers: { x-literal: "$\${NOT_A_VAR}" } } }]
`;
    const c = parseConfigText(text, { source: 'gw.yaml', env: { BACKEND_HOST: '10.1.2.3' } });
    expect(c.pools[0]!.endpoints[0]!.url).toBe('http://10.1.2.3:8080');
    expect(c.routes[0]!.request.headers['x-literal']).toBe('${NOT_A_VAR}');
    try {
      parseConfigText(text, { source: 'gw.yaml', env: {} });
      throw new Error('accepted');
    } catch (err) {
      expect((err as ConfigError).problems).toContain(
        'gw.yaml: /pools/0/endpoints/0/url: environment variable BACKEND_HOST is not set and has no default (use ${BACKEND_HOST:-default}) (line 3)',
      );
    }
  });

  it('reports YAML syntax errors and unreadable files with the file name', () => {
    expect(() => parseConfigText('listeners: [', { source: 'bad.yaml' })).toThrowError(/bad\.yaml: not valid YAML/);
    expect(() => loadConfigFile('/nonexistent/thinggate.yaml')).toThrowError(/\/nonexistent\/thinggate\.yaml: cannot read the file/);
  });

  it('loads JSON files strictly and resolves the base directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-config-'));
    const file = join(dir, 'gw.json');
    writeFileSync(file, JSON.stringify(minimal()));
    const c = loadConfigFile(file, {});
    expect(c.baseDir).toBe(dir);
    writeFileSync(file, '{ listeners: [] }');
    expect(() => loadConfigFile(file, {})).toThrowError(/gw\.json: not valid JSON/);
  });

  it('embeds a default: MQTT 1883, MQTT over WebSocket 8083, CoAP 5683, AMQP 5672, pool default on :8080', () => {
    const c = defaultConfig({});
    expect(c.listeners.map((l) => [l.protocol, l.port])).toEqual([
      ['mqtt', 1883],
      ['mqtt-ws', 8083],
      ['coap', 5683],
      ['amqp', 5672],
    ]);
    expect(c.pools[0]).toMatchObject({ name: 'default', endpoints: [{ url: 'http://127.0.0.1:8080' }] });
    expect(c.routes[0]).toMatchObject({ match: { address: '#' }, pool: 'default', request: { path: '/messages/{address}' } });
  });
});
