import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fingerprint, parseClientHello } from '../../../src/security/client-hello.js';

const u16 = (v: number): number[] => [v >> 8, v & 0xff];
const ext = (type: number, body: number[]): number[] => [...u16(type), ...u16(body.length), ...body];

/** A TLS 1.3 ClientHello record with GREASE values, SNI 'a.example' and ALPN 'mqtt'. */
function hello(): Buffer {
  const ciphers = [0x0a0a, 0x1301, 0x1302, 0xc02b];
  const name = [...Buffer.from('a.example')];
  const exts = [
    ...ext(0x1a1a, []),
    ...ext(0x0000, [...u16(name.length + 3), 0, ...u16(name.length), ...name]),
    ...ext(0x000a, [...u16(4), ...u16(0x001d), ...u16(0x0017)]),
    ...ext(0x000b, [1, 0]),
    ...ext(0x000d, [...u16(4), ...u16(0x0403), ...u16(0x0804)]),
    ...ext(0x0010, [...u16(5), 4, ...Buffer.from('mqtt')]),
    ...ext(0x002b, [4, ...u16(0x0304), ...u16(0x0303)]),
  ];
  const body = [...u16(0x0303), ...new Array(32).fill(7), 0, ...u16(ciphers.length * 2), ...ciphers.flatMap(u16), 1, 0, ...u16(exts.length), ...exts];
  const hs = [0x01, 0, ...u16(body.length), ...body];
  return Buffer.from([0x16, 0x03, 0x01, ...u16(hs.length), ...hs]);
}

const sha12 = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 12);

describe('ClientHello fingerprints', () => {
  it('parses the offer and leaves GREASE out of JA4 and JA3', () => {
    const h = parseClientHello(hello())!;
    expect(h).toMatchObject({ servername: 'a.example', alpn: ['mqtt'], supportedVersions: [0x0304, 0x0303], groups: [0x1d, 0x17] });
    const fp = fingerprint(h);
    // 3 suites and 6 extensions without GREASE; SNI and ALPN count but are not hashed in part c.
    expect(fp.ja4).toBe(`t13d0306mt_${sha12('1301,1302,c02b')}_${sha12('000a,000b,000d,002b_0403,0804')}`);
    expect(fp.ja3).toBe(createHash('md5').update('771,4865-4866-49195,0-10-11-13-16-43,29-23,0').digest('hex'));
  });

  it('is not fooled by a cut-short or non-handshake record', () => {
    expect(parseClientHello(hello().subarray(0, 20))).toBeUndefined();
    expect(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n\r\n'))).toBeUndefined();
    const truncated = hello().subarray(0, hello().length - 7);
    expect(() => parseClientHello(truncated)).not.toThrow();
  });
});
