/**
 * thinggate plugin `sparkplug-b`: a codec for Eclipse Sparkplug B payloads
 * (Sparkplug 3.0.0 §6: protobuf over MQTT topics `spBv1.0/<group>/<type>/<edge>[/<device>]`),
 * registered as `application/x-sparkplug-b`. Decoding gives back-ends plain
 * JSON: each metric with its data type by name and its value in `value`,
 * whichever field of the protobuf `oneof` carried it; encoding takes the same
 * shape (for commands: NCMD / DCMD).
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const root = protobuf.loadSync(fileURLToPath(new URL('./sparkplug_b.proto', import.meta.url)));
const Payload = root.lookupType('org.eclipse.tahu.protobuf.Payload');
const DataType = root.lookupEnum('org.eclipse.tahu.protobuf.DataType');

/** The Metric `oneof` field that carries a value of each data type (Sparkplug 3.0.0 §6.4.16). */
const FIELD_BY_TYPE = {
  Int8: 'intValue',
  Int16: 'intValue',
  Int32: 'intValue',
  UInt8: 'intValue',
  UInt16: 'intValue',
  UInt32: 'intValue',
  Int64: 'longValue',
  UInt64: 'longValue',
  DateTime: 'longValue',
  Float: 'floatValue',
  Double: 'doubleValue',
  Boolean: 'booleanValue',
  String: 'stringValue',
  Text: 'stringValue',
  UUID: 'stringValue',
  Bytes: 'bytesValue',
  File: 'bytesValue',
  DataSet: 'datasetValue',
  Template: 'templateValue',
};
const VALUE_FIELDS = new Set([...Object.values(FIELD_BY_TYPE), 'extensionValue']);

/** Timestamps, sequence numbers and aliases fit in a double (< 2^53); other 64-bit values stay exact as strings. */
const TO_OBJECT = { longs: String, enums: String, bytes: String, defaults: false };

/** Signed integers travel as their two's complement in uint32 / uint64 fields (Sparkplug 3.0.0 §6.4.16). */
const SIGN_BITS = { Int8: 8, Int16: 16, Int32: 32 };

/** @param {unknown} v @param {string | undefined} type */
function signed(v, type) {
  const bits = SIGN_BITS[/** @type {keyof typeof SIGN_BITS} */ (type)];
  if (bits !== undefined && typeof v === 'number') return (v << (32 - bits)) >> (32 - bits);
  if (type === 'Int64' && typeof v === 'string') return BigInt.asIntN(64, BigInt(v)).toString();
  return v;
}

/** @param {Record<string, unknown>} m a Metric as toObject gives it */
function metricToJson(m) {
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [k, v] of Object.entries(m)) {
    if (VALUE_FIELDS.has(k)) {
      const type = DataType.valuesById[/** @type {number} */ (m.datatype)];
      out.value = k === 'longValue' && type !== 'UInt64' && type !== 'Int64' ? Number(v) : signed(v, type);
    } else if (k === 'datatype') out.datatype = DataType.valuesById[/** @type {number} */ (v)] ?? v;
    else if (k === 'alias' || k === 'timestamp') out[k] = Number(v);
    else out[k] = v;
  }
  return out;
}

/** @param {Record<string, unknown>} m a metric in the JSON shape */
function metricFromJson(m) {
  const { value, datatype, ...rest } = m;
  /** @type {Record<string, unknown>} */
  const out = { ...rest };
  if (datatype !== undefined) {
    const id = typeof datatype === 'number' ? datatype : DataType.values[/** @type {string} */ (datatype)];
    if (id === undefined) throw new TypeError(`unknown Sparkplug data type '${String(datatype)}'`);
    out.datatype = id;
    if (value !== undefined && value !== null) {
      const field = FIELD_BY_TYPE[/** @type {keyof typeof FIELD_BY_TYPE} */ (DataType.valuesById[id])];
      if (!field) throw new TypeError(`metric values of type ${DataType.valuesById[id]} are not supported here`);
      out[field] =
        field === 'intValue' && typeof value === 'number'
          ? value >>> 0
          : field === 'longValue' && /^-/.test(String(value))
            ? BigInt.asUintN(64, BigInt(String(value))).toString()
            : value;
    }
  } else if (value !== undefined) throw new TypeError('a metric with a value needs its datatype');
  return out;
}

/** @type {import('../../src/envelope/codec.js').Codec} */
export const codec = {
  contentType: 'application/x-sparkplug-b',
  decode(bytes) {
    const p = /** @type {Record<string, unknown>} */ (Payload.toObject(Payload.decode(bytes), TO_OBJECT));
    if (p.timestamp !== undefined) p.timestamp = Number(p.timestamp);
    if (p.seq !== undefined) p.seq = Number(p.seq);
    if (Array.isArray(p.metrics)) p.metrics = p.metrics.map(metricToJson);
    return p;
  },
  encode(value) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new TypeError('a Sparkplug B payload is encoded from an object');
    const v = /** @type {Record<string, unknown>} */ (value);
    const p = { ...v, ...(Array.isArray(v.metrics) && { metrics: v.metrics.map(metricFromJson) }) };
    return Payload.encode(Payload.fromObject(p)).finish();
  },
};

/** @type {import('../../src/plugins/api.js').Plugin} */
export default {
  name: 'sparkplug-b',
  version: '1.0.0',
  apiVersion: 1,
  optionsSchema: { type: 'object', additionalProperties: false, properties: {} },
  setup(api) {
    api.registerCodec({ name: 'application/x-sparkplug-b', create: () => codec });
  },
};
