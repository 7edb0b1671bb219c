/**
 * CoAP-specific listener options (`listeners[].coap`). Defaults follow the
 * transmission parameters of RFC 7252 §4.8; `COAP_DEFAULTS` is the one
 * defaults object, used both by the schema and when the section is absent.
 */
export interface CoapListenerOptions {
  /** ACK_TIMEOUT (RFC 7252 §4.8): initial retransmission timeout of CON messages thinggate sends. */
  readonly ackTimeoutMs: number;
  /** ACK_RANDOM_FACTOR (RFC 7252 §4.8). */
  readonly ackRandomFactor: number;
  /** MAX_RETRANSMIT (RFC 7252 §4.8). */
  readonly maxRetransmit: number;
  /** A CON request still unanswered after this long gets an empty ACK; the response follows as a separate CON (RFC 7252 §5.2.2). */
  readonly separateResponseAfterMs: number;
  /** How long a request's message id is remembered for deduplication (EXCHANGE_LIFETIME, RFC 7252 §4.8.2). */
  readonly exchangeLifetimeMs: number;
  /** Exchanges remembered at most (oldest forgotten first); bounds memory under floods. */
  readonly maxExchanges: number;
  /** Block size (bytes, power of two 16..1024) used for Block2 replies when the client states none (RFC 7959 §2.2). */
  readonly blockSize: number;
  /** How long an unfinished Block1 upload or an unread Block2 reply is kept. */
  readonly blockTransferTimeoutMs: number;
  /** Requests per second one source address (whatever its ports) may send; 0 disables the limit. */
  readonly requestsPerSecond: number;
  /** Token-bucket burst for `requestsPerSecond`. */
  readonly burst: number;
  /** IPv6 sources whose addresses share this many leading bits count as one source for `requestsPerSecond`. */
  readonly rateLimitIpv6Prefix: number;
  /**
   * Largest response to an unverified source, as a multiple of the request's
   * size (RFC 9175 §2.4, RFC 7252 §11.3); 0 disables the cap.
   */
  readonly amplificationFactor: number;
  /** Observe (RFC 7641) registrations accepted; false answers GET+Observe as a plain GET. */
  readonly observe: boolean;
  /** Observations one source may hold. */
  readonly maxObservationsPerSource: number;
  /** Notifications queued per observation while a CON notification awaits its ACK. */
  readonly notificationQueue: number;
  /** How long an idle source (no request, no observation) is remembered. */
  readonly peerIdleMs: number;
  /**
   * SO_RCVBUF of the listener's UDP socket, in bytes; 0 keeps the system
   * default. Every device shares this one socket: a burst larger than the
   * buffer while the event loop is busy is dropped by the kernel.
   */
  readonly receiveBufferBytes: number;
}

export const COAP_DEFAULTS: CoapListenerOptions = Object.freeze({
  ackTimeoutMs: 2000,
  ackRandomFactor: 1.5,
  maxRetransmit: 4,
  separateResponseAfterMs: 1000,
  exchangeLifetimeMs: 247_000,
  maxExchanges: 100_000,
  blockSize: 1024,
  blockTransferTimeoutMs: 60_000,
  requestsPerSecond: 100,
  burst: 200,
  rateLimitIpv6Prefix: 64,
  amplificationFactor: 3,
  observe: true,
  maxObservationsPerSource: 64,
  notificationQueue: 16,
  peerIdleMs: 300_000,
  receiveBufferBytes: 4 * 1024 * 1024,
});

export const coapOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ackTimeoutMs: { type: 'integer', minimum: 10, maximum: 60000, default: COAP_DEFAULTS.ackTimeoutMs },
    ackRandomFactor: { type: 'number', minimum: 1, maximum: 4, default: COAP_DEFAULTS.ackRandomFactor },
    maxRetransmit: { type: 'integer', minimum: 0, maximum: 20, default: COAP_DEFAULTS.maxRetransmit },
    separateResponseAfterMs: { type: 'integer', minimum: 0, maximum: 60000, default: COAP_DEFAULTS.separateResponseAfterMs },
    exchangeLifetimeMs: { type: 'integer', minimum: 1000, maximum: 3600000, default: COAP_DEFAULTS.exchangeLifetimeMs },
    maxExchanges: { type: 'integer', minimum: 16, default: COAP_DEFAULTS.maxExchanges },
    blockSize: { enum: [16, 32, 64, 128, 256, 512, 1024], default: COAP_DEFAULTS.blockSize },
    blockTransferTimeoutMs: { type: 'integer', minimum: 100, maximum: 3600000, default: COAP_DEFAULTS.blockTransferTimeoutMs },
    requestsPerSecond: { type: 'number', minimum: 0, default: COAP_DEFAULTS.requestsPerSecond },
    burst: { type: 'integer', minimum: 1, default: COAP_DEFAULTS.burst },
    rateLimitIpv6Prefix: { type: 'integer', minimum: 1, maximum: 128, default: COAP_DEFAULTS.rateLimitIpv6Prefix },
    amplificationFactor: { type: 'number', minimum: 0, maximum: 100, default: COAP_DEFAULTS.amplificationFactor },
    observe: { type: 'boolean', default: COAP_DEFAULTS.observe },
    maxObservationsPerSource: { type: 'integer', minimum: 1, maximum: 65535, default: COAP_DEFAULTS.maxObservationsPerSource },
    notificationQueue: { type: 'integer', minimum: 1, maximum: 65535, default: COAP_DEFAULTS.notificationQueue },
    peerIdleMs: { type: 'integer', minimum: 1000, default: COAP_DEFAULTS.peerIdleMs },
    receiveBufferBytes: { type: 'integer', minimum: 0, maximum: 1073741824, default: COAP_DEFAULTS.receiveBufferBytes },
  },
} as const;
