/** MQTT-specific listener options (`listeners[].mqtt`), for protocols mqtt and mqtt-ws. */
export interface MqttListenerOptions {
  /** Largest keepalive a client may ask for; larger requests get this as Server Keep Alive (v5). 0 = no cap. */
  readonly maxKeepAliveSeconds: number;
  /** Topic Alias Maximum announced to v5 clients (0 disables aliases from clients). */
  readonly topicAliasMaximum: number;
  /** Highest QoS accepted (v5 Maximum QoS). */
  readonly maximumQos: 0 | 1 | 2;
  /** Path of the WebSocket endpoint (mqtt-ws only). */
  readonly wsPath: string;
  /**
   * What a v3.1.1 QoS 1/2 PUBLISH the ACL denies gets (3.1.1 has no negative acknowledgement):
   * `drop` acknowledges and discards it, `close` closes the connection without acknowledging.
   */
  readonly deniedPublishV3: 'drop' | 'close';
  /**
   * Retained messages (v5 Retain Available): a retained PUBLISH reaching a
   * `target: devices` route is kept for later subscribers. Off: v5 clients
   * get 0x9A for a retained PUBLISH, v3.1.1 clients' retain flag is ignored,
   * and no retained message is sent on SUBSCRIBE.
   */
  readonly retainAvailable: boolean;
  /** Persistent sessions and their offline queues (docs/mqtt.md, "Sessions"). */
  readonly sessions: MqttSessionOptions;
}

/** `listeners[].mqtt.sessions`. */
export interface MqttSessionOptions {
  /** Keep sessions across connections (Clean Session 0 / Clean Start 0). Off: every session ends with its connection. */
  readonly enabled: boolean;
  /** Cap on a v5 client's Session Expiry Interval; a larger request is answered with this value in CONNACK. */
  readonly maxExpirySeconds: number;
  /** How long a 3.1.1 Clean Session 0 session is kept after its connection ends (3.1.1 has no expiry of its own). */
  readonly v3ExpirySeconds: number;
  /** Messages (in flight and queued) one session may hold while offline; the newest beyond it is refused. */
  readonly maxQueuedMessages: number;
  /** Payload bytes one session may hold while offline; the newest beyond it is refused. */
  readonly maxQueuedBytes: number;
  /** Queue QoS 0 messages for offline sessions too (MQTT 5.0 §4.1 leaves it to the server). */
  readonly queueQos0: boolean;
}

export const mqttOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    maxKeepAliveSeconds: { type: 'integer', minimum: 0, maximum: 65535, default: 0 },
    topicAliasMaximum: { type: 'integer', minimum: 0, maximum: 65535, default: 64 },
    maximumQos: { enum: [0, 1, 2], default: 2 },
    wsPath: { type: 'string', pattern: '^/', default: '/mqtt' },
    deniedPublishV3: { enum: ['drop', 'close'], default: 'drop' },
    retainAvailable: { type: 'boolean', default: true },
    sessions: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        maxExpirySeconds: { type: 'integer', minimum: 0, maximum: 4294967295, default: 86400 },
        v3ExpirySeconds: { type: 'integer', minimum: 0, maximum: 4294967295, default: 86400 },
        maxQueuedMessages: { type: 'integer', minimum: 1, maximum: 1000000, default: 1000 },
        maxQueuedBytes: { type: 'integer', minimum: 1, maximum: 1073741824, default: 1048576 },
        queueQos0: { type: 'boolean', default: false },
      },
    },
  },
} as const;
