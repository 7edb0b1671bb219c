/**
 * thinggate plugin `cbor`: a codec for application/cbor (RFC 8949) on cbor-x.
 *
 * Under Node, `cbor-x/encode` resolves to cbor-x's pure-JavaScript entry, so
 * the optional native extractor (cbor-extract, a compiled add-on) is never
 * loaded: the codec behaves the same on every platform and needs no build step.
 */
import { Encoder } from 'cbor-x/encode';
import { cborToJson } from './to-json.js';

/**
 * Plain CBOR: maps as objects, no cbor-x record extension (tag 105), which other CBOR
 * decoders do not know, and map lengths in their shortest form (preferred serialization,
 * RFC 8949 §4.1).
 */
const cbor = new Encoder({ mapsAsObjects: true, useRecords: false, structuredClone: false, variableMapSize: true });

/** @type {import('../../src/envelope/codec.js').Codec} */
const codec = {
  contentType: 'application/cbor',
  decode: (bytes) => cbor.decode(bytes),
  encode: (value) => cbor.encode(value),
  // CBOR in, JSON out without building the value (to-json.js); undefined where decode + encode decide.
  toJson: cborToJson,
};

/** @type {import('../../src/plugins/api.js').Plugin} */
export default {
  name: 'cbor',
  version: '1.0.0',
  apiVersion: 1,
  optionsSchema: { type: 'object', additionalProperties: false, properties: {} },
  setup(api) {
    api.registerCodec({ name: 'application/cbor', create: () => codec });
  },
};
