/** Reading rhea's errors: a short description, and the AMQP condition to close with. */

/** A one-line description of an error or of an endpoint's remote error. */
export function describe(x: unknown): string {
  if (x instanceof Error) return x.message;
  const err = (x as { error?: { condition?: string; description?: string } } | undefined)?.error;
  return err ? `${err.condition ?? ''} ${err.description ?? ''}`.trim() : String(x);
}

/** The close condition for an error rhea threw while reading (AMQP 1.0 §2.8.15, §2.8.16, §2.8.17). */
export function conditionForRheaError(e: unknown): string {
  const name = e instanceof Error ? e.name : '';
  const message = e instanceof Error ? e.message : String(e);
  if (/invalid handle/i.test(message)) return 'amqp:session:unattached-handle';
  if (/already received|after detach|sequence error/i.test(message)) return 'amqp:illegal-state';
  if (name === 'ProtocolError') return 'amqp:connection:framing-error';
  return 'amqp:decode-error';
}
