/** A command record as the API shows it: times in ISO 8601, the device's response payload decoded where it is text. */
import type { CommandRecord } from '../../state/mailbox.js';

const iso = (ms: number): string => new Date(ms).toISOString();

/** Shows a payload as JSON when its content type says so and it parses, as text when it is UTF-8 text, else base64 only. */
function showPayload(base64: string, contentType: string | undefined): Record<string, unknown> {
  const bytes = Buffer.from(base64, 'base64');
  const out: Record<string, unknown> = { payload: base64 };
  const text = bytes.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(bytes)) return out;
  out.text = text;
  if (contentType?.includes('json') === true) {
    try {
      out.json = JSON.parse(text);
    } catch {
      // not JSON after all: the text stands
    }
  }
  return out;
}

export function commandView(r: CommandRecord): Record<string, unknown> {
  const timestamps: Record<string, string> = {};
  for (const [state, at] of Object.entries(r.timestamps)) timestamps[state] = iso(at);
  return {
    id: r.id,
    clientId: r.clientId,
    address: r.address,
    qos: r.qos,
    response: r.response,
    ...(r.contentType !== undefined && { contentType: r.contentType }),
    ...(r.replyTo !== undefined && { replyTo: r.replyTo }),
    payloadBytes: r.size,
    state: r.state,
    ...(r.reason !== undefined && { reason: r.reason }),
    attempts: r.attempts,
    expiresAt: iso(r.expiresAt),
    timestamps,
    ...(r.deviceResponse && {
      deviceResponse: {
        status: r.deviceResponse.status,
        ...(r.deviceResponse.contentType !== undefined && { contentType: r.deviceResponse.contentType }),
        ...showPayload(r.deviceResponse.payload, r.deviceResponse.contentType),
      },
    }),
  };
}
