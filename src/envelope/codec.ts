/**
 * The codec extension point: turn a payload of one media type into a
 * structured value and back. Routes decode payloads with a codec (scripts see
 * the value through `msg.decode()`) and may re-encode a body with another one
 * for the back-end (CBOR in, JSON out). Every codec passes the shared contract
 * suite in test/unit/plugins/codec.contract.ts.
 */
export interface Codec {
  /** The media type this codec reads and writes (the `content-type` sent with an encoded body). */
  readonly contentType: string;
  /** Decodes a payload. Throws on bytes that are not a valid value of the media type. */
  decode(bytes: Uint8Array): unknown;
  /** Encodes a value. Throws on a value the media type cannot carry. */
  encode(value: unknown): Uint8Array;
}

/** Lower-cased media type without parameters: the key codecs are registered under. */
export function mediaTypeKey(contentType: string): string {
  return contentType.split(';', 1)[0]!.trim().toLowerCase();
}
