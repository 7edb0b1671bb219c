/**
 * The traffic a listener reports in its ListenerStats. The listener owns one;
 * its connections and handlers say what happened (`messageIn()`,
 * `protocolError()`) instead of incrementing a shared object's fields.
 */
import type { ListenerStats } from './listener.js';

export class ListenerCounters {
  private messagesIn = 0;
  private messagesOut = 0;
  private protocolErrors = 0;

  /** A message from a device entered the pipeline. */
  messageIn(): void {
    this.messagesIn++;
  }

  /** A message went out to a device (a reply or a southbound delivery). */
  messageOut(): void {
    this.messagesOut++;
  }

  /** A peer broke the protocol (reported to the guard as well). */
  protocolError(): void {
    this.protocolErrors++;
  }

  stats(connections: number): ListenerStats {
    return { connections, messagesIn: this.messagesIn, messagesOut: this.messagesOut, protocolErrors: this.protocolErrors };
  }
}
