/**
 * The bench message: a JSON object of exactly `size` bytes carrying the phase
 * number, the client index, the client's sequence number and the send time
 * (CLOCK_MONOTONIC nanoseconds, shared by every process on the machine):
 *
 *   {"r":3,"c":12,"s":4711,"t":123456789012345,"d":"xxxx…"}
 *
 * The back-end finds these fields with one regular expression, so it reads
 * them whether a message arrives alone, inside a JSON batch (as a JSON string,
 * or base64), or re-encoded by a peer, as long as the JSON text survives.
 */

export const DEFAULT_PAYLOAD_BYTES = 200;

/** Monotonic time in nanoseconds as a Number (exact: well below 2^53 on any real uptime). */
export function nowNs() {
  return Number(process.hrtime.bigint());
}

const PAD = 'x'.repeat(4096);

/** Builds one message body of exactly `size` bytes (when size allows). */
export function encodePayload(phase, client, seq, tNs, size = DEFAULT_PAYLOAD_BYTES) {
  const head = `{"r":${phase},"c":${client},"s":${seq},"t":${tNs},"d":"`;
  const padLen = Math.max(0, size - head.length - 2);
  return Buffer.from(`${head}${PAD.slice(0, padLen)}"}`, 'latin1');
}

/**
 * Global regex: matches each message's identity inside any body, also when the
 * message is a JSON string inside another JSON document (quotes escaped as \").
 */
export const MESSAGE_RE = /\\?"r\\?":(\d+),\\?"c\\?":(\d+),\\?"s\\?":(\d+),\\?"t\\?":(\d+)/g;

/**
 * Calls `fn(phase, client, seq, tNs)` for every bench message found in a body.
 * Returns how many were found. Bodies that carry messages as base64 (some
 * batch formats) are decoded once when no plain JSON match is found.
 */
export function forEachMessage(body, fn) {
  const text = body.toString('latin1');
  let n = scan(text, fn);
  if (n === 0) {
    // A batch may carry payloads as base64 strings: decode candidates.
    for (const m of text.matchAll(/"([A-Za-z0-9+/]{40,}={0,2})"/g)) {
      n += scan(Buffer.from(m[1], 'base64').toString('latin1'), fn);
    }
  }
  return n;
}

function scan(text, fn) {
  let n = 0;
  MESSAGE_RE.lastIndex = 0;
  for (let m = MESSAGE_RE.exec(text); m !== null; m = MESSAGE_RE.exec(text)) {
    fn(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]));
    n++;
  }
  return n;
}
