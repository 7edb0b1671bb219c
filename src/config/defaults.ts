/**
 * The embedded default configuration, used when `thinggate start` is given no
 * file: every device protocol on its standard port (MQTT 1883, MQTT over
 * WebSocket 8083, CoAP 5683/udp, AMQP 5672), one pool `default` pointing at a
 * local back-end on :8080, and every message POSTed to /messages/{address}.
 * HTTP ingress has no standard port and is left to configuration files. The
 * admin server (dashboard, API, /metrics) listens on loopback only, port 9090.
 */
export const EMBEDDED_DEFAULT = {
  listeners: [
    { name: 'mqtt', protocol: 'mqtt', host: '0.0.0.0', port: 1883 },
    { name: 'mqtt-ws', protocol: 'mqtt-ws', host: '0.0.0.0', port: 8083 },
    { name: 'coap', protocol: 'coap', host: '0.0.0.0', port: 5683 },
    { name: 'amqp', protocol: 'amqp', host: '0.0.0.0', port: 5672 },
  ],
  pools: [{ name: 'default', endpoints: [{ url: 'http://127.0.0.1:8080' }] }],
  routes: [{ match: { address: '#' }, pool: 'default', request: { method: 'POST', path: '/messages/{address}' } }],
  admin: { host: '127.0.0.1', port: 9090 },
} as const;
