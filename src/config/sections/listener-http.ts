/** Http-specific listener options (`listeners[].http`). */
export interface HttpListenerOptions {
  readonly [option: string]: unknown;
}

export const httpOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {},
} as const;
