/**
 * The shapes the CoAP listener's parts share: a request being answered, the
 * answer before Block2 slicing, and the events counted. Kept apart from
 * core.ts so the parts core.ts uses need not import it.
 */
import type { CoapOption } from './codec.js';
import type { Block2Store } from './blockwise.js';
import type { Exchange } from './exchanges.js';
import type { Peer, PeerTable } from './peers.js';
import type { CoapRequest } from './request.js';

/** Where a datagram goes. */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/** One request being answered. */
export interface RequestContext {
  readonly peer: Peer;
  readonly messageId: number;
  readonly token: Buffer;
  readonly confirmable: boolean;
  /** Datagram size of the request: the amplification budget (RFC 9175 §2.4). */
  readonly requestBytes: number;
  readonly req: CoapRequest;
  readonly exchange: Exchange;
}

/** What to answer, before Block2 slicing and the amplification cap. */
export interface ResponseSpec {
  readonly code: number;
  readonly payload?: Buffer;
  readonly contentFormat?: number;
  /** Extra options (Observe, Max-Age, Block1, Size1, Location-*); sorted on sending. */
  readonly options?: CoapOption[];
}

export type CoapEvent =
  | 'duplicate'
  | 'separate'
  | 'retransmit'
  | 'transmit-timeout'
  | 'rate-limited'
  | 'block1-continue'
  | 'block2-served'
  | 'amplification-capped'
  | 'observe-register'
  | 'observe-deregister'
  | 'notification'
  | 'malformed'
  | 'dropped'
  | 'dtls-hello-verify'
  | 'dtls-established'
  | 'dtls-failed'
  | 'dtls-closed';

/** What Block2 slicing and the amplification cap need of the listener (shape.ts). */
export interface ShapingContext {
  readonly options: { readonly blockSize: number; readonly amplificationFactor: number };
  readonly block2: Block2Store;
  readonly peers: PeerTable;
  count(event: CoapEvent): void;
}
