import { describe, expect, it } from 'vitest';
import { accepted, rejected, unavailable, type Outcome } from '../../../../src/envelope/index.js';
import * as C from '../../../../src/listeners/coap/codes.js';
import { codeText, TYPE_CON } from '../../../../src/listeners/coap/codec.js';
import { outcomeSpec, publicReason } from '../../../../src/listeners/coap/handle-request.js';
import { isProblem, readRequest, type CoapRequest } from '../../../../src/listeners/coap/request.js';
import { OPT, readUint } from '../../../../src/listeners/coap/options.js';
import type { CoapCore } from '../../../../src/listeners/coap/core.js';

const core = { maxBodyBytes: 1000 } as CoapCore;
const req = (method: string, accept?: number): CoapRequest => ({ method, address: 'a', ...(accept !== undefined && { accept }) });
const codeOf = (o: Outcome, method = 'POST'): string => codeText(outcomeSpec(core, req(method), o).code);

describe('outcome → CoAP response code (RFC 8075 §7)', () => {
  it('maps accepted outcomes by status, payload and method', () => {
    expect(codeOf(accepted(201))).toBe('2.01');
    expect(codeOf(accepted(200), 'POST')).toBe('2.04');
    expect(codeOf(accepted(204), 'PUT')).toBe('2.04');
    expect(codeOf(accepted(200), 'DELETE')).toBe('2.02');
    expect(codeOf(accepted(200), 'GET')).toBe('2.05');
    expect(codeOf(accepted(200, { payload: Buffer.from('x'), status: 200 }), 'POST')).toBe('2.05');
    expect(codeOf(accepted(202))).toBe('2.04');
  });

  it('maps rejections', () => {
    const table: Array<[number, string]> = [
      [400, '4.00'],
      [401, '4.01'],
      [403, '4.03'],
      [404, '4.04'],
      [405, '4.05'],
      [406, '4.06'],
      [409, '4.09'],
      [410, '4.00'],
      [412, '4.12'],
      [413, '4.13'],
      [415, '4.15'],
      [422, '4.22'],
      [429, '4.29'],
      [500, '5.00'],
      [501, '5.01'],
    ];
    for (const [status, code] of table) expect(codeOf(rejected(status, 'TG_ERR_UPSTREAM_REJECTED', 'r')), String(status)).toBe(code);
  });

  it('maps unavailability: 503 → 5.03 with Max-Age, 504 → 5.04, other 5xx → 5.02', () => {
    const spec = outcomeSpec(core, req('POST'), unavailable('TG_ERR_POOL_OVERLOADED', 'busy', 2500));
    expect(codeText(spec.code)).toBe('5.03');
    expect(readUint(spec.options!.find((o) => o.number === OPT.MAX_AGE)!.value)).toBe(3);
    expect(codeOf(unavailable('TG_ERR_UPSTREAM_TIMEOUT', 't', undefined, 504))).toBe('5.04');
    expect(codeOf(unavailable('TG_ERR_UPSTREAM_REJECTED', 'x', undefined, 502))).toBe('5.02');
  });

  it('adds Size1 to 4.13 and answers 4.06 when Accept cannot be met', () => {
    const big = outcomeSpec(core, req('POST'), rejected(413, 'TG_ERR_UPSTREAM_REJECTED', 'big'));
    expect(readUint(big.options!.find((o) => o.number === OPT.SIZE1)!.value)).toBe(1000);
    const json = accepted(200, { payload: Buffer.from('{}'), status: 200, contentType: 'application/json' });
    expect(codeText(outcomeSpec(core, req('GET', 60), json).code)).toBe('4.06');
    const ok = outcomeSpec(core, req('GET', 50), json);
    expect(codeText(ok.code)).toBe('2.05');
    expect(ok.contentFormat).toBe(50);
  });

  it('keeps back-end URLs out of diagnostics', () => {
    expect(publicReason(rejected(404, 'TG_ERR_UPSTREAM_REJECTED', 'back-end http://10.0.0.1:8080 answered 404'))).toBe('TG_ERR_UPSTREAM_REJECTED');
    expect(publicReason(rejected(404, 'TG_ERR_NO_ROUTE', "no route matches address 'x'"))).toBe("no route matches address 'x'");
  });

  it('names every method code and only those', () => {
    expect(C.METHODS.slice(1)).toEqual(['GET', 'POST', 'PUT', 'DELETE', 'FETCH', 'PATCH', 'IPATCH']);
  });
});

describe('request options → address and headers', () => {
  const m = (options: Array<[number, Buffer | string]>) => ({
    type: TYPE_CON as 0,
    code: 2,
    messageId: 1,
    token: Buffer.alloc(0),
    options: options.map(([number, v]) => ({ number, value: Buffer.isBuffer(v) ? v : Buffer.from(v) })),
    payload: Buffer.alloc(0),
  });

  it('joins Uri-Path into the address and Uri-Query into the uri-query header', () => {
    const r = readRequest(
      m([
        [OPT.URI_HOST, 'gw.example'],
        [OPT.URI_PATH, 'a'],
        [OPT.URI_PATH, 'b c'],
        [OPT.CONTENT_FORMAT, Buffer.from([50])],
        [OPT.URI_QUERY, 'x=1'],
        [OPT.URI_QUERY, 'y=2'],
        [OPT.ACCEPT, Buffer.from([60])],
      ]),
      'POST',
    );
    if (isProblem(r)) throw new Error(r.reason);
    expect(r.address).toBe('a/b c');
    expect(r.query).toBe('x=1&y=2');
    expect(r.contentFormat).toBe(50);
    expect(r.headers).toEqual({ 'uri-host': 'gw.example', 'uri-query': 'x=1&y=2', 'content-format': '50', accept: 'application/cbor' });
  });

  it('carries unknown elective options as hex and refuses unknown critical ones and proxying', () => {
    const ok = readRequest(m([[2048, Buffer.from([0xab])]]), 'GET');
    expect(!isProblem(ok) && ok.headers).toEqual({ 'coap-option-2048': 'ab' });
    const bad = readRequest(m([[2049, Buffer.from([1])]]), 'GET');
    expect(isProblem(bad) && bad.kind).toBe('bad-option');
    const proxy = readRequest(m([[OPT.PROXY_URI, 'coap://x/']]), 'GET');
    expect(isProblem(proxy) && proxy.kind).toBe('proxy');
    const bert = readRequest(m([[OPT.BLOCK1, Buffer.from([0x0f])]]), 'PUT');
    expect(isProblem(bert) && bert.reason).toContain('BERT');
  });
});
