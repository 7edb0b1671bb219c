/**
 * The contract between listeners and the pipeline: a listener hands each
 * Envelope to the Pipeline and maps the Outcome back; at connect it presents
 * ClientInfo and gets an Admission (authenticators, the routing script's
 * `onConnect`). It lives here, below both, so that neither imports the other.
 */
import type { Envelope, Identity, Protocol, Source, TlsInfo } from './envelope.js';
import type { Outcome } from './outcome.js';

/** What a device asks to do on an address: send to it, subscribe to it (a filter), or receive from it (AMQP source, CoAP observe). */
export type AclAction = 'publish' | 'subscribe' | 'receive';

/** What a connecting device presents, for admission (authenticators, `onConnect` scripts). */
export interface ClientInfo {
  readonly protocol: Protocol;
  readonly listener: string;
  readonly clientId: string;
  readonly username?: string;
  /** Never logged. */
  readonly password?: Buffer;
  /** A bearer token (HTTP `Authorization: Bearer`). Never logged. */
  readonly token?: string;
  /** The SASL mechanism the client chose (AMQP). */
  readonly mechanism?: string;
  /** Who the authenticator chain found the client to be; set for the `onConnect` hook, never by a listener. */
  readonly identity?: Identity;
  readonly remoteAddress: string;
  readonly remotePort?: number;
  readonly tls?: TlsInfo;
}

export type Admission =
  | { readonly ok: true; readonly identity?: Identity }
  /** `status` is 401 (bad credentials) or 403 (not allowed); listeners map it (MQTT 0x86/0x87, AMQP sasl auth failure). */
  | {
      readonly ok: false;
      readonly status: 401 | 403 | 503;
      readonly reason: string;
      /** Set when the refusal is about the client id (binding, takeover); MQTT answers it with its client-id codes. */
      readonly clientIdRefused?: boolean;
    };

/** The northbound side as a listener sees it. */
export interface Pipeline {
  /** Handles one message. Never rejects: every failure is an Outcome. */
  handle(envelope: Envelope): Promise<Outcome>;
  /** Admission of a new connection. Never rejects. */
  admit(client: ClientInfo): Promise<Admission>;
  /**
   * Whether the connection behind `source` may `action` on `address` (the
   * ACL, docs/security.md). Synchronous and cached per connection and
   * address; a denial is reported as an `acl-denied` security event.
   */
  authorize(listener: string, source: Source, action: AclAction, address: string): boolean;
}
