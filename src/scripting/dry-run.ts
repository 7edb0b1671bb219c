/**
 * Dry runs: a script against sample messages, with no listener, pool or
 * back-end. Used by `thinggate script test` and by the examples' tests.
 *
 * A samples file is a JSON or YAML list. Each entry is a message
 * (`address` plus optional envelope fields; payload as `text`, `json` or
 * `base64`), optionally with a `response` (a back-end answer fed to
 * `onResponse` when the message's decisions ask for a reply), or a
 * `connect` entry (a client fed to `onConnect`).
 */
import type { TgErrorCode } from '../error-codes.js';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import pino, { type Logger } from 'pino';
import { createEnvelope, type Delivery, type Envelope, type Protocol, type Identity } from '../envelope/index.js';
import type { Admission, ClientInfo } from '../envelope/index.js';
import type { Decision } from '../routing/decision.js';
import type { Reply } from '../envelope/index.js';
import { parseConfig } from '../config/load.js';
import { Metrics } from '../observability/metrics.js';
import { ScriptUnit } from './unit.js';
import { ScriptThreads } from './thread.js';
import type { ScriptFailure } from './errors.js';
import { ConfigError } from '../errors.js';
import type { GatewayConfig } from '../config/types.js';
import { withDecoded, type CodecRoute } from '../routing/transcode.js';
import { builtinRegistries } from '../plugins/builtins.js';

/** Payload given as UTF-8 text, a JSON value, or base64 bytes. */
export interface SamplePayload {
  readonly text?: string;
  readonly json?: unknown;
  readonly base64?: string;
}

export interface SampleMessage extends SamplePayload {
  readonly address: string;
  readonly protocol?: Protocol;
  readonly listener?: string;
  readonly clientId?: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly contentType?: string;
  readonly delivery?: Delivery;
  readonly identity?: { principal: string; attributes?: Record<string, string> };
  readonly correlationId?: string;
  readonly replyTo?: string;
  readonly receivedAt?: number;
  /** A back-end response for `onResponse`. */
  readonly response?: SamplePayload & { readonly status?: number; readonly headers?: Record<string, string> };
}

export interface SampleConnect {
  readonly connect: {
    readonly clientId: string;
    readonly protocol?: Protocol;
    readonly listener?: string;
    readonly username?: string;
    readonly password?: string;
    readonly remoteAddress?: string;
  };
}

export type Sample = SampleMessage | SampleConnect;

export type DryRunResult =
  | {
      readonly kind: 'message';
      readonly sample: SampleMessage;
      readonly envelope: Envelope;
      readonly ok: true;
      readonly decisions: readonly Decision[];
      readonly reply?: Reply | ScriptFailure;
    }
  | {
      readonly kind: 'message';
      readonly sample: SampleMessage;
      readonly envelope: Envelope;
      readonly ok: false;
      readonly code: TgErrorCode;
      readonly reason: string;
    }
  | { readonly kind: 'connect'; readonly sample: SampleConnect; readonly admission: Admission };

/** Reads a samples file (JSON or YAML list). Throws ConfigError naming the problem. */
export function loadSamples(file: string): Sample[] {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${file}: cannot read samples: ${(err as Error).message}`, [], err);
  }
  if (!Array.isArray(doc)) throw new ConfigError(`${file}: samples must be a list of messages`);
  doc.forEach((s: unknown, i) => {
    const ok = s !== null && typeof s === 'object' && (typeof (s as SampleMessage).address === 'string' || typeof (s as SampleConnect).connect === 'object');
    if (!ok) throw new ConfigError(`${file}: sample ${i + 1} needs an 'address' (a message) or a 'connect' object (a client)`);
  });
  return doc as Sample[];
}

function payloadOf(p: SamplePayload): { bytes: Buffer; contentType?: string } {
  if (p.base64 !== undefined) return { bytes: Buffer.from(p.base64, 'base64') };
  if (p.json !== undefined) return { bytes: Buffer.from(JSON.stringify(p.json), 'utf8'), contentType: 'application/json' };
  return { bytes: Buffer.from(p.text ?? '', 'utf8') };
}

/** The envelope a listener would have produced for a sample. */
export function sampleEnvelope(s: SampleMessage): Envelope {
  const { bytes, contentType } = payloadOf(s);
  const protocol = s.protocol ?? 'mqtt';
  const clientId = s.clientId ?? 'sample-device';
  const ct = s.contentType ?? contentType;
  const identity: Identity | undefined = s.identity && { principal: s.identity.principal, method: 'password', attributes: s.identity.attributes ?? {} };
  return createEnvelope({
    protocol,
    listener: s.listener ?? protocol,
    source: { clientId, remoteAddress: '127.0.0.1', ...(identity && { identity }) },
    address: s.address,
    method: s.method ?? (protocol === 'mqtt' ? 'PUBLISH' : protocol === 'amqp' ? 'TRANSFER' : 'POST'),
    payload: bytes,
    headers: { ...s.headers },
    delivery: s.delivery ?? 'at-least-once',
    ...(ct !== undefined && { contentType: ct }),
    ...(s.correlationId !== undefined && { correlationId: s.correlationId }),
    ...(s.replyTo !== undefined && { replyTo: s.replyTo }),
    ...(s.receivedAt !== undefined && { receivedAt: s.receivedAt }),
  });
}

export interface DryRunOptions {
  /** The `scripts` section to apply (defaults when absent). */
  readonly scripts?: Record<string, unknown>;
  /** The validated `scripts` section of a configuration (takes the place of `scripts`). */
  readonly scriptsConfig?: GatewayConfig['scripts'];
  /**
   * Codecs, as a route has them: the payload is decoded ahead of the script (`msg.decode()`)
   * by `decoder`, else by the codec its content type names. Default: the built-in codecs.
   */
  readonly codecs?: CodecRoute;
  readonly logger?: Logger;
  /** Clock for `ctx.now()`; default the sample's receivedAt or the wall clock. */
  readonly now?: () => number;
}

/** Runs each sample through the script, in order, sharing one isolate and one state store. */
export async function dryRun(script: string, samples: readonly Sample[], options: DryRunOptions = {}): Promise<DryRunResult[]> {
  const scripts = options.scriptsConfig
    ? { ...options.scriptsConfig, watch: false }
    : parseConfig({ listeners: [], pools: [], routes: [], scripts: { ...options.scripts, watch: false } }, { env: {} }).scripts;
  const codecs = options.codecs ?? { codecs: builtinRegistries().codecResolver(process.cwd()) };
  const unit = await ScriptUnit.create({
    name: script,
    absPath: resolve(script),
    config: scripts,
    logger: options.logger ?? pino({ level: 'silent' }),
    metrics: new Metrics(),
    threads: new ScriptThreads(1),
    ...(options.now !== undefined && { now: options.now }),
  });
  const out: DryRunResult[] = [];
  try {
    for (const s of samples) {
      if ('connect' in s) {
        const c = s.connect;
        const client: ClientInfo = {
          protocol: c.protocol ?? 'mqtt',
          listener: c.listener ?? c.protocol ?? 'mqtt',
          clientId: c.clientId,
          remoteAddress: c.remoteAddress ?? '127.0.0.1',
          ...(c.username !== undefined && { username: c.username }),
          ...(c.password !== undefined && { password: Buffer.from(c.password, 'utf8') }),
        };
        out.push({ kind: 'connect', sample: s, admission: (await unit.onConnect(client)) ?? { ok: true } });
        continue;
      }
      const envelope = withDecoded(sampleEnvelope(s), codecs);
      const r = await unit.onMessage(envelope);
      if (!r.ok) {
        out.push({ kind: 'message', sample: s, envelope, ok: false, code: r.code, reason: r.reason });
        continue;
      }
      let reply: Reply | ScriptFailure | undefined;
      if (s.response && r.decisions.some((d) => d.action === 'route' && d.reply === true)) {
        const { bytes, contentType } = payloadOf(s.response);
        const headers = { ...(contentType !== undefined && { 'content-type': contentType }), ...s.response.headers };
        reply = await unit.onResponse({ status: s.response.status ?? 200, headers, body: bytes }, envelope);
      }
      out.push({ kind: 'message', sample: s, envelope, ok: true, decisions: r.decisions, ...(reply !== undefined && { reply }) });
    }
  } finally {
    await unit.close();
  }
  return out;
}
