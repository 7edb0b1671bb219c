import { describe, expect, it } from 'vitest';
import { parseProxyHeader, V2_MAX } from '../../../src/listeners/proxy-header.js';

const SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

function v2(verCmd: number, fam: number, body: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length);
  return Buffer.concat([SIG, Buffer.from([verCmd, fam]), len, body]);
}

function inet4(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12);
  Buffer.from(src).copy(b, 0);
  Buffer.from(dst).copy(b, 4);
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}

describe('PROXY protocol version 1 (§2.1)', () => {
  it('reads TCP4 and TCP6 lines and says how long the header was', () => {
    const line = 'PROXY TCP4 192.0.2.7 198.51.100.1 51234 1883\r\n';
    expect(parseProxyHeader(Buffer.from(`${line}\x10\x00`))).toEqual({
      status: 'ok',
      version: 1,
      source: { address: '192.0.2.7', port: 51234, family: 'IPv4' },
      length: line.length,
    });
    const r = parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 4000 443\r\n'));
    expect(r).toMatchObject({ status: 'ok', source: { address: '2001:db8::7', port: 4000, family: 'IPv6' } });
    expect(parseProxyHeader(Buffer.from('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n'))).toMatchObject({ status: 'ok', source: 'local' });
  });

  it('waits for more bytes, and tells a header from no header', () => {
    expect(parseProxyHeader(Buffer.from('PRO')).status).toBe('incomplete');
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 192.0.2.7')).status).toBe('incomplete');
    expect(parseProxyHeader(Buffer.from([0x10, 0x0c, 0x00, 0x04])).status).toBe('absent');
    expect(parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n')).status).toBe('absent');
  });

  it('refuses malformed lines', () => {
    for (const bad of [
      'PROXY TCP4 192.0.2.7 198.51.100.1 51234\r\n',
      'PROXY TCP4 2001:db8::7 198.51.100.1 1 2\r\n',
      'PROXY TCP5 192.0.2.7 198.51.100.1 1 2\r\n',
      'PROXY TCP4 192.0.2.7 198.51.100.1 065535 2\r\n',
      'PROXY TCP4 192.0.2.7 198.51.100.1 70000 2\r\n',
      `PROXY TCP4 ${'1'.repeat(120)}`,
    ]) {
      expect(parseProxyHeader(Buffer.from(bad)), bad).toMatchObject({ status: 'invalid', clause: 'PROXY-2.1' });
    }
  });
});

describe('PROXY protocol version 2 (§2.2)', () => {
  it('reads AF_INET and AF_INET6 addresses and skips TLVs', () => {
    const tlv = Buffer.from([0x05, 0x00, 0x02, 0xab, 0xcd]);
    const h = v2(0x21, 0x11, Buffer.concat([inet4([203, 0, 113, 9], [10, 0, 0, 1], 40000, 1883), tlv]));
    expect(parseProxyHeader(Buffer.concat([h, Buffer.from('rest')]))).toEqual({
      status: 'ok',
      version: 2,
      source: { address: '203.0.113.9', port: 40000, family: 'IPv4' },
      length: h.length,
    });
    const six = Buffer.alloc(36);
    Buffer.from('20010db8000000000000000000000007', 'hex').copy(six, 0);
    six.writeUInt16BE(5555, 32);
    expect(parseProxyHeader(v2(0x21, 0x21, six))).toMatchObject({ source: { address: '2001:db8::7', port: 5555, family: 'IPv6' } });
  });

  it('keeps the connection address for LOCAL and AF_UNSPEC', () => {
    expect(parseProxyHeader(v2(0x20, 0x00, Buffer.alloc(0)))).toMatchObject({ status: 'ok', source: 'local', length: 16 });
    expect(parseProxyHeader(v2(0x21, 0x00, Buffer.alloc(0)))).toMatchObject({ status: 'ok', source: 'local' });
  });

  it('waits for the whole block', () => {
    const h = v2(0x21, 0x11, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2));
    for (const n of [1, 12, 15, h.length - 1]) expect(parseProxyHeader(h.subarray(0, n)).status).toBe('incomplete');
  });

  it('refuses bad versions, commands, families, short address blocks and oversize headers', () => {
    const addr = inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2);
    expect(parseProxyHeader(v2(0x11, 0x11, addr))).toMatchObject({ status: 'invalid', clause: 'PROXY-2.2' });
    expect(parseProxyHeader(v2(0x22, 0x11, addr))).toMatchObject({ status: 'invalid' });
    expect(parseProxyHeader(v2(0x21, 0x41, addr))).toMatchObject({ status: 'invalid' });
    expect(parseProxyHeader(v2(0x21, 0x12, addr))).toMatchObject({ status: 'invalid' }); // DGRAM on a stream
    expect(parseProxyHeader(v2(0x21, 0x11, addr.subarray(0, 8)))).toMatchObject({ status: 'invalid' });
    expect(parseProxyHeader(v2(0x21, 0x21, addr))).toMatchObject({ status: 'invalid' });
    const big = Buffer.concat([SIG, Buffer.from([0x21, 0x11, 0xff, 0xff])]);
    expect(parseProxyHeader(big)).toMatchObject({ status: 'invalid', reason: expect.stringContaining(String(V2_MAX)) });
  });
});
