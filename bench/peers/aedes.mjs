/** Launches peer (c), aedes-http.mjs, in its own process. */
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { forkNode, isAlive, stopChild } from '../lib/proc.mjs';

const SERVER = fileURLToPath(new URL('./aedes-http.mjs', import.meta.url));

/**
 * @param {{ url: string }} backend
 * @param {{ fdLimit?: number }} [options]
 */
export async function startAedesPeer(backend, { fdLimit } = {}) {
  const child = forkNode(SERVER, [backend.url], { name: 'aedes', fdLimit });
  const [msg] = await once(child, 'message');
  if (msg.type !== 'ready') throw new Error(`aedes: ${JSON.stringify(msg)}`);
  return {
    port: msg.port,
    pid: child.pid,
    pids: () => [child.pid],
    alive: () => isAlive(child),
    notes: ['Aedes (MQTT 3.1.1: generator uses protocol level 4); authorizePublish POSTs with undici (16 connections) and PUBACK follows the 2xx'],
    stop: () => stopChild(child),
  };
}
