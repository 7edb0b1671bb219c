/**
 * The AMQP idle time-out (AMQP 1.0 §2.4.5) counts only while thinggate reads
 * the connection. rhea closes a connection whose peer sent no frame for
 * twice the `idle-time-out` we announced; while thinggate has paused the
 * socket (an `open` awaiting admission), the peer's heartbeats sit unread,
 * so that silence is not the peer's. Back-pressure does not pause the socket
 * (it withholds credit), so admission is the only such pause today.
 */
import type { RheaConnection } from './rhea-types.js';

/** The parts of rhea's Connection that run its idle check (lib/connection.js: `idle`, `heartbeat_in`). */
interface IdleInternals {
  idle(): void;
  heartbeat_in: NodeJS.Timeout | undefined;
}

/** Restarts the idle clock with a fresh period (call when reading resumes). */
export interface IdleClock {
  restart(): void;
}

/**
 * Makes rhea's idle check wait while `notReading()` is true: when it fires
 * then, a fresh period of twice `idleTimeoutMs` starts instead of closing.
 */
export function deferIdleWhileNotReading(connection: RheaConnection, idleTimeoutMs: number, notReading: () => boolean): IdleClock {
  if (idleTimeoutMs <= 0) return { restart: () => undefined };
  const c = connection as unknown as IdleInternals;
  const idle = c.idle.bind(c);
  const arm = (): void => {
    clearTimeout(c.heartbeat_in);
    c.heartbeat_in = setTimeout(() => c.idle(), idleTimeoutMs * 2);
  };
  c.idle = () => (notReading() ? arm() : idle());
  return {
    restart: () => {
      if (c.heartbeat_in !== undefined) arm();
    },
  };
}
