/** Coap-specific listener options (`listeners[].coap`). */
export interface CoapListenerOptions {
  readonly [option: string]: unknown;
}

export const coapOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {},
} as const;
