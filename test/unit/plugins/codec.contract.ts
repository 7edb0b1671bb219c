/**
 * The contract every codec passes (built-in or plugin): values round-trip,
 * the codec answers to the media type it is registered under, encoding gives
 * bytes, and bytes that are not a value of the media type throw — they never
 * come back as a value, and never crash the caller.
 */
import { expect, it } from 'vitest';
import type { CodecContribution, Plugin, PluginApi } from '../../../src/plugins/api.js';
import { mediaTypeKey } from '../../../src/envelope/codec.js';

export interface CodecSamples {
  /** Options for `create` (a route's codec options). */
  readonly options?: Readonly<Record<string, unknown>>;
  /** Values the media type carries; each must round-trip to an equal value. */
  readonly values: readonly unknown[];
  /** Byte strings that are not a value of the media type (empty for codecs that accept any bytes). */
  readonly invalid: readonly Uint8Array[];
}

export function codecContract(contribution: CodecContribution, samples: CodecSamples, baseDir = process.cwd()): void {
  const codec = () => contribution.create(samples.options ?? {}, { baseDir });

  it('answers to the media type it is registered under', () => {
    expect(mediaTypeKey(codec().contentType)).toBe(mediaTypeKey(contribution.name));
  });

  it('round-trips every sample value through bytes', () => {
    const c = codec();
    for (const v of samples.values) {
      const bytes = c.encode(v);
      expect(bytes).toBeInstanceOf(Uint8Array);
      expect(c.decode(bytes)).toEqual(v);
    }
  });

  it('decodes without changing the bytes it was given', () => {
    const c = codec();
    for (const v of samples.values) {
      const bytes = Uint8Array.from(c.encode(v));
      const copy = Uint8Array.from(bytes);
      c.decode(bytes);
      expect(Buffer.from(bytes).equals(Buffer.from(copy))).toBe(true);
    }
  });

  it('throws on bytes that are not a value of its media type', () => {
    const c = codec();
    for (const bad of samples.invalid) expect(() => c.decode(bad)).toThrow();
  });
}

/** The codec a plugin registers in its setup (a codec plugin registers one). */
export function codecOf(plugin: Plugin): CodecContribution {
  let c: CodecContribution | undefined;
  void plugin.setup({ registerCodec: (x: CodecContribution) => (c = x) } as unknown as PluginApi, {});
  if (!c) throw new Error(`plugin '${plugin.name}' registered no codec`);
  return c;
}
