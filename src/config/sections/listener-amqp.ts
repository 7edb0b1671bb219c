/** Amqp-specific listener options (`listeners[].amqp`). */
export interface AmqpListenerOptions {
  readonly [option: string]: unknown;
}

export const amqpOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {},
} as const;
