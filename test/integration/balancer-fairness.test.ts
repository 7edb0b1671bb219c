/**
 * Fairness between sources at a slow back-end, over real sockets: a flood
 * from many MQTT connections of one address must not starve a device that
 * publishes now and then (the pool serves sources in turn), and once the
 * flooding connections close, what they left queued is dropped unsent
 * instead of flowing to the back-end for minutes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createConnection } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { startBed, client, RawClient, type MqttTestBed } from './mqtt-support.js';
import type { RecordedRequest } from '../helpers/backend.js';

/** Each back-end answer takes this long; with one connection and no pipelining the back-end gets one request at a time, and the pool hands the endpoint at most two. */
const BACKEND_DELAY_MS = 4;
const ATTACKERS = 8;
/** Messages each attacking connection publishes at once; the gateway holds 64 of each in its pipeline (limits.maxInflight). */
const FLOOD = 150;

let bed: MqttTestBed | undefined;
const clients: MqttClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.end(true);
  await bed?.close();
  bed = undefined;
});

async function slowBed(): Promise<MqttTestBed> {
  const b = await startBed({ pool: { connections: 1, pipelining: 1 } });
  b.backend.responder = () => ({ status: 200, body: 'ok', delayMs: BACKEND_DELAY_MS });
  return b;
}

/** An MQTT.js client whose socket is bound to `localAddress` (any 127/8 address is loopback on Linux). */
async function clientFrom(port: number, localAddress: string, clientId: string): Promise<MqttClient> {
  const c = new mqtt.MqttClient(() => createConnection({ port, host: '127.0.0.1', localAddress }), { clientId, reconnectPeriod: 0, connectTimeout: 5000 });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

/** Opens the attacking connections from 127.0.0.1; each publishes FLOOD QoS 1 messages without waiting. */
async function flood(port: number): Promise<MqttClient[]> {
  const attackers = await Promise.all(Array.from({ length: ATTACKERS }, (_, i) => client(port, { clientId: `attacker-${i}` })));
  clients.push(...attackers);
  for (const a of attackers) for (let m = 0; m < FLOOD; m++) a.publish('flood/data', `m${m}`, { qos: 1 }, () => undefined);
  return attackers;
}

const clientOf = (r: RecordedRequest): string => String(r.headers['x-thinggate-client-id']);

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('pool fairness between sources', () => {
  it('serves a quiet device between the messages of a flood from another address and from the same address', async () => {
    bed = await slowBed();
    const { backend, port } = bed;
    await flood(port);
    // The attackers' backlog is queued: the back-end is busy with it.
    await backend.waitFor(20);
    const victims = [await clientFrom(port, '127.0.0.2', 'victim-other-address'), await clientFrom(port, '127.0.0.1', 'victim-same-address')];
    clients.push(...victims);
    for (let round = 0; round < 3; round++) {
      for (const v of victims) {
        const before = backend.requests.length;
        await v.publishAsync(`victim/${v.options.clientId}`, `r${round}`, { qos: 1 });
        const at = backend.requests.findIndex((r, i) => i >= before && clientOf(r) === v.options.clientId);
        expect(at).toBeGreaterThanOrEqual(before);
        // Attacker messages the back-end took between the victim's publish and its message:
        // one per other source in turn (the same address's attackers share its turns), never the queued backlog.
        const overtaken = backend.requests.slice(before, at).filter((r) => clientOf(r).startsWith('attacker-')).length;
        expect(overtaken, `${v.options.clientId} round ${round}`).toBeLessThanOrEqual(v.options.clientId === 'victim-other-address' ? 3 : ATTACKERS + 3);
      }
    }
    // The flood is still being served: the victims did not just arrive after it drained.
    const attackerDone = backend.requests.filter((r) => clientOf(r).startsWith('attacker-')).length;
    expect(attackerDone).toBeLessThan((ATTACKERS * FLOOD) / 2);
  }, 30_000);

  it('drops what closed connections left queued: the back-end sees no more of it once the close is seen, and a metric counts it', async () => {
    bed = await slowBed();
    const { backend, port, gw } = bed;
    const attackers = await flood(port);
    await backend.waitFor(20);
    const connections = (): number => gw.gateway.listener('mqtt')!.stats().connections;
    expect(connections()).toBe(ATTACKERS);
    for (const a of attackers) a.end(true);
    // The gateway learns of each close while the socket is paused for back-pressure.
    await until(() => connections() === 0);
    const seen = backend.requests.length;
    // A device publishing after the close is served next, not after the dead connections' backlog.
    const victim = await clientFrom(port, '127.0.0.2', 'victim');
    clients.push(victim);
    await victim.publishAsync('victim/data', 'after', { qos: 1 });
    await new Promise((r) => setTimeout(r, 20 * BACKEND_DELAY_MS));
    const late = backend.requests.slice(seen).filter((r) => clientOf(r).startsWith('attacker-')).length;
    // At most what the pool had already handed to the endpoint when the close was seen: one request on the
    // wire and one waiting for the connection (the pool keeps twice what the connections carry).
    expect(late).toBeLessThanOrEqual(2);
    const served = backend.requests.filter((r) => clientOf(r).startsWith('attacker-')).length;
    const metrics = await gw.gateway.metrics.text();
    const cancelled = (name: string, labels: string): number => Number(new RegExp(`^${name}\\{${labels}\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
    const dropped =
      cancelled('thinggate_upstream_rejected_total', 'pool="default",code="TG_ERR_CONNECTION_CLOSED"') +
      cancelled('thinggate_downstream_cancelled_total', 'listener="mqtt"');
    // Everything the gateway had taken from the attackers and not sent is counted as dropped.
    expect(dropped).toBeGreaterThan(0);
    expect(served + dropped).toBeLessThanOrEqual(ATTACKERS * FLOOD);
    expect(served).toBeLessThan((ATTACKERS * FLOOD) / 2);
  }, 30_000);

  it('notices a close behind a backlog it has not read yet, and sends none of what it queued', async () => {
    bed = await slowBed();
    const { backend, port, gw } = bed;
    const raws: RawClient[] = [];
    for (let i = 0; i < 4; i++) {
      const raw = await RawClient.connected(port, 4, `attacker-${i}`);
      // Far more than the gateway takes in before pausing the socket: the rest stays in the kernel's buffers.
      const publishes = Array.from({ length: 20_000 }, (_, m) =>
        mqttPacket.generate({
          cmd: 'publish',
          topic: 'flood/data',
          payload: Buffer.from(`m${m}`),
          qos: 1,
          messageId: (m % 65_535) + 1,
          retain: false,
          dup: false,
        }),
      );
      raw.write(Buffer.concat(publishes));
      raws.push(raw);
    }
    await backend.waitFor(20);
    for (const raw of raws) raw.socket.destroy();
    const connections = (): number => gw.gateway.listener('mqtt')!.stats().connections;
    // Seen at the next acknowledgement written to each socket (the peer answers it with a reset), not after reading its backlog.
    await until(() => connections() === 0);
    const seen = backend.requests.length;
    expect(seen).toBeLessThan(4 * 64);
    const victim = await clientFrom(port, '127.0.0.2', 'victim');
    clients.push(victim);
    await victim.publishAsync('victim/data', 'after', { qos: 1 });
    await new Promise((r) => setTimeout(r, 20 * BACKEND_DELAY_MS));
    expect(backend.requests.slice(seen).filter((r) => clientOf(r).startsWith('attacker-')).length).toBeLessThanOrEqual(2);
  }, 30_000);
});
