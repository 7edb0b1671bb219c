/**
 * Every scenario, in the order `npm run bench` runs them: the egress limit
 * first (the others are ratios to it), then what the targets compare —
 * mqtt-qos1-rest and the peers — then the variants and connections.
 */
import { scenarios as peers } from './peers.mjs';
import { scenarios as thinggate } from './thinggate.mjs';
import { scenario as connections } from './connections.mjs';
import { scenarios as cluster } from './cluster.mjs';

const ORDER = [
  'egress-limit',
  'mqtt-qos1-rest',
  'peer-aedes',
  'peer-mosquitto',
  'peer-node-red',
  'mqtt-qos1-batch',
  'mqtt-qos1-batch-inline',
  'egress-limit-pipelined',
  'mqtt-qos1-unpipelined',
  'mqtt-qos1-rest-sessions-off',
  'mqtt-qos0-rest',
  'mqtt-qos2-rest',
  'coap-con-rest',
  'coap-con-rest-raw',
  'coaps-con-rest',
  'amqp-rest',
  'connections',
];
const all = [...peers, ...thinggate, ...cluster, connections];

export const SCENARIOS = ORDER.map((name) => all.find((s) => s.name === name)).concat(all.filter((s) => !ORDER.includes(s.name)));

export function scenarioByName(name) {
  return SCENARIOS.find((s) => s.name === name);
}
