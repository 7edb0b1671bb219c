/**
 * SASL for one connection (AMQP 1.0 §5.3; PLAIN per RFC 4616, ANONYMOUS per
 * RFC 4505). The mechanisms only capture what the peer presents; the
 * credentials are checked by admission once the open frame names the
 * client's container-id, which the authenticator and `onConnect` scripts see
 * as the client id. A PLAIN user name that no admission step verified is
 * never an identity (admission.ts): the connection is then anonymous.
 */
import type { AmqpSaslMechanism } from '../../config/types.js';

/** What the SASL exchange established. Never logged as a whole (it holds the password). */
export interface SaslResult {
  mechanism?: AmqpSaslMechanism;
  username?: string;
  password?: Buffer;
  /** Why the exchange failed, when it did. */
  failure?: string;
}

/** The mechanism object rhea's SASL server drives: `start` and, for multi-step mechanisms, `step`. */
interface ServerMechanism {
  outcome: boolean | undefined;
  username: string | undefined;
  start(response: Buffer | undefined, hostname?: string): void;
}

/** Splits a PLAIN response `[authzid] NUL authcid NUL passwd` (RFC 4616 §2) without decoding the password. */
export function parsePlain(response: Buffer | undefined): { authzid: string; username: string; password: Buffer } | undefined {
  if (!response) return undefined;
  const a = response.indexOf(0);
  if (a < 0) return undefined;
  const b = response.indexOf(0, a + 1);
  if (b < 0 || response.indexOf(0, b + 1) >= 0) return undefined;
  const username = response.toString('utf8', a + 1, b);
  if (username.length === 0) return undefined;
  return { authzid: response.toString('utf8', 0, a), username, password: Buffer.from(response.subarray(b + 1)) };
}

/**
 * Builds the per-connection mechanism table rhea offers in sasl-mechanisms,
 * filling `result`. EXTERNAL is in it only when the TLS handshake verified a
 * client certificate (`certificateVerified`): the certificate is the credential,
 * checked by the listener's `x509` authenticator at admission.
 */
export function saslMechanisms(offered: readonly AmqpSaslMechanism[], result: SaslResult, certificateVerified = false): Record<string, () => ServerMechanism> {
  // EXTERNAL's optional authorization identity (RFC 4422 App. A.1) is not a credential: the certificate is.
  // ANONYMOUS's optional trace information (RFC 4505 §2) is not an identity. Both succeed on their first message.
  const succeeding = (mechanism: 'EXTERNAL' | 'ANONYMOUS') => (): ServerMechanism => ({
    outcome: undefined,
    username: undefined,
    start() {
      result.mechanism = mechanism;
      this.outcome = true;
    },
  });
  const table: Record<string, () => ServerMechanism> = {};
  for (const name of offered) {
    if (name === 'EXTERNAL') {
      if (certificateVerified) table.EXTERNAL = succeeding('EXTERNAL');
    } else if (name === 'PLAIN') {
      table.PLAIN = () => ({
        outcome: undefined,
        username: undefined,
        start(response: Buffer | undefined) {
          const parsed = parsePlain(response);
          result.mechanism = 'PLAIN';
          if (!parsed) {
            result.failure = 'malformed PLAIN response';
            this.outcome = false;
            return;
          }
          result.username = parsed.username;
          result.password = parsed.password;
          this.username = parsed.username;
          this.outcome = true;
        },
      });
    } else if (name === 'ANONYMOUS') {
      table.ANONYMOUS = succeeding('ANONYMOUS');
    }
  }
  return table;
}
