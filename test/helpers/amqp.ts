/**
 * What rhea's typings leave out and the AMQP tests read: the error condition
 * of a closed connection or link (rhea types the error as `AmqpError | Error`)
 * and a sender's current credit.
 */
import type { EventContext, Sender } from 'rhea';

/** The `condition` of the error carried by a rhea object (connection, link, delivery state), if any. */
export function conditionOf(holder: { readonly error?: unknown } | undefined): string | undefined {
  const error = holder?.error as { condition?: unknown } | undefined;
  return typeof error?.condition === 'string' ? error.condition : undefined;
}

/** The condition a `connection_error` event carries. */
export function connectionCondition(ctx: EventContext): string | undefined {
  return conditionOf(ctx.connection);
}

/** The link credit the peer has granted this sender (rhea keeps it as `credit`). */
export function creditOf(sender: Sender): number {
  return (sender as Sender & { readonly credit: number }).credit;
}
