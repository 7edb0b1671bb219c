/**
 * thinggate plugin `framed-tcp`: listeners for simple binary device protocols
 * over TCP (`framed-tcp`) and UDP (`framed-udp`: each datagram one frame, or
 * whole frames within it; answers go back to the source address). Frames are length-prefixed or delimiter-terminated; an optional
 * fixed header at the start of each frame may carry the device id. Each frame
 * becomes one envelope (address from a template, payload = the frame after the
 * header); after the back-end's 2xx the device gets an acknowledgement frame,
 * and after a refusal an optional negative one — each may echo the header, so
 * a sequence number in it tells the device which frame was answered.
 * Messages toward an identified device (commands, publish()) are written as
 * frames with its header (downlink.js).
 */
import { FrameReader, frameOf } from './framing.js';
import { Downlink, downlinkSchema } from './downlink.js';

/** @typedef {import('./framing.js').Framing} Framing */
/**
 * @typedef {object} Options
 * @property {Framing} framing
 * @property {{ bytes: number, deviceId?: { offset: number, length: number, encoding: 'hex' | 'ascii' | 'uint' } }} [header]
 * @property {string} address
 * @property {string} [contentType]
 * @property {{ payload: string, echoHeader: boolean }} ack
 * @property {{ payload: string, echoHeader: boolean }} [nack]
 * @property {import('./downlink.js').DownlinkOptions} [downlink]
 * @property {number} [idleTimeoutMs] UDP: a source silent this long is forgotten
 */

const hex = { type: 'string', pattern: '^([0-9A-Fa-f]{2})*$' };
const answer = {
  type: 'object',
  additionalProperties: false,
  required: ['payload'],
  properties: { payload: { ...hex, description: 'bytes after the echoed header, in hex' }, echoHeader: { type: 'boolean', default: true } },
};

export const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['framing', 'address'],
  properties: {
    framing: {
      type: 'object',
      additionalProperties: false,
      required: ['type'],
      properties: {
        type: { enum: ['length-prefixed', 'delimiter'] },
        lengthBytes: { enum: [1, 2, 4], default: 2 },
        byteOrder: { enum: ['big', 'little'], default: 'big' },
        delimiter: { ...hex, minLength: 2, default: '0a' },
      },
    },
    header: {
      type: 'object',
      additionalProperties: false,
      required: ['bytes'],
      properties: {
        bytes: { type: 'integer', minimum: 1, maximum: 64 },
        deviceId: {
          type: 'object',
          additionalProperties: false,
          required: ['offset', 'length'],
          properties: {
            offset: { type: 'integer', minimum: 0, maximum: 63 },
            length: { type: 'integer', minimum: 1, maximum: 64 },
            encoding: { enum: ['hex', 'ascii', 'uint'], default: 'hex' },
          },
        },
      },
    },
    address: { type: 'string', minLength: 1, description: 'envelope address; {deviceId} is replaced' },
    contentType: { type: 'string', minLength: 1, default: 'application/octet-stream' },
    ack: { ...answer, default: { payload: '06', echoHeader: true } },
    nack: answer,
    downlink: downlinkSchema,
  },
};

/** framed-udp: framing may be `datagram` (the default), and a silent source is forgotten after `idleTimeoutMs`. */
export const udpSchema = {
  ...schema,
  required: ['address'],
  properties: {
    ...schema.properties,
    framing: {
      ...schema.properties.framing,
      default: { type: 'datagram' },
      properties: { ...schema.properties.framing.properties, type: { enum: ['datagram', 'length-prefixed', 'delimiter'] } },
    },
    idleTimeoutMs: { type: 'integer', minimum: 100, maximum: 86400000, default: 120000, description: 'a source silent this long is forgotten' },
  },
};

/** @param {Buffer} header @param {NonNullable<NonNullable<Options['header']>['deviceId']>} spec */
function deviceIdOf(header, spec) {
  const bytes = header.subarray(spec.offset, spec.offset + spec.length);
  if (spec.encoding === 'ascii') return bytes.toString('latin1');
  if (spec.encoding === 'uint') return BigInt(`0x${bytes.toString('hex') || '0'}`).toString();
  return bytes.toString('hex');
}

/** @type {import('../../src/plugins/stream-listener.js').StreamProtocol} */
const protocol = {
  open(conn, raw) {
    const options = /** @type {Options} */ (raw);
    const headerBytes = options.header?.bytes ?? 0;
    const idSpec = options.header?.deviceId;
    if (idSpec && idSpec.offset + idSpec.length > headerBytes) throw new Error('header.deviceId lies outside header.bytes');
    const ack = Buffer.from(options.ack.payload, 'hex');
    const nack = options.nack ? Buffer.from(options.nack.payload, 'hex') : undefined;
    const reader = new FrameReader(options.framing, conn.maxFrameBytes);
    if (conn.datagram) conn.idleTimeout(options.idleTimeoutMs ?? 120000);
    const contentType = options.contentType ?? 'application/octet-stream';
    /** @param {Buffer} header @param {Buffer} body @param {boolean} echo */
    const answer = (header, body, echo) => conn.write(echo ? frameOf(options.framing, header, body) : frameOf(options.framing, body));
    // The device id bytes of the first frame, and the address they give: later frames are compared byte-wise, not re-encoded.
    /** @type {Buffer | undefined} */
    let idBytes;
    /** @type {string | undefined} */
    let address = idSpec ? undefined : options.address.replaceAll('{deviceId}', conn.remoteAddress);
    const down = new Downlink(options.framing, headerBytes, idSpec, options.downlink ?? { subscribe: [] }, conn.write);
    /** @param {string} deviceId */
    const identify = (deviceId) =>
      conn.identify(deviceId).then((ok) => {
        if (ok) for (const f of options.downlink?.subscribe ?? []) conn.subscribe(f.replaceAll('{deviceId}', deviceId));
      });
    return {
      // Only an identified device is reachable: without header.deviceId there is no client id to deliver to.
      deliver: idSpec && ((message) => down.deliver(message)),
      onClose: () => down.close(),
      onData(chunk) {
        const frames = conn.datagram ? reader.datagram(chunk) : reader.push(chunk);
        if (frames === undefined) return conn.fail(`datagram of ${chunk.length} bytes ends inside a frame`);
        for (const frame of frames) {
          if (frame === null) return conn.fail(`frame longer than ${conn.maxFrameBytes} bytes (limits.maxPacketBytes)`);
          if (frame.length < headerBytes) return conn.fail(`frame of ${frame.length} bytes is shorter than its ${headerBytes}-byte header`);
          const header = frame.subarray(0, headerBytes);
          if (idSpec) {
            const id = header.subarray(idSpec.offset, idSpec.offset + idSpec.length);
            if (idBytes === undefined) {
              idBytes = Buffer.from(id);
              down.identified(idBytes);
              const deviceId = deviceIdOf(header, idSpec);
              address = options.address.replaceAll('{deviceId}', deviceId);
              void identify(deviceId);
            } else if (!id.equals(idBytes)) return conn.fail(`device id changed from ${conn.clientId} to ${deviceIdOf(header, idSpec)} on one connection`);
          }
          if (down.acknowledged(header, frame.subarray(headerBytes))) continue;
          conn.publish({ address: /** @type {string} */ (address), payload: frame.subarray(headerBytes), contentType }, (outcome) => {
            if (outcome.kind === 'accepted') answer(header, ack, options.ack.echoHeader);
            else if (nack && options.nack) answer(header, nack, options.nack.echoHeader);
          });
        }
      },
    };
  },
};

/** @type {import('../../src/plugins/api.js').Plugin} */
export default {
  name: 'framed-tcp',
  version: '1.0.0',
  apiVersion: 1,
  setup(api) {
    api.registerStreamListener({ name: 'framed-tcp', schema, protocol });
    api.registerStreamListener({ name: 'framed-udp', transport: 'udp', schema: udpSchema, protocol });
  },
};
