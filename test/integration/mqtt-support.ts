/**
 * Shared pieces of the MQTT listener tests: a gateway configuration with an
 * `mqtt` and an `mqtt-ws` listener on port 0 in front of a TestBackend, and a
 * raw MQTT client over a plain socket for byte-level tests.
 */
import { connect as netConnect, type Socket } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { TestBackend } from '../helpers/backend.js';

export interface MqttTestBed {
  readonly gw: TestGateway;
  readonly backend: TestBackend;
  readonly port: number;
  readonly wsPort: number;
  close(): Promise<void>;
}

export interface BedOptions {
  readonly routes?: readonly unknown[];
  readonly limits?: Record<string, unknown>;
  readonly mqtt?: Record<string, unknown>;
  readonly pool?: Record<string, unknown>;
}

/** `devices/#` delivered to subscribed devices, like a broker; everything else to the back-end. */
export const DEVICE_ROUTES: readonly unknown[] = [
  { match: { address: 'devices/#' }, target: 'devices' },
  { match: { address: '#' }, pool: 'default', request: { method: 'POST', path: '/messages/{address}' } },
];

/** Starts a back-end and a gateway routing `#` to POST /messages/{address} unless `routes` say otherwise. */
export async function startBed(options: BedOptions = {}): Promise<MqttTestBed> {
  const backend = await TestBackend.start();
  const listener = (name: string, protocol: string): Record<string, unknown> => ({
    name,
    protocol,
    host: '127.0.0.1',
    port: 0,
    ...(options.limits && { limits: options.limits }),
    ...(options.mqtt && { mqtt: options.mqtt }),
  });
  let gw: TestGateway;
  try {
    gw = await startGateway({
      listeners: [listener('mqtt', 'mqtt'), listener('mqtt-ws', 'mqtt-ws')],
      pools: [
        {
          name: 'default',
          endpoints: [{ url: backend.url }],
          retries: { maxAttempts: 1 },
          outlierDetection: { enabled: false },
          ...options.pool,
        },
      ],
      routes: options.routes ?? [{ match: { address: '#' }, pool: 'default', request: { method: 'POST', path: '/messages/{address}' } }],
    });
  } catch (err) {
    await backend.close();
    throw err;
  }
  return {
    gw,
    backend,
    port: gw.port('mqtt'),
    wsPort: gw.port('mqtt-ws'),
    close: async () => {
      await gw.stop();
      await backend.close();
    },
  };
}

/** An MQTT.js client connected to the bed (no automatic reconnect). */
export async function client(port: number, options: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
}

/** Resolves with the next event of `name` on `emitter`, rejecting after `ms`. */
export function nextEvent<T = unknown>(source: NodeJS.EventEmitter | MqttClient, name: string, ms = 10_000): Promise<T> {
  // MqttClient's typed emitter does not accept arbitrary event names; the runtime object is an EventEmitter.
  const emitter = source as NodeJS.EventEmitter;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(name, on);
      reject(new Error(`no '${name}' within ${ms} ms`));
    }, ms);
    const on = (value: T): void => {
      clearTimeout(timer);
      resolve(value);
    };
    emitter.once(name, on);
  });
}

/** A byte-level MQTT client: writes raw bytes or packets, collects parsed packets from the server. */
export class RawClient {
  readonly packets: Packet[] = [];
  readonly closed: Promise<void>;
  private waiters: Array<{ cmd: string; resolve: (p: Packet) => void }> = [];
  private readonly parser;

  private constructor(
    readonly socket: Socket,
    readonly version: 4 | 5,
  ) {
    this.parser = mqttPacket.parser({ protocolVersion: version });
    this.parser.on('packet', (p: Packet) => {
      this.packets.push(p);
      const i = this.waiters.findIndex((w) => w.cmd === p.cmd);
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(p);
    });
    this.parser.on('error', () => undefined);
    socket.on('data', (d: Buffer) => this.parser.parse(d));
    socket.on('error', () => undefined);
    this.closed = new Promise((r) => socket.once('close', () => r()));
  }

  static async open(port: number, version: 4 | 5 = 5): Promise<RawClient> {
    const socket = netConnect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket, version);
  }

  /** Opens and completes CONNECT/CONNACK. */
  static async connected(port: number, version: 4 | 5 = 5, clientId = `raw-${Math.random().toString(36).slice(2)}`): Promise<RawClient> {
    const c = await RawClient.open(port, version);
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId, clean: true, keepalive: 60 });
    const ack = await c.next('connack');
    if ((ack as { reasonCode?: number; returnCode?: number }).reasonCode ?? (ack as { returnCode?: number }).returnCode) {
      throw new Error('connect refused');
    }
    return c;
  }

  send(p: Packet): void {
    this.socket.write(mqttPacket.generate(p, { protocolVersion: this.version }));
  }

  write(bytes: Buffer | Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The next packet of type `cmd` (already received ones first). */
  next(cmd: string, ms = 10_000): Promise<Packet> {
    const i = this.packets.findIndex((p) => p.cmd === cmd);
    if (i >= 0) return Promise.resolve(this.packets.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        cmd,
        resolve: (p: Packet) => {
          clearTimeout(timer);
          this.packets.splice(this.packets.indexOf(p), 1);
          resolve(p);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no ${cmd} within ${ms} ms`));
      }, ms);
      this.waiters.push(waiter);
    });
  }

  /** Resolves when the server closed the socket (rejects after `ms`). */
  async waitClosed(ms = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.closed, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms)))]);
    clearTimeout(timer);
  }

  destroy(): void {
    this.socket.destroy();
  }
}
