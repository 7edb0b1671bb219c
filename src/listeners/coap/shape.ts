/**
 * The two rules every outgoing payload passes: Block2 slicing (RFC 7959
 * §2.4) and the amplification cap toward sources that have not proven they
 * receive our datagrams (RFC 9175 §2.4, RFC 7252 §11.3).
 */
import type { CoapOption } from './codec.js';
import type { ResponseSpec, ShapingContext } from './types.js';
import type { HeldReply } from './blockwise.js';
import { sliceBlock } from './blockwise.js';
import { OPT, blockSize, blockValue, szxFor, uint } from './options.js';
import type { Peer } from './peers.js';
import type { CoapRequest } from './request.js';

/** Fixed bytes assumed for options around a sliced payload when sizing a block under the amplification cap. */
const OPTION_OVERHEAD = 32;
const EMPTY = Buffer.alloc(0);

/**
 * Applies Block2 slicing and the amplification cap to a payload, adding
 * Content-Format, ETag, Block2, Size2 and Echo to `options`. Returns the
 * bytes to send, or undefined when the requested block is past the end.
 */
export function shapePayload(
  core: ShapingContext,
  peer: Peer,
  requestBytes: number,
  tokenLength: number,
  spec: ResponseSpec,
  options: CoapOption[],
  block2: CoapRequest['block2'],
  key: () => string,
  held?: HeldReply,
): Buffer | undefined {
  const payload = held?.payload ?? spec.payload ?? EMPTY;
  const contentFormat = held ? held.contentFormat : spec.contentFormat;
  if (contentFormat !== undefined) options.push({ number: OPT.CONTENT_FORMAT, value: uint(contentFormat) });
  const isError = spec.code >= 0x80;
  let limit = block2 ? blockSize(block2.szx) : core.options.blockSize;
  const factor = core.options.amplificationFactor;
  let capped = false;
  if (!peer.verified && factor > 0) {
    const cap = Math.floor(requestBytes * factor) - 4 - tokenLength;
    if (isError) {
      // A diagnostic payload is only a courtesy (RFC 7252 §5.5.2): shorten it rather than amplify.
      let optionBytes = 1; // payload marker
      for (const o of options) optionBytes += 3 + o.value.length; // header byte and at most 2 extension bytes
      const room = Math.max(0, cap - optionBytes);
      return payload.length > room ? payload.subarray(0, room) : payload;
    }
    const budget = cap - OPTION_OVERHEAD;
    if (payload.length > budget && budget < limit) {
      limit = budget >= 16 ? blockSize(szxFor(budget)) : 16;
      capped = true;
    }
  }
  if (isError || (payload.length <= limit && (!block2 || block2.num === 0))) return payload;
  // RFC 7959 §2.4: a payload larger than one block is sent block by block; the rest is kept for follow-ups.
  const reply = held ?? core.block2.hold(key(), spec.code, payload, contentFormat, Date.now());
  const szx = szxFor(limit);
  const num = block2 ? Math.floor((block2.num * blockSize(block2.szx)) / blockSize(szx)) : 0;
  const slice = sliceBlock(reply.payload, num, szx);
  if (!slice) return undefined;
  options.push({ number: OPT.ETAG, value: reply.etag });
  options.push({ number: OPT.BLOCK2, value: blockValue({ num, more: slice.more, szx }) });
  if (num === 0) options.push({ number: OPT.SIZE2, value: uint(reply.payload.length) });
  if (capped) {
    // RFC 9175 §2.4: an Echo value lets the client prove it receives our datagrams; then the cap lifts.
    options.push({ number: OPT.ECHO, value: core.peers.echoFor(peer, Date.now()) });
    core.count('amplification-capped');
  }
  return slice.data;
}
