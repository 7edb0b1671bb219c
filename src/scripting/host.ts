/**
 * The ScriptHost the pipeline talks to: script paths (as written in routes)
 * → units. `onConnect` asks every script named by a route that could match
 * the connecting client's listener and protocol, in route order.
 */
import type { Envelope, Reply } from '../envelope/index.js';
import type { Admission, ClientInfo } from '../envelope/index.js';
import type { ScriptHost, ScriptInfo, ScriptResponse, ScriptResult } from '../routing/script-host.js';
import type { RouteConfig } from '../config/types.js';
import type { ScriptUnit } from './unit.js';
import type { ScriptThreads } from './thread.js';
import type { SharedScriptState } from './shared-state.js';
import { failure, SCRIPT_CODES, type ScriptFailure } from './errors.js';

interface AdmissionEntry {
  readonly unit: ScriptUnit;
  readonly listener?: string;
  readonly protocol?: string;
}

export class IsolateScriptHost implements ScriptHost {
  private closed = false;

  constructor(
    /** Keyed by the path as written in routes. */
    readonly units: ReadonlyMap<string, ScriptUnit>,
    private readonly admission: readonly AdmissionEntry[],
    /** The threads the units run on, handed to the next configuration's host. */
    readonly threads: ScriptThreads,
    /** Shared `ctx.state`, handed on likewise. */
    readonly shared?: SharedScriptState,
  ) {}

  /** Admission entries from routes: each script once per distinct listener/protocol restriction, in route order. */
  static admissionFor(routes: readonly RouteConfig[], units: ReadonlyMap<string, ScriptUnit>): AdmissionEntry[] {
    const out: AdmissionEntry[] = [];
    const seen = new Set<string>();
    for (const r of routes) {
      if (r.script === undefined) continue;
      const key = `${r.script}\u0000${r.match.listener ?? ''}\u0000${r.match.protocol ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const unit = units.get(r.script);
      if (!unit) continue;
      out.push({
        unit,
        ...(r.match.listener !== undefined && { listener: r.match.listener }),
        ...(r.match.protocol !== undefined && { protocol: r.match.protocol }),
      });
    }
    return out;
  }

  onMessage(script: string, envelope: Envelope): Promise<ScriptResult> {
    const unit = this.units.get(script);
    if (!unit) return Promise.resolve(failure(SCRIPT_CODES.threw, `script '${script}' is not loaded`));
    return unit.onMessage(envelope);
  }

  async onResponse(script: string, response: ScriptResponse, envelope: Envelope): Promise<Reply | ScriptFailure | undefined> {
    return this.units.get(script)?.onResponse(response, envelope);
  }

  async onConnect(client: ClientInfo): Promise<Admission> {
    let attributes: Record<string, string> | undefined;
    let principal: string | undefined;
    const asked = new Set<ScriptUnit>();
    for (const a of this.admission) {
      if (a.listener !== undefined && a.listener !== client.listener) continue;
      if (a.protocol !== undefined && a.protocol !== client.protocol) continue;
      if (asked.has(a.unit)) continue;
      asked.add(a.unit);
      const r = await a.unit.onConnect(client);
      if (!r) continue;
      if (!r.ok) return r;
      if (r.identity) {
        principal ??= r.identity.principal;
        attributes = { ...attributes, ...r.identity.attributes };
      }
    }
    if (principal === undefined) return { ok: true };
    return { ok: true, identity: { principal, method: 'script', attributes: Object.freeze(attributes ?? {}) } };
  }

  inspect(): ScriptInfo[] {
    return [...this.units].map(([script, unit]) => infoOf(script, unit));
  }

  async reloadScript(script: string): Promise<ScriptInfo | undefined> {
    const unit = this.units.get(script);
    if (!unit) return undefined;
    await unit.reloadFile();
    return infoOf(script, unit);
  }

  /** Releases this host's hold on its units; a unit shared with a newer host keeps running. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...new Set(this.units.values())].map((unit) => unit.release()));
  }
}

function infoOf(script: string, unit: ScriptUnit): ScriptInfo {
  const error = unit.compileError;
  return { script, file: unit.absPath, version: unit.version.generation, ...(error !== undefined && { compileError: error }) };
}
