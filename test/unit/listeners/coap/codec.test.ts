import { describe, expect, it } from 'vitest';
import * as coapPacket from 'coap-packet';
import {
  CoapFormatError,
  TYPE_ACK,
  TYPE_CON,
  TYPE_NON,
  TYPE_RST,
  codeText,
  emptyMessage,
  parseMessage,
  serializeMessage,
  type CoapMessage,
} from '../../../../src/listeners/coap/codec.js';

const msg = (m: Partial<CoapMessage>): CoapMessage => ({
  type: TYPE_CON,
  code: 0x01,
  messageId: 1,
  token: Buffer.alloc(0),
  options: [],
  payload: Buffer.alloc(0),
  ...m,
});

function formatError(bytes: number[]): CoapFormatError {
  try {
    parseMessage(Buffer.from(bytes));
  } catch (err) {
    expect(err).toBeInstanceOf(CoapFormatError);
    expect((err as CoapFormatError).code).toBe('TG_ERR_COAP_MALFORMED');
    return err as CoapFormatError;
  }
  throw new Error('parsed without error');
}

describe('CoAP codec (RFC 7252 §3)', () => {
  it('round-trips options needing 1- and 2-byte extended deltas and lengths', () => {
    const m = msg({
      type: TYPE_NON,
      code: 0x02,
      messageId: 0xbeef,
      token: Buffer.from('0102030405060708', 'hex'),
      options: [
        { number: 11, value: Buffer.from('a') },
        { number: 11, value: Buffer.alloc(20, 0x62) }, // length 13..268
        { number: 60, value: Buffer.from([1]) }, // delta 13..268
        { number: 2049, value: Buffer.alloc(300, 0x63) }, // delta and length ≥ 269
      ],
      payload: Buffer.from('payload'),
    });
    const parsed = parseMessage(serializeMessage(m));
    expect(parsed.type).toBe(TYPE_NON);
    expect(parsed.code).toBe(0x02);
    expect(parsed.messageId).toBe(0xbeef);
    expect(parsed.token.equals(m.token)).toBe(true);
    expect(parsed.options.map((o) => [o.number, o.value.length])).toEqual([
      [11, 1],
      [11, 20],
      [60, 1],
      [2049, 300],
    ]);
    expect(parsed.payload.toString()).toBe('payload');
  });

  it('agrees with an independent codec (coap-packet) both ways', () => {
    const theirs = coapPacket.generate({
      confirmable: true,
      code: 'PUT',
      messageId: 42,
      token: Buffer.from([9, 8]),
      options: [
        { name: 'Uri-Path', value: Buffer.from('x') },
        { name: 'Content-Format', value: Buffer.from([50]) },
      ],
      payload: Buffer.from('{}'),
    });
    const ours = parseMessage(theirs);
    expect(ours.code).toBe(0x03);
    expect(ours.options.map((o) => o.number)).toEqual([11, 12]);
    const back = coapPacket.parse(serializeMessage(ours));
    expect(back.code).toBe('0.03');
    expect(back.payload.toString()).toBe('{}');
    expect(back.token.equals(Buffer.from([9, 8]))).toBe(true);
  });

  it('builds Empty ACK and RST messages', () => {
    expect(emptyMessage(TYPE_ACK, 0x1234)).toEqual(Buffer.from([0x60, 0, 0x12, 0x34]));
    expect(emptyMessage(TYPE_RST, 7)).toEqual(Buffer.from([0x70, 0, 0, 7]));
    expect(codeText(0x45)).toBe('2.05');
    expect(codeText(0x9d)).toBe('4.29');
  });

  it('rejects every message format error, keeping the header when it was readable', () => {
    expect(formatError([0x40, 0x01]).header).toBeUndefined(); // shorter than the header
    expect(formatError([0x80, 0x01, 0, 1]).header).toBeUndefined(); // version 2: ignored, no RST
    expect(formatError([0x49, 0x01, 0, 1]).header).toEqual({ type: TYPE_CON, messageId: 1 }); // TKL 9
    expect(formatError([0x42, 0x01, 0, 1, 0xaa]).header?.messageId).toBe(1); // truncated token
    formatError([0x41, 0x00, 0, 1, 0xaa]); // Empty message with a token (§4.1)
    formatError([0x40, 0x00, 0, 1, 0xff, 1]); // Empty message with a payload
    formatError([0x40, 0x01, 0, 1, 0xff]); // payload marker without payload
    formatError([0x40, 0x01, 0, 1, 0xf1, 0]); // reserved delta nibble 15
    formatError([0x40, 0x01, 0, 1, 0x1f]); // reserved length nibble 15
    formatError([0x40, 0x01, 0, 1, 0xd1]); // truncated 1-byte delta
    formatError([0x40, 0x01, 0, 1, 0xe1, 0]); // truncated 2-byte delta
    formatError([0x40, 0x01, 0, 1, 0x1e, 0]); // truncated 2-byte length
    formatError([0x40, 0x01, 0, 1, 0xb5, 0x61]); // value past the end
    formatError([0x40, 0x01, 0, 1, 0xe0, 0xff, 0x00, 0xe0, 0xff, 0x00]); // option number above 65535
  });

  it('never throws anything but CoapFormatError on random input', () => {
    for (let i = 0; i < 5000; i++) {
      const b = Buffer.alloc(Math.floor(Math.random() * 40));
      for (let j = 0; j < b.length; j++) b[j] = Math.floor(Math.random() * 256);
      try {
        const m = parseMessage(b);
        // Whatever parses serialises to a message that parses to the same thing.
        const again = parseMessage(serializeMessage(m));
        expect(again.options.map((o) => [o.number, o.value.toString('hex')])).toEqual(m.options.map((o) => [o.number, o.value.toString('hex')]));
        expect(again.payload.equals(m.payload)).toBe(true);
      } catch (err) {
        expect(err).toBeInstanceOf(CoapFormatError);
      }
    }
  });
});
