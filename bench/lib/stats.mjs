/**
 * Small statistics helpers shared by the harness and its processes:
 * per-client sequence bitsets (which messages were acknowledged / received),
 * histogram summaries and median/min/max over runs.
 */
import { createHistogram } from 'node:perf_hooks';

/** One growable bitset per client, indexed by sequence number. */
export class SeqSets {
  constructor() {
    /** @type {Map<number, Uint8Array>} */
    this.sets = new Map();
    this.count = 0;
    this.duplicates = 0;
  }

  add(client, seq) {
    let bits = this.sets.get(client);
    const byte = seq >>> 3;
    if (!bits || byte >= bits.length) {
      const grown = new Uint8Array(Math.max(1024, (byte + 1) * 2));
      if (bits) grown.set(bits);
      bits = grown;
      this.sets.set(client, bits);
    }
    const mask = 1 << (seq & 7);
    if (bits[byte] & mask) {
      this.duplicates++;
      return false;
    }
    bits[byte] |= mask;
    this.count++;
    return true;
  }

  /** Serialisable form for IPC. */
  toJSON() {
    const out = {};
    for (const [c, bits] of this.sets) out[c] = Buffer.from(bits.buffer, bits.byteOffset, bits.length).toString('base64');
    return { count: this.count, duplicates: this.duplicates, sets: out };
  }

  static fromJSON(j) {
    const s = new SeqSets();
    s.count = j.count;
    s.duplicates = j.duplicates;
    for (const [c, b64] of Object.entries(j.sets)) s.sets.set(Number(c), new Uint8Array(Buffer.from(b64, 'base64')));
    return s;
  }

  /** How many members of this set are missing from `other`. */
  missingFrom(other) {
    let missing = 0;
    for (const [c, bits] of this.sets) {
      const o = other.sets.get(c);
      for (let i = 0; i < bits.length; i++) {
        const b = bits[i];
        if (b === 0) continue;
        const ob = o && i < o.length ? o[i] : 0;
        missing += popcount8(b & ~ob);
      }
    }
    return missing;
  }
}

function popcount8(x) {
  x = x - ((x >> 1) & 0x55);
  x = (x & 0x33) + ((x >> 2) & 0x33);
  return (x + (x >> 4)) & 0x0f;
}

/** A latency histogram in nanoseconds (node's HDR histogram). */
export function newHistogram() {
  return createHistogram({ lowest: 1, highest: 120e9, figures: 3 });
}

/** Milliseconds summary of a nanosecond histogram. */
export function summarize(h) {
  if (h.count === 0) return { count: 0 };
  const ms = (ns) => Math.round(ns / 1e3) / 1e3;
  return {
    count: h.count,
    p50: ms(h.percentile(50)),
    p90: ms(h.percentile(90)),
    p99: ms(h.percentile(99)),
    max: ms(h.max),
  };
}

/** Median, min and max of numbers (NaN and undefined ignored). */
export function mmm(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: null, min: null, max: null, n: 0 };
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median, min: v[0], max: v[v.length - 1], n: v.length };
}
