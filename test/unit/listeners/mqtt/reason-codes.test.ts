import { describe, expect, it } from 'vitest';
import { accepted, rejected, unavailable } from '../../../../src/envelope/index.js';
import { admissionReturnCode, outcomeReasonCode } from '../../../../src/listeners/mqtt/reason-codes.js';

describe('outcomeReasonCode', () => {
  it('maps accepted to success', () => {
    expect(outcomeReasonCode(accepted(200))).toBe(0x00);
    expect(outcomeReasonCode(accepted(202))).toBe(0x00);
  });

  it.each([
    [401, 0x87],
    [403, 0x87],
    [400, 0x99],
    [413, 0x99],
    [415, 0x99],
    [422, 0x99],
    [404, 0x90],
    [429, 0x97],
    [409, 0x80],
    [410, 0x80],
  ])('maps rejected %i to 0x%s', (status, code) => {
    expect(outcomeReasonCode(rejected(status, 'TG_ERR_UPSTREAM_REJECTED', 'r'))).toBe(code);
  });

  it('maps unavailable to 0x80', () => {
    expect(outcomeReasonCode(unavailable('TG_ERR_UPSTREAM_STATUS', 'down'))).toBe(0x80);
    expect(outcomeReasonCode(unavailable('TG_ERR_UPSTREAM_TIMEOUT', 'slow', undefined, 504))).toBe(0x80);
  });
});

describe('admissionReturnCode', () => {
  it('maps refusals per protocol version', () => {
    expect([401, 403, 503].map((s) => admissionReturnCode(s as 401 | 403 | 503, 5))).toEqual([0x86, 0x87, 0x88]);
    expect([401, 403, 503].map((s) => admissionReturnCode(s as 401 | 403 | 503, 4))).toEqual([0x04, 0x05, 0x03]);
  });
});
