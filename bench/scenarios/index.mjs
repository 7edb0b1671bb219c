/** Every scenario, in the order `npm run bench` runs them (the egress limit first: others are ratios to it). */
import { scenarios as peers } from './peers.mjs';
import { scenarios as thinggate } from './thinggate.mjs';
import { scenario as connections } from './connections.mjs';

const egress = peers.filter((s) => s.name === 'egress-limit');
const others = peers.filter((s) => s.name !== 'egress-limit');

export const SCENARIOS = [...egress, ...thinggate, ...others, connections];

export function scenarioByName(name) {
  return SCENARIOS.find((s) => s.name === name);
}
