#!/usr/bin/env node
/**
 * A device simulator for the worked example: connects, sends `count` telemetry
 * frames and waits for each acknowledgement. With --stay it then stays
 * connected, prints each command frame the gateway sends and acknowledges it
 * (header echoed, then 0x06). With --udp the frames go as datagrams, one frame each.
 *   node simulator.mjs [--host 127.0.0.1] [--port 7000] [--device 0a1b2c3d4e5f] [--count 5] [--stay | --udp]
 */
import { createSocket } from 'node:dgram';
import { connect, isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

/**
 * One frame: u16 length | device id (6) | u16 seq | i16 temp | u16 humidity | u8 battery.
 * @param {string} device 12 hex digits @param {number} seq @param {number} celsius @param {number} humidity @param {number} battery
 */
export function telemetryFrame(device, seq, celsius, humidity, battery) {
  const f = Buffer.alloc(2 + 8 + 5);
  f.writeUInt16BE(13, 0);
  Buffer.from(device, 'hex').copy(f, 2);
  f.writeUInt16BE(seq, 8);
  f.writeInt16BE(Math.round(celsius * 100), 10);
  f.writeUInt16BE(Math.round(humidity * 100), 12);
  f.writeUInt8(battery, 14);
  return f;
}

/**
 * Splits the frames the gateway sent: [{ device, seq, body }]; `rest` is an incomplete last frame.
 * @param {Buffer} bytes
 */
export function splitFrames(bytes) {
  /** @type {Array<{ device: string, seq: number, body: Buffer }>} */
  const frames = [];
  let at = 0;
  while (bytes.length - at >= 2) {
    const len = bytes.readUInt16BE(at);
    if (bytes.length - at - 2 < len) break;
    const frame = bytes.subarray(at + 2, at + 2 + len);
    frames.push({ device: frame.subarray(0, 6).toString('hex'), seq: frame.readUInt16BE(6), body: frame.subarray(8) });
    at += 2 + len;
  }
  return { frames, rest: bytes.subarray(at) };
}

/**
 * The acknowledgement frames among them: [{ device, seq, ok }] (0x06 ack, 0x15 nack).
 * @param {Buffer} bytes
 */
export function parseAnswers(bytes) {
  return splitFrames(bytes)
    .frames.filter((f) => f.body.length === 1)
    .map((f) => ({ device: f.device, seq: f.seq, ok: f.body[0] === 0x06 }));
}

/**
 * A device acknowledging a command frame: u16 length | device id | the frame's sequence | 0x06.
 * @param {string} device @param {number} seq
 */
export function commandAck(device, seq) {
  const f = Buffer.alloc(2 + 8 + 1);
  f.writeUInt16BE(9, 0);
  Buffer.from(device, 'hex').copy(f, 2);
  f.writeUInt16BE(seq, 8);
  f[10] = 0x06;
  return f;
}

/**
 * A device that stays connected: sends one telemetry frame (which identifies it), then hands every
 * command frame (a body longer than one byte) to `onCommand`, and acknowledges it unless `ack` is false.
 * @param {{ host?: string, port: number, device?: string, ack?: boolean, onCommand?: (c: { seq: number, body: Buffer }) => void }} o
 */
export function commandDevice({ host = '127.0.0.1', port, device = '0a1b2c3d4e5f', ack = true, onCommand = () => {} }) {
  const socket = connect(port, host);
  /** @type {Buffer} */
  let received = Buffer.alloc(0);
  /** @type {Array<{ seq: number, body: Buffer }>} */
  const commands = [];
  socket.on('error', () => socket.destroy());
  socket.on('connect', () => socket.write(telemetryFrame(device, 1, 21, 40, 80)));
  socket.on('data', (chunk) => {
    const { frames, rest } = splitFrames(Buffer.concat([received, /** @type {Buffer} */ (chunk)]));
    received = Buffer.from(rest);
    for (const f of frames) {
      if (f.body.length <= 1) continue; // the gateway's answer to telemetry
      const c = { seq: f.seq, body: Buffer.from(f.body) };
      commands.push(c);
      onCommand(c);
      if (ack) socket.write(commandAck(device, f.seq));
    }
  });
  return { socket, commands, close: () => socket.destroy() };
}

/**
 * Sends `count` frames (all at once) and resolves with the answers once all came. With `udp`,
 * each frame is one datagram (the same length-prefixed frame) and answers come back as datagrams.
 * @param {{ host?: string, port: number, device?: string, count?: number, timeoutMs?: number, udp?: boolean }} o
 * @returns {Promise<ReturnType<typeof parseAnswers>>}
 */
export function runDevice({ host = '127.0.0.1', port, device = '0a1b2c3d4e5f', count = 5, timeoutMs = 10_000, udp = false }) {
  /** @type {Buffer[]} */
  const frames = [];
  for (let seq = 1; seq <= count; seq++) frames.push(telemetryFrame(device, seq, 20 + seq / 10, 45.5, 90));
  return new Promise((resolve, reject) => {
    /** @type {Buffer} */
    let received = Buffer.alloc(0);
    /** @type {() => void} */
    let close;
    const timer = setTimeout(() => {
      close();
      reject(new Error(`only ${parseAnswers(received).length} of ${count} answers within ${timeoutMs} ms`));
    }, timeoutMs);
    const onData = (/** @type {Buffer} */ chunk) => {
      received = Buffer.concat([received, chunk]);
      const answers = parseAnswers(received);
      if (answers.length < count) return;
      clearTimeout(timer);
      close();
      resolve(answers);
    };
    if (udp) {
      const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
      close = () => socket.close();
      socket.on('error', reject);
      socket.on('message', onData);
      for (const f of frames) socket.send(f, port, host);
      return;
    }
    const socket = connect(port, host);
    close = () => socket.end();
    socket.on('error', reject);
    socket.on('connect', () => socket.write(Buffer.concat(frames)));
    socket.on('data', onData);
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      device: { type: 'string' },
      count: { type: 'string' },
      stay: { type: 'boolean' },
      udp: { type: 'boolean' },
    },
  });
  const target = { host: values.host, port: Number(values.port ?? 7000), device: values.device };
  if (values.stay) {
    const onCommand = (/** @type {{ seq: number, body: Buffer }} */ c) => console.log(`command ${c.seq}: ${c.body.toString('hex')} (acknowledged)`);
    commandDevice({ ...target, onCommand }).socket.on('close', () => process.exit(0));
  } else {
    const answers = await runDevice({ ...target, count: Number(values.count ?? 5), udp: values.udp ?? false });
    for (const a of answers) console.log(`frame ${a.seq}: ${a.ok ? 'acknowledged' : 'refused'}`);
  }
}
