/**
 * thinggate plugin `protobuf`: a codec for Protocol Buffers messages on
 * protobufjs. The message type comes from a `.proto` file per route:
 *
 *   decode: { type: application/x-protobuf, proto: schemas/telemetry.proto, message: acme.Reading }
 *
 * Decoded messages become JSON-friendly objects (64-bit integers as decimal
 * strings, enums by name, bytes as base64); encoding accepts the same shape.
 */
import { resolve } from 'node:path';
import protobuf from 'protobufjs';

/** Options of `toObject`: the proto3 JSON mapping's choices for 64-bit integers, enums and bytes. */
export const TO_OBJECT = { longs: String, enums: String, bytes: String, defaults: false };

/** @type {Map<string, import('protobufjs').Root>} */
const roots = new Map();

/**
 * A Type from a .proto file (parsed once per file and gateway run).
 * @param {string} file absolute path @param {string} message fully qualified name
 */
export function loadType(file, message) {
  let root = roots.get(file);
  if (!root) {
    root = protobuf.loadSync(file);
    roots.set(file, root);
  }
  return root.lookupType(message);
}

/**
 * A codec for one message type.
 * @param {import('protobufjs').Type} type @param {string} contentType
 * @returns {import('../../src/envelope/codec.js').Codec}
 */
export function messageCodec(type, contentType) {
  return {
    contentType,
    decode: (bytes) => type.toObject(type.decode(bytes), TO_OBJECT),
    encode(value) {
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        throw new TypeError(`a ${type.name} is encoded from an object, not ${Array.isArray(value) ? 'an array' : typeof value}`);
      return type.encode(type.fromObject(/** @type {Record<string, unknown>} */ (value))).finish();
    },
  };
}

/** @type {import('../../src/plugins/api.js').Plugin} */
export default {
  name: 'protobuf',
  version: '1.0.0',
  apiVersion: 1,
  optionsSchema: { type: 'object', additionalProperties: false, properties: {} },
  setup(api) {
    api.registerCodec({
      name: 'application/x-protobuf',
      schema: {
        type: 'object',
        additionalProperties: false,
        required: ['proto', 'message'],
        properties: {
          proto: { type: 'string', minLength: 1, description: '.proto file, relative to the configuration file' },
          message: { type: 'string', minLength: 1, description: 'fully qualified message name, e.g. acme.Reading' },
        },
      },
      create: (options, { baseDir }) => messageCodec(loadType(resolve(baseDir, String(options.proto)), String(options.message)), 'application/x-protobuf'),
    });
  },
};
