/**
 * Test support for the CoAP listener tests: a raw UDP client speaking CoAP
 * through coap-packet, an independent codec, so tests control message ids,
 * retransmissions and ACKs.
 */
import { createSocket, type Socket } from 'node:dgram';
import * as coapPacket from 'coap-packet';
import type { ParsedPacket, Packet } from 'coap-packet';

/** A UDP socket speaking raw CoAP, queueing what it receives. */
export class RawClient {
  private readonly sock: Socket = createSocket('udp4');
  private readonly inbox: Array<{ msg: ParsedPacket; raw: Buffer }> = [];
  private waiters: Array<(m: { msg: ParsedPacket; raw: Buffer }) => void> = [];

  /** `bindAddress`: another loopback address (127.0.0.2, …) is another source for per-address limits. */
  constructor(
    private readonly port: number,
    private readonly bindAddress = '127.0.0.1',
  ) {}

  async open(): Promise<this> {
    this.sock.on('message', (raw) => {
      const item = { msg: coapPacket.parse(raw), raw };
      const w = this.waiters.shift();
      if (w) w(item);
      else this.inbox.push(item);
    });
    await new Promise<void>((r) => this.sock.bind(0, this.bindAddress, r));
    return this;
  }

  send(p: Packet | Buffer): void {
    this.sock.send(Buffer.isBuffer(p) ? p : coapPacket.generate(p, 65000), this.port, '127.0.0.1');
  }

  next(timeoutMs = 3000): Promise<{ msg: ParsedPacket; raw: Buffer }> {
    const item = this.inbox.shift();
    if (item) return Promise.resolve(item);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new Error('no datagram within ' + timeoutMs + ' ms'));
      }, timeoutMs);
      const done = (m: { msg: ParsedPacket; raw: Buffer }): void => {
        clearTimeout(timer);
        resolve(m);
      };
      this.waiters.push(done);
    });
  }

  /** True when nothing arrives within `ms` (used only to assert silence after an event). */
  async silent(ms: number): Promise<boolean> {
    try {
      await this.next(ms);
      return false;
    } catch {
      return true;
    }
  }

  get localPort(): number {
    return this.sock.address().port;
  }

  close(): Promise<void> {
    return new Promise((r) => this.sock.close(() => r()));
  }
}

export function opt(p: ParsedPacket, name: string): Buffer | undefined {
  return p.options.find((o) => o.name === name)?.value;
}

export function uintOf(b: Buffer | undefined): number | undefined {
  if (b === undefined) return undefined;
  let n = 0;
  for (const x of b) n = n * 256 + x;
  return n;
}
