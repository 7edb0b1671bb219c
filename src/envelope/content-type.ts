/**
 * Content types. CoAP carries numeric Content-Format ids (IANA "CoAP
 * Content-Formats" registry, RFC 7252 §12.3); everything else carries media
 * type strings.
 */
const COAP_FORMATS: ReadonlyArray<readonly [number, string]> = [
  [0, 'text/plain; charset=utf-8'],
  [16, 'application/cose; cose-type="cose-encrypt0"'],
  [40, 'application/link-format'],
  [41, 'application/xml'],
  [42, 'application/octet-stream'],
  [47, 'application/exi'],
  [50, 'application/json'],
  [51, 'application/json-patch+json'],
  [52, 'application/merge-patch+json'],
  [60, 'application/cbor'],
  [61, 'application/cwt'],
  [110, 'application/senml+json'],
  [112, 'application/senml+cbor'],
  [11050, 'application/json'],
  [11060, 'application/cbor'],
  [11542, 'application/vnd.oma.lwm2m+tlv'],
  [11543, 'application/vnd.oma.lwm2m+json'],
];

const byId = new Map<number, string>(COAP_FORMATS.filter(([id]) => id < 11000 || id >= 11542));
const byType = new Map<string, number>();
for (const [id, type] of COAP_FORMATS) if (!byType.has(type)) byType.set(type, id);
byType.set('text/plain', 0);

/** Media type for a CoAP Content-Format id, or undefined when not registered here. */
export function mediaTypeForCoapFormat(id: number): string | undefined {
  return byId.get(id);
}

/** CoAP Content-Format id for a media type (parameters other than charset ignored), or undefined. */
export function coapFormatForMediaType(type: string): number | undefined {
  const exact = byType.get(type.toLowerCase());
  if (exact !== undefined) return exact;
  const bare = type.split(';', 1)[0]!.trim().toLowerCase();
  return byType.get(bare);
}

export const OCTET_STREAM = 'application/octet-stream';
