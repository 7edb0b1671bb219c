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
  },
} as const;
