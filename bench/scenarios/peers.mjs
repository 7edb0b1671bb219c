/**
 * The egress limit and the peers, measured with the same back-end, the same
 * generator and the same procedure as thinggate.
 */
import { startAedesPeer } from '../peers/aedes.mjs';
import { startMosquittoPeer } from '../peers/mosquitto.mjs';
import { startNodeRedPeer } from '../peers/node-red.mjs';
import { waitForDelivery } from '../lib/probe.mjs';
import { CLIENTS, PIPELINED, WINDOW } from './thinggate.mjs';

/** undici connections used by the egress-limit generator: thinggate's pool default. */
export const EGRESS_CONNECTIONS = 16;

export const scenarios = [
  {
    name: 'egress-limit',
    group: 'baseline',
    kind: 'throughput',
    description: `the back-end driven directly by undici (${EGRESS_CONNECTIONS} connections, ${CLIENTS}×${WINDOW} requests in flight)`,
    async start(backend) {
      return {
        notes: [`undici Pool, ${EGRESS_CONNECTIONS} keep-alive connections, no pipelining`],
        pids: null,
        stop: async () => {},
        transport: { kind: 'http', url: backend.url, clients: CLIENTS, window: WINDOW, connections: EGRESS_CONNECTIONS },
      };
    },
  },
  {
    name: 'egress-limit-pipelined',
    group: 'baseline',
    kind: 'throughput',
    description: `the back-end driven directly by undici with HTTP/1.1 pipelining (${PIPELINED.connections} connections × ${PIPELINED.pipelining})`,
    async start(backend) {
      return {
        notes: [`undici Pool, ${PIPELINED.connections} keep-alive connections, pipelining ${PIPELINED.pipelining}`],
        pids: null,
        stop: async () => {},
        transport: { kind: 'http', url: backend.url, clients: CLIENTS, window: WINDOW, ...PIPELINED },
      };
    },
  },
  {
    name: 'peer-mosquitto',
    group: 'peer',
    peer: 'a',
    kind: 'throughput',
    description: 'peer (a): mosquitto + MQTT.js subscriber POSTing with undici; acknowledges before delivering',
    async start(backend) {
      const t = await startMosquittoPeer(backend);
      await waitForDelivery(t.port, backend, 5).catch(async (err) => {
        await t.stop();
        throw err;
      });
      return { ...t, transport: { kind: 'mqtt', host: '127.0.0.1', port: t.port, clients: CLIENTS, qos: 1, version: 5, window: WINDOW } };
    },
  },
  {
    name: 'peer-node-red',
    group: 'peer',
    peer: 'b',
    kind: 'throughput',
    description: 'peer (b): Node-RED flow mqtt in → http request, broker mosquitto; acknowledges before delivering',
    async start(backend) {
      const t = await startNodeRedPeer(backend);
      await waitForDelivery(t.port, backend, 4).catch(async (err) => {
        await t.stop();
        throw err;
      });
      return { ...t, transport: { kind: 'mqtt', host: '127.0.0.1', port: t.port, clients: CLIENTS, qos: 1, version: 5, window: WINDOW } };
    },
  },
  {
    name: 'peer-aedes',
    group: 'peer',
    peer: 'c',
    kind: 'throughput',
    description: 'peer (c): Aedes, authorizePublish POSTs and PUBACK follows the 2xx (MQTT 3.1.1)',
    async start(backend) {
      const t = await startAedesPeer(backend);
      return { ...t, transport: { kind: 'mqtt', host: '127.0.0.1', port: t.port, clients: CLIENTS, qos: 1, version: 4, window: WINDOW } };
    },
  },
];
