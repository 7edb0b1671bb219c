/**
 * Loading plugins from the configuration: the contributions join the schema
 * and the registries; every way a plugin can be wrong is a configuration
 * problem naming the plugin and its path.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { parseConfigWithPlugins } from '../../../src/plugins/load.js';
import { pluginConfigProblems } from '../../helpers/plugin-config.js';
import { builtinRegistries } from '../../../src/plugins/builtins.js';
import { BUILTIN_CATALOG } from '../../../src/config/catalog.js';

const fixtures = join(import.meta.dirname, '../../fixtures/plugins');

const base = (extra: Record<string, unknown> = {}) => ({
  listeners: [{ name: 'mqtt', protocol: 'mqtt', port: 0 }],
  pools: [{ name: 'p', endpoints: [{ url: 'http://127.0.0.1:8080' }] }],
  routes: [{ match: { address: '#' }, pool: 'p' }],
  ...extra,
});

const problemsOf = (raw: unknown) => pluginConfigProblems(raw, fixtures);

describe('plugin loading', () => {
  it('registers every contribution of a plugin and lists it with its version', async () => {
    const { config, registries } = await parseConfigWithPlugins(
      base({
        plugins: [{ use: './with-options.mjs', options: { prefix: 'demo' } }],
        listeners: [{ name: 'lines', protocol: 'demo-lines', port: 0, 'demo-lines': {} }],
        pools: [{ name: 'p', strategy: 'demo-first', endpoints: [{ url: 'http://127.0.0.1:8080' }] }],
        routes: [
          {
            match: { address: '#', protocol: 'demo-lines' },
            pool: 'p',
            decode: { type: 'application/x-demo', upper: true },
            request: { encode: 'application/json' },
          },
        ],
      }),
      { source: 'gw.yaml', baseDir: fixtures, env: {} },
    );
    expect(registries.plugins()).toEqual([
      {
        name: 'sample',
        version: '1.2.3',
        use: './with-options.mjs',
        contributions: { listeners: ['demo-lines'], codecs: ['application/x-demo'], strategies: ['demo-first'], authenticators: ['demo-token'] },
      },
    ]);
    // The listener's options were validated and defaulted like a built-in section.
    expect((config.listeners[0] as unknown as Record<string, unknown>)['demo-lines']).toEqual({ topic: 'lines' });
    expect(registries.authenticators.get('demo-token')).toBeDefined();
  });

  it('reports a path that does not load', async () => {
    const [p] = await problemsOf(base({ plugins: [{ use: './missing.mjs' }] }));
    expect(p).toMatch(/^gw\.yaml: \/plugins\/0\/use: cannot load plugin '\.\/missing\.mjs': /);
  });

  it('reports a package that is not installed', async () => {
    const [p] = await problemsOf(base({ plugins: [{ use: 'thinggate-plugin-that-does-not-exist' }] }));
    expect(p).toMatch(/^gw\.yaml: \/plugins\/0\/use: cannot load plugin 'thinggate-plugin-that-does-not-exist'/);
  });

  it('reports a module that is not a plugin, and an API version it does not implement', async () => {
    const problems = await problemsOf(base({ plugins: [{ use: './not-a-plugin.mjs' }, { use: './future-api.mjs' }] }));
    expect(problems).toEqual([
      "gw.yaml: /plugins/0/use: './not-a-plugin.mjs' is not a thinggate plugin (expected a default export { name, apiVersion, setup })",
      "gw.yaml: /plugins/1/use: plugin 'future' (./future-api.mjs) needs plugin API version 99; this thinggate implements 1",
    ]);
  });

  it('reports options the plugin schema refuses, at their path and naming the plugin', async () => {
    const problems = await problemsOf(base({ plugins: [{ use: './with-options.mjs', options: { prefix: '', colour: 'red' } }] }));
    expect(problems).toContain(
      "gw.yaml: /plugins/0/options: unknown key 'colour' (expected one of: prefix, factor) (options of plugin 'sample' (./with-options.mjs))",
    );
    expect(problems).toContain("gw.yaml: /plugins/0/options/prefix: must NOT have fewer than 1 characters (options of plugin 'sample' (./with-options.mjs))");
  });

  it('reports a throwing setup', async () => {
    expect(await problemsOf(base({ plugins: [{ use: './throws-in-setup.mjs' }] }))).toEqual([
      "gw.yaml: /plugins/0: plugin 'throws' (./throws-in-setup.mjs) failed in setup: no licence key",
    ]);
  });

  it('reports a name registered twice, naming both owners', async () => {
    expect(await problemsOf(base({ plugins: [{ use: './duplicate-listener.mjs' }] }))).toEqual([
      "gw.yaml: /plugins/0: plugin 'dup' (./duplicate-listener.mjs): listener 'mqtt' is already registered by a built-in",
    ]);
    const twice = await problemsOf(
      base({
        plugins: [
          { use: './with-options.mjs', options: { prefix: 'a' } },
          { use: './with-options.mjs', options: { prefix: 'b' } },
        ],
      }),
    );
    expect(twice).toEqual(["gw.yaml: /plugins/1/use: plugin 'sample' (./with-options.mjs): a plugin named 'sample' is already configured"]);
  });

  it("validates a plugin listener's options like a built-in section, naming the plugin", async () => {
    const problems = await problemsOf(
      base({
        plugins: [{ use: './with-options.mjs', options: { prefix: 'demo' } }],
        listeners: [{ name: 'lines', protocol: 'demo-lines', port: 0, 'demo-lines': { topic: 7 } }],
      }),
    );
    expect(problems).toEqual(["gw.yaml: /listeners/0/demo-lines/topic: must be of type string (options of listener 'demo-lines' from plugin 'sample')"]);
  });

  it('checks codec references and their options against the codec registry', async () => {
    const problems = await problemsOf(
      base({
        plugins: [{ use: './with-options.mjs', options: { prefix: 'demo' } }],
        routes: [
          { match: { address: 'a' }, pool: 'p', decode: 'application/cbor' },
          { match: { address: 'b' }, pool: 'p', decode: { type: 'application/x-demo', lower: true } },
          { match: { address: 'c' }, pool: 'p', request: { encode: { type: 'application/json', pretty: true } } },
        ],
      }),
    );
    expect(problems).toEqual([
      "gw.yaml: /routes/0/decode: no codec for 'application/cbor' (registered: application/json, text/plain, application/octet-stream, application/x-demo)",
      "gw.yaml: /routes/1/decode: unknown key 'lower' (expected one of: upper) (codec 'application/x-demo' from plugin 'sample')",
      "gw.yaml: /routes/2/request/encode: codec 'application/json' takes no options",
    ]);
  });

  it('refuses a protocol, strategy or route protocol no registration provides', async () => {
    const problems = await problemsOf(
      base({
        listeners: [{ name: 'x', protocol: 'framed-tcp', port: 0 }],
        pools: [{ name: 'p', strategy: 'random', endpoints: [{ url: 'http://127.0.0.1:8080' }] }],
      }),
    );
    expect(problems).toContain('gw.yaml: /listeners/0/protocol: must be one of "mqtt", "mqtt-ws", "coap", "amqp", "http"');
    expect(problems).toContain('gw.yaml: /pools/0/strategy: must be one of "round-robin", "weighted", "least-outstanding", "consistent-hash", "p2c-ewma"');
  });
});

describe('built-in registrations', () => {
  it('agree with the built-in catalog the configuration schema uses without plugins', () => {
    const catalog = builtinRegistries().catalog();
    const strip = (c: typeof BUILTIN_CATALOG) => ({ listeners: c.listeners, strategies: c.strategies, codecs: c.codecs, authenticators: c.authenticators });
    expect(strip(catalog)).toEqual(strip(BUILTIN_CATALOG));
  });
});
