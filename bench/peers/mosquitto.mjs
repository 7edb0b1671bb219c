/**
 * Peer (a): Debian's mosquitto on a free loopback port, plus the MQTT.js →
 * undici bridge (mqtt-http-bridge.mjs). Also used as Node-RED's broker.
 */
import { mkdtempSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { forkNode, freePort, isAlive, spawnSupervised, stopChild, waitForPort } from '../lib/proc.mjs';

export const MOSQUITTO = '/usr/sbin/mosquitto';
const BRIDGE = fileURLToPath(new URL('./mqtt-http-bridge.mjs', import.meta.url));

/** Starts mosquitto alone; resolves with { port, pid, stop() }. */
/** @param {{ fdLimit?: number }} [options] */
export async function startMosquitto({ fdLimit } = {}) {
  if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} is missing: apt-get install mosquitto`);
  const dir = mkdtempSync(join(tmpdir(), 'mosquitto-bench-'));
  const port = await freePort();
  // Defaults kept on purpose (max_queued_messages 1000, max_inflight_messages 20): the peer as shipped.
  writeFileSync(
    join(dir, 'mosquitto.conf'),
    [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest stderr', 'log_type error', 'log_type warning', ''].join('\n'),
  );
  const child = await spawnSupervised(MOSQUITTO, ['-c', join(dir, 'mosquitto.conf')], { name: 'mosquitto', fdLimit, logFile: join(dir, 'mosquitto.log') });
  await waitForPort(port, { child });
  return {
    port,
    pid: child.targetPid,
    dir,
    alive: () => isAlive(child),
    async stop() {
      await stopChild(child);
      if (!process.env.THINGGATE_BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Peer (a): mosquitto + bridge. */
export async function startMosquittoPeer(backend, { qos = 1 } = {}) {
  const broker = await startMosquitto();
  const bridge = forkNode(BRIDGE, [`mqtt://127.0.0.1:${broker.port}`, backend.url, 'bench/#', String(qos)], { name: 'mqtt-http-bridge' });
  try {
    const [msg] = await once(bridge, 'message');
    if (msg.type !== 'ready') throw new Error(`bridge: ${msg.error}`);
  } catch (err) {
    await stopChild(bridge);
    await broker.stop();
    throw err;
  }
  return {
    port: broker.port,
    pids: () => [broker.pid, bridge.pid],
    alive: () => broker.alive() && isAlive(bridge),
    notes: ['mosquitto 2 (Debian) with default queue limits; bridge: MQTT.js subscriber (QoS ' + qos + ') POSTing with undici (16 connections)'],
    async stop() {
      await stopChild(bridge);
      await broker.stop();
    },
  };
}
