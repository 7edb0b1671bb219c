/** Schema and types of the `scripts` section: limits applied to every routing script. */
export interface ScriptsConfig {
  readonly memoryMb: number;
  readonly timeoutMs: number;
}

export const scriptsSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    memoryMb: { type: 'integer', minimum: 8, maximum: 4096, default: 32 },
    timeoutMs: { type: 'integer', minimum: 1, maximum: 60000, default: 50 },
  },
} as const;
