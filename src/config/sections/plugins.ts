/** Schema and types of the `plugins` section: trusted in-process modules that register listeners, codecs, strategies and authenticators. */

export interface PluginConfig {
  /** A path relative to the configuration file (starting with `.` or `/`), or a package name. */
  readonly use: string;
  /** Handed to the plugin's `setup`; validated against the plugin's own `optionsSchema`. */
  readonly options: Readonly<Record<string, unknown>>;
}

export const pluginsSchema = {
  type: 'array',
  default: [],
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['use'],
    properties: {
      use: { type: 'string', minLength: 1, description: 'path relative to the configuration file, or a package name' },
      options: { type: 'object', default: {} },
    },
  },
} as const;
