/** The configuration problems of a document with plugins (loaded from `baseDir`); throws when it is accepted. */
import { expect } from 'vitest';
import { parseConfigWithPlugins } from '../../src/plugins/load.js';
import { ConfigError } from '../../src/errors.js';

export async function pluginConfigProblems(raw: unknown, baseDir: string): Promise<string[]> {
  try {
    await parseConfigWithPlugins(raw, { source: 'gw.yaml', baseDir, env: {} });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error('configuration was accepted');
}
