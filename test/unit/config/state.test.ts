/** The `state`, `node` and `workers` sections: defaults, and the combinations refused with their paths. */
import { describe, it, expect } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
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

describe('state configuration', () => {
  it('defaults to the embedded backend, one worker and no fixed node id', () => {
    const c = parseConfig(base);
    expect(c.state).toEqual({ backend: 'embedded', keyPrefix: 'thinggate:', heartbeatMs: 2000, nodeTtlMs: 6000 });
    expect(c.workers).toBe(1);
    expect(c.node).toEqual({});
  });

  it('accepts the redis backend with a URL', () => {
    expect(problems({ ...base, state: { backend: 'redis', url: 'redis://127.0.0.1:6379' }, workers: 4 })).toEqual([]);
  });

  it('requires a URL for redis and refuses one that would have no effect', () => {
    expect(problems({ ...base, state: { backend: 'redis' } })).toEqual(["gw.yaml: /state/url: is required when /state/backend is 'redis'"]);
    expect(problems({ ...base, state: { url: 'redis://h:1' } })).toEqual(["gw.yaml: /state/url: has no effect unless /state/backend is 'redis'"]);
    expect(problems({ ...base, state: { backend: 'redis', url: 'http://h' } })[0]).toMatch(/^gw\.yaml: \/state\/url: must match the pattern/);
  });

  it('accepts durable and directory on the embedded backend and refuses them on redis, where they would have no effect', () => {
    expect(problems({ ...base, state: { durable: false, directory: 'state' } })).toEqual([]);
    expect(problems({ ...base, state: { backend: 'redis', url: 'redis://h:1', durable: true, directory: 'd' } })).toEqual([
      "gw.yaml: /state/durable: has no effect unless /state/backend is 'embedded' (Redis keeps sessions and retained messages)",
      "gw.yaml: /state/directory: has no effect unless /state/backend is 'embedded' (Redis keeps sessions and retained messages)",
    ]);
  });

  it('accepts scripts.state.shared on the redis backend and refuses it on embedded, where one node has nothing to share', () => {
    expect(problems({ ...base, state: { backend: 'redis', url: 'redis://h:1' }, scripts: { state: { shared: false } } })).toEqual([]);
    expect(problems({ ...base, scripts: { state: { shared: true } } })).toEqual([
      "gw.yaml: /scripts/state/shared: has no effect unless /state/backend is 'redis' (one node has nothing to share)",
    ]);
  });

  it('refuses several workers on the embedded backend, saying what would not be shared', () => {
    expect(problems({ ...base, workers: 2 })).toEqual([
      expect.stringMatching(/^gw\.yaml: \/workers: several workers need \/state\/backend 'redis'.*takeover, bans/),
    ]);
  });

  it('refuses a node TTL not longer than the heartbeat, and a fixed node id with several workers', () => {
    expect(problems({ ...base, state: { heartbeatMs: 5000, nodeTtlMs: 5000 } })).toEqual([
      'gw.yaml: /state/nodeTtlMs: must be longer than /state/heartbeatMs (5000)',
    ]);
    expect(problems({ ...base, state: { backend: 'redis', url: 'redis://h:1' }, workers: 2, node: { id: 'a' } })).toEqual([
      'gw.yaml: /node/id: cannot be set with /workers > 1 (each worker names itself <hostname>-<pid>-w<N>)',
    ]);
  });
});
