/**
 * One device peer of a plugin listener — a TCP (or TLS) connection, or one
 * UDP source address and port — and the plugin's protocol state machine for
 * it. The peer owns what does not depend on the transport: admission, the
 * envelopes handed to the pipeline, back-pressure, presence in the device
 * registry for southbound delivery, and error isolation (a throw in the
 * plugin's code closes this peer only, is logged and reported to the guard
 * as `plugin-error`).
 */
import type { Logger } from 'pino';
import { createEnvelope, type Identity, type Outcome, type Protocol, type Source } from '../envelope/index.js';
import type { ListenerContext } from '../listeners/listener.js';
import type { StreamConnection, StreamProtocol, StreamSession } from './stream-contract.js';
import { StreamSubscriber } from './stream-southbound.js';

/** What a peer needs of its transport. */
export interface PeerTransport {
  readonly remoteAddress: string;
  readonly remotePort?: number;
  /** Each `onData` call is one datagram (UDP); otherwise a byte stream. */
  readonly datagram: boolean;
  write(bytes: Uint8Array, onWritten?: () => void): void;
  /** Closes the connection (UDP: forgets the source). */
  destroy(): void;
  /** At `limits.maxInflight`: stop reading (TCP) or drop what arrives (UDP). */
  pause(): void;
  resume(): void;
  /** The first frame arrived: the accept-time deadline no longer applies. */
  admitted(): void;
  idleTimeout(ms: number): void;
}

/** The listener's side, shared by its peers. */
export interface PeerHost {
  readonly name: string;
  readonly protocol: Protocol;
  readonly context: ListenerContext;
  readonly impl: StreamProtocol;
  readonly options: unknown;
  readonly counts: { messagesIn: number; messagesOut: number; protocolErrors: number };
  /** The peers present in the device registry, by client id (Listener.deliver). */
  readonly subscribers: Map<string, StreamSubscriber>;
}

export class StreamPeer {
  inflight = 0;
  private closed = false;
  private clientId: string | undefined;
  private identity: Identity | undefined;
  private admission: Promise<boolean> | undefined;
  private subscriber: StreamSubscriber | undefined;
  private frozenSource: Source | undefined;
  private session: StreamSession | undefined;
  private readonly log: Logger;
  readonly connection: StreamConnection;

  constructor(
    private readonly host: PeerHost,
    private readonly transport: PeerTransport,
  ) {
    this.log = host.context.logger.child({ remoteAddress: transport.remoteAddress });
    this.connection = this.connectionView();
    this.guarded('open', () => {
      this.session = host.impl.open(this.connection, host.options);
    })();
  }

  /** Closed already (its protocol's `open` may have thrown). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes (TCP) or one datagram (UDP) arrived. */
  readonly data = this.guarded('onData', (chunk: Buffer) => this.session?.onData(chunk));

  /** The transport is gone: leave the registry, settle what the device did not take, tell the plugin. */
  ended(): void {
    this.closed = true;
    const sub = this.subscriber;
    if (sub) {
      this.subscriber = undefined;
      if (this.host.subscribers.get(sub.clientId) === sub) this.host.subscribers.delete(sub.clientId);
      this.host.context.devices.disconnect(sub);
      sub.close();
    }
    try {
      this.session?.onClose?.();
    } catch (err) {
      this.log.warn({ err }, 'plugin listener failed in onClose');
    }
  }

  private close(err: unknown, where: string): void {
    if (this.closed) return;
    this.closed = true;
    this.host.counts.protocolErrors++;
    this.log.warn({ err }, `plugin listener failed in ${where}: closing the connection`);
    this.host.context.guard.report({
      kind: 'plugin-error',
      listener: this.host.name,
      remoteAddress: this.transport.remoteAddress,
      ...(this.clientId !== undefined && { clientId: this.clientId }),
      detail: `${where}: ${(err as Error)?.message ?? String(err)}`,
    });
    this.transport.destroy();
  }

  private guarded<A extends unknown[]>(where: string, fn: (...a: A) => void): (...a: A) => void {
    return (...a: A): void => {
      if (this.closed) return;
      try {
        fn(...a);
      } catch (err) {
        this.close(err, where);
      }
    };
  }

  private setInflight(delta: number): void {
    this.inflight += delta;
    // Back-pressure: stop reading at maxInflight, as MQTT does at its receive maximum.
    if (this.inflight >= this.host.context.config.limits.maxInflight) this.transport.pause();
    else if (delta < 0 && !this.closed) this.transport.resume();
  }

  private source(): { remoteAddress: string; remotePort?: number } {
    const { remoteAddress, remotePort } = this.transport;
    return { remoteAddress, ...(remotePort !== undefined && { remotePort }) };
  }

  /** The envelopes' source, built and frozen once per client id and identity rather than per frame. */
  private envelopeSource(): Source {
    if (this.frozenSource) return this.frozenSource;
    const { remoteAddress, remotePort } = this.transport;
    this.frozenSource = Object.freeze({
      clientId: this.clientId ?? `${remoteAddress}:${remotePort ?? 0}`,
      ...this.source(),
      ...(this.identity && { identity: this.identity }),
    });
    return this.frozenSource;
  }

  /** A message's outcome: back-pressure released, then the plugin's handler (a throw closes the connection). */
  private outcome(outcome: Outcome, onOutcome: ((outcome: Outcome) => void) | undefined): void {
    if (this.closed) return;
    this.setInflight(-1);
    if (!onOutcome) return;
    try {
      onOutcome(outcome);
    } catch (err) {
      this.close(err, 'onOutcome');
    }
  }

  private identify(id: string): Promise<boolean> {
    const { context, name, protocol } = this.host;
    this.transport.admitted();
    this.clientId = id;
    this.frozenSource = undefined;
    this.admission = context.pipeline.admit({ protocol, listener: name, clientId: id, ...this.source() }).then((a) => {
      this.admission = undefined;
      if (this.closed) return false;
      if (!a.ok) {
        context.guard.report({ kind: 'auth-failure', listener: name, remoteAddress: this.transport.remoteAddress, clientId: id, detail: a.reason });
        this.closed = true;
        this.transport.destroy();
        return false;
      }
      this.identity = a.identity;
      this.frozenSource = undefined;
      if (this.session?.deliver) this.present(id);
      return true;
    });
    return this.admission;
  }

  /** Registers the peer with the device registry, so commands and publications reach it; an older peer of the id is closed. */
  private present(clientId: string): void {
    const sub = new StreamSubscriber(clientId, this.host.name, this.identity?.principal, {
      session: () => this.session,
      closeForTakeOver: () => {
        this.closed = true;
        this.transport.destroy();
      },
      failed: (err, where) => this.close(err, where),
    });
    this.subscriber = sub;
    this.host.subscribers.set(clientId, sub);
    this.host.context.devices.connect(sub)?.takeOver?.();
  }

  private connectionView(): StreamConnection {
    const peer = this;
    const { host, transport } = this;
    const { config, pipeline } = host.context;
    return {
      listener: host.name,
      remoteAddress: transport.remoteAddress,
      ...(transport.remotePort !== undefined && { remotePort: transport.remotePort }),
      datagram: transport.datagram,
      maxFrameBytes: config.limits.maxPacketBytes,
      logger: this.log,
      get clientId() {
        return peer.clientId;
      },
      identify: (id) => this.identify(id),
      subscribe: (filter, qos = 1) => {
        if (!this.subscriber) throw new Error('subscribe before the device was identified and admitted');
        host.context.devices.subscribe(this.subscriber, filter, { qos });
      },
      publish: (message, onOutcome) => {
        transport.admitted();
        if (this.admission) {
          void this.admission.then((ok) => ok && this.connection.publish(message, onOutcome));
          return;
        }
        if (this.closed) return;
        host.counts.messagesIn++;
        this.setInflight(1);
        const env = createEnvelope({
          protocol: host.protocol,
          listener: host.name,
          source: this.envelopeSource(),
          address: message.address,
          method: 'PUBLISH',
          payload: message.payload,
          ...(message.contentType !== undefined && { contentType: message.contentType }),
          ...(message.headers !== undefined && { headers: message.headers }),
          delivery: message.delivery ?? 'at-least-once',
        });
        void pipeline.handle(env).then((outcome) => this.outcome(outcome, onOutcome));
      },
      write: (bytes, onWritten) => {
        if (this.closed) return;
        host.counts.messagesOut++;
        transport.write(bytes, onWritten && this.guarded('onWritten', onWritten));
      },
      idleTimeout: (ms) => transport.idleTimeout(ms),
      fail: (detail, clause) => {
        if (this.closed) return;
        this.closed = true;
        host.counts.protocolErrors++;
        host.context.guard.report({
          kind: 'protocol-error',
          listener: host.name,
          remoteAddress: transport.remoteAddress,
          ...(this.clientId !== undefined && { clientId: this.clientId }),
          ...(clause !== undefined && { clause }),
          detail,
        });
        transport.destroy();
      },
    };
  }
}

/** Resolves once no peer has a message in the pipeline, or after `timeoutMs` (a draining stop). */
export function drained(peers: () => Iterable<StreamPeer>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  const idle = (): boolean => {
    for (const p of peers()) if (p.inflight > 0) return false;
    return true;
  };
  return new Promise((resolve) => {
    const tick = (): void => {
      if (idle() || Date.now() >= until) resolve();
      else setTimeout(tick, 10);
    };
    tick();
  });
}
