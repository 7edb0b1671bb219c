/** AMQP 1.0 listener options (`listeners[].amqp`). docs/amqp.md documents every key. */
export type AmqpSaslMechanism = 'PLAIN' | 'ANONYMOUS' | 'EXTERNAL';

export interface AmqpListenerOptions {
  /**
   * SASL mechanisms offered. With ANONYMOUS, clients that skip the SASL layer are also taken as anonymous.
   * EXTERNAL (RFC 4422 App. A: the TLS client certificate) is offered only to a connection with a verified
   * certificate, and is added on its own where the listener's `auth` has an `x509` step.
   */
  readonly saslMechanisms: readonly AmqpSaslMechanism[];
  /** Sessions one connection may begin (announced as channel-max + 1). */
  readonly maxSessionsPerConnection: number;
  /** Links one session may attach (announced as handle-max + 1). */
  readonly maxLinksPerSession: number;
  /** Largest message accepted, over all its transfer frames (announced as max-message-size). */
  readonly maxMessageBytes: number;
  /** Idle time-out announced in open; a silent peer is closed after twice this. 0 disables. */
  readonly idleTimeoutMs: number;
  /** How an `unavailable` outcome is settled: `released`, or `modified` with delivery-failed. */
  readonly unavailableOutcome: 'released' | 'modified';
  /** After an `unavailable` outcome, the credit it held is granted again only after this long. */
  readonly unavailableBackoffMs: number;
}

export const AMQP_DEFAULTS: AmqpListenerOptions = Object.freeze({
  saslMechanisms: Object.freeze(['PLAIN', 'ANONYMOUS'] as const),
  maxSessionsPerConnection: 16,
  maxLinksPerSession: 64,
  maxMessageBytes: 1048576,
  idleTimeoutMs: 60000,
  unavailableOutcome: 'released',
  unavailableBackoffMs: 1000,
});

export const amqpOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    saslMechanisms: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { enum: ['PLAIN', 'ANONYMOUS', 'EXTERNAL'] },
      default: ['PLAIN', 'ANONYMOUS'],
    },
    maxSessionsPerConnection: { type: 'integer', minimum: 1, maximum: 65536, default: 16 },
    maxLinksPerSession: { type: 'integer', minimum: 1, maximum: 65536, default: 64 },
    maxMessageBytes: { type: 'integer', minimum: 64, maximum: 268435455, default: 1048576 },
    idleTimeoutMs: { type: 'integer', minimum: 0, maximum: 3600000, default: 60000 },
    unavailableOutcome: { enum: ['released', 'modified'], default: 'released' },
    unavailableBackoffMs: { type: 'integer', minimum: 0, maximum: 60000, default: 1000 },
  },
} as const;
