/**
 * Peer (b): Node-RED (npm node-red 4, headless: editor and admin API off) with
 * the flow `mqtt in` (bench/#, QoS 1) → `http request` (POST, keep-alive) to
 * the back-end, against Debian's mosquitto as its broker (same broker as peer
 * (a), so the difference is the bridge). Node-RED's MQTT client acknowledges
 * each message to the broker when it enters the flow, before the POST.
 */
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, isAlive, spawnSupervised, stopChild } from '../lib/proc.mjs';
import { startMosquitto } from './mosquitto.mjs';

const RED = fileURLToPath(new URL('../node_modules/node-red/red.js', import.meta.url));

export function nodeRedFlow(brokerPort, backendUrl) {
  return [
    { id: 'bench-tab', type: 'tab', label: 'bench' },
    {
      id: 'bench-broker',
      type: 'mqtt-broker',
      name: 'mosquitto',
      broker: '127.0.0.1',
      port: String(brokerPort),
      clientid: 'node-red-bench',
      autoConnect: true,
      usetls: false,
      protocolVersion: '4',
      keepalive: '60',
      cleansession: true,
    },
    {
      id: 'bench-in',
      type: 'mqtt in',
      z: 'bench-tab',
      topic: 'bench/#',
      qos: '1',
      datatype: 'utf8',
      broker: 'bench-broker',
      nl: false,
      rap: true,
      rh: 0,
      inputs: 0,
      wires: [['bench-post']],
    },
    {
      id: 'bench-post',
      type: 'http request',
      z: 'bench-tab',
      method: 'POST',
      ret: 'txt',
      paytoqs: 'ignore',
      url: `${backendUrl}/messages/bench`,
      persist: true,
      senderr: false,
      headers: [],
      wires: [[]],
    },
  ];
}

export async function startNodeRedPeer(backend) {
  if (!existsSync(RED)) throw new Error('node-red is missing: run `npm --prefix bench install`');
  const broker = await startMosquitto();
  const dir = mkdtempSync(join(tmpdir(), 'node-red-bench-'));
  const uiPort = await freePort();
  writeFileSync(join(dir, 'flows.json'), JSON.stringify(nodeRedFlow(broker.port, backend.url), null, 2));
  writeFileSync(
    join(dir, 'settings.js'),
    `module.exports = ${JSON.stringify(
      {
        uiPort,
        uiHost: '127.0.0.1',
        userDir: dir,
        flowFile: 'flows.json',
        credentialSecret: false,
        disableEditor: true,
        httpAdminRoot: false,
        httpNodeRoot: false,
        logging: { console: { level: 'info', metrics: false, audit: false } },
        externalModules: { autoInstall: false, palette: { allowInstall: false } },
        diagnostics: { enabled: false },
        telemetry: { enabled: false },
      },
      null,
      2,
    )};\n`,
  );
  const logFile = join(dir, 'node-red.log');
  let child;
  try {
    child = await spawnSupervised(process.execPath, [RED, '--settings', join(dir, 'settings.js'), '--userDir', dir], { cwd: dir, name: 'node-red', logFile });
    const deadline = Date.now() + 60_000;
    while (!/Connected to broker/.test(readFileSync(logFile, 'utf8'))) {
      if (child.targetExit || Date.now() > deadline) throw new Error(`node-red did not connect to its broker:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (err) {
    if (child) await stopChild(child);
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port: broker.port,
    pids: () => [broker.pid, child.targetPid],
    alive: () => broker.alive() && isAlive(child),
    notes: ['Node-RED 4 (headless) flow mqtt in (QoS 1) → http request (POST, keep-alive); broker: Debian mosquitto 2 with defaults'],
    async stop() {
      await stopChild(child, 5000);
      await broker.stop();
      if (!process.env.THINGGATE_BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
    },
  };
}
