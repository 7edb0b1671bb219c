import { describe, expect, it } from 'vitest';
import rhea from 'rhea';
import { deviceMessage, idToString, mapBody, mapExpiry, mapHeaders, replyMessage } from '../../../../src/listeners/amqp/message-mapping.js';
import { conditionForStatus, dispositionFor } from '../../../../src/listeners/amqp/outcome-mapping.js';
import { parsePlain } from '../../../../src/listeners/amqp/sasl.js';

/** Round-trips a message through rhea's encoder and decoder, as it would cross the wire. */
function wire(m: object): Record<string, unknown> {
  return rhea.message.decode(rhea.message.encode(m)) as unknown as Record<string, unknown>;
}

describe('AMQP body mapping', () => {
  it('takes data sections as bytes, concatenating several', () => {
    expect(mapBody(wire({ body: rhea.message.data_section(Buffer.from('abc')) }).body)).toEqual({
      payload: Buffer.from('abc'),
      impliedType: 'application/octet-stream',
    });
    const multi = wire({ body: rhea.message.data_sections([Buffer.from('ab'), Buffer.from('cd')]) }).body;
    expect(mapBody(multi).payload.toString()).toBe('abcd');
  });

  it('takes amqp-value strings as UTF-8 text and other values as JSON', () => {
    expect(mapBody(wire({ body: 'héllo' }).body)).toEqual({ payload: Buffer.from('héllo'), impliedType: 'text/plain; charset=utf-8' });
    expect(mapBody(wire({ body: { t: 21.5, ok: true } }).body)).toEqual({ payload: Buffer.from('{"t":21.5,"ok":true}'), impliedType: 'application/json' });
    expect(mapBody(wire({ body: 42 }).body).payload.toString()).toBe('42');
    expect(mapBody(wire({ body: Buffer.from([1, 2]) }).body).payload).toEqual(Buffer.from([1, 2]));
    expect(mapBody(wire({ body: rhea.message.sequence_section([1, 'a']) }).body).payload.toString()).toBe('[1,"a"]');
    expect(mapBody(undefined).payload).toHaveLength(0);
  });
});

describe('AMQP property mapping', () => {
  it('lower-cases and stringifies application-properties and adds subject and message-id', () => {
    const m = wire({ subject: 'temp', message_id: 7, application_properties: { Unit: 'C', Count: 3, Flag: true } });
    expect(mapHeaders(m)).toEqual({ unit: 'C', count: '3', flag: 'true', 'amqp-subject': 'temp', 'amqp-message-id': '7' });
  });

  it('renders uuid ids canonically and other binary ids in hex', () => {
    expect(idToString(Buffer.from('00112233445566778899aabbccddeeff', 'hex'))).toBe('00112233-4455-6677-8899-aabbccddeeff');
    expect(idToString(Buffer.from([1, 2]))).toBe('0102');
    expect(idToString('abc')).toBe('abc');
  });

  it('turns ttl and absolute-expiry-time into expiresAt, the earlier winning', () => {
    expect(mapExpiry({ ttl: 1000 }, 5000)).toBe(6000);
    expect(mapExpiry({ ttl: 1000, absolute_expiry_time: new Date(5500) }, 5000)).toBe(5500);
    expect(mapExpiry({}, 5000)).toBeUndefined();
  });

  it('builds replies with the correlation id and status, and device messages with headers and ttl', () => {
    const r = replyMessage({ payload: Buffer.from('ok'), status: 201, contentType: 'text/plain' }, 'rep', 'id-1', (b) => b);
    expect(r).toEqual({ to: 'rep', correlation_id: 'id-1', content_type: 'text/plain', application_properties: { status: 201 }, body: Buffer.from('ok') });
    const d = deviceMessage({ topic: 'd/1', payload: Buffer.from('x'), qos: 1, retain: false, headers: { a: 'b' }, expiresAt: 2000 }, 1500, (b) => b);
    expect(d).toEqual({ to: 'd/1', body: Buffer.from('x'), ttl: 500, application_properties: { a: 'b' } });
  });
});

describe('AMQP outcome mapping', () => {
  it('maps statuses to amqp: conditions', () => {
    expect([401, 403, 404, 400, 415, 413, 429, 409, 422].map(conditionForStatus)).toEqual([
      'amqp:unauthorized-access',
      'amqp:unauthorized-access',
      'amqp:not-found',
      'amqp:decode-error',
      'amqp:decode-error',
      'amqp:resource-limit-exceeded',
      'amqp:resource-limit-exceeded',
      'amqp:precondition-failed',
      'amqp:precondition-failed',
    ]);
  });

  it('settles accepted, rejected with the reason, and unavailable as released or modified', () => {
    expect(dispositionFor({ kind: 'accepted', status: 200 }, 'released')).toEqual({ state: 'accepted' });
    expect(dispositionFor({ kind: 'rejected', status: 404, code: 'TG_ERR_UPSTREAM_UNAVAILABLE', reason: 'gone' }, 'released')).toEqual({
      state: 'rejected',
      error: { condition: 'amqp:not-found', description: 'gone' },
    });
    const u = { kind: 'unavailable', status: 503, code: 'TG_ERR_UPSTREAM_UNAVAILABLE', reason: 'down' } as const;
    expect(dispositionFor(u, 'released')).toEqual({ state: 'released' });
    expect(dispositionFor(u, 'modified')).toEqual({ state: 'modified', deliveryFailed: true });
  });
});

describe('SASL PLAIN parsing (RFC 4616)', () => {
  it('splits authzid, authcid and password, keeping the password as bytes', () => {
    expect(parsePlain(Buffer.from('\u0000dev\u0000pw\u00ff', 'latin1'))).toEqual({ authzid: '', username: 'dev', password: Buffer.from('pw\u00ff', 'latin1') });
    expect(parsePlain(Buffer.from('zid\u0000dev\u0000pw'))).toMatchObject({ authzid: 'zid', username: 'dev' });
  });

  it('refuses responses without exactly two separators or without a user', () => {
    expect(parsePlain(Buffer.from('devpw'))).toBeUndefined();
    expect(parsePlain(Buffer.from('\u0000\u0000pw'))).toBeUndefined();
    expect(parsePlain(Buffer.from('\u0000a\u0000b\u0000c'))).toBeUndefined();
    expect(parsePlain(undefined)).toBeUndefined();
  });
});
