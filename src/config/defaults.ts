/**
 * The embedded default configuration, used when `thinggate start` is given no
 * file: MQTT on 1883, MQTT over WebSocket on 8083, one pool `default` pointing
 * at a local back-end on :8080, and every message POSTed to
 * /messages/{address}.
 */
export const EMBEDDED_DEFAULT = {
  listeners: [
    { name: 'mqtt', protocol: 'mqtt', host: '0.0.0.0', port: 1883 },
    { name: 'mqtt-ws', protocol: 'mqtt-ws', host: '0.0.0.0', port: 8083 },
  ],
  pools: [{ name: 'default', endpoints: [{ url: 'http://127.0.0.1:8080' }] }],
  routes: [{ match: { address: '#' }, pool: 'default', request: { method: 'POST', path: '/messages/{address}' } }],
} as const;
