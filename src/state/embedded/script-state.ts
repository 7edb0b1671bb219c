/**
 * Shared `ctx.state` in one process: nodes sharing an {@link EmbeddedHub}
 * (in-process nodes, the contract tests) share one map per script and hear
 * each batch on the next tick, in the order written. A gateway on the
 * embedded backend is its only node and keeps `ctx.state` in its script
 * thread alone, so it does not use this store.
 */
import type { ScriptStateBatch, ScriptStateListener, ScriptStateStore } from '../script-state.js';
import { EmbeddedHub } from './presence.js';

export class EmbeddedScriptState implements ScriptStateStore {
  private readonly hub: EmbeddedHub;

  constructor(
    readonly nodeId: string,
    hub?: EmbeddedHub,
  ) {
    this.hub = hub ?? new EmbeddedHub();
  }

  async load(script: string): Promise<Array<[string, string]>> {
    return [...(this.hub.scriptState.get(script) ?? [])];
  }

  async write(batch: ScriptStateBatch): Promise<boolean> {
    let map = this.hub.scriptState.get(batch.script);
    if (!map) this.hub.scriptState.set(batch.script, (map = new Map()));
    for (const [key, value] of batch.changes) {
      if (value === null) map.delete(key);
      else map.set(key, value);
    }
    const announced = { ...structuredClone(batch), node: this.nodeId };
    for (const l of this.hub.scriptStateListeners.values()) queueMicrotask(() => l.changed(announced));
    return true;
  }

  async evict(script: string, entries: ReadonlyArray<readonly [string, string]>): Promise<void> {
    const map = this.hub.scriptState.get(script);
    for (const [key, value] of entries) if (map?.get(key) === value) map.delete(key);
  }

  async listen(listener: ScriptStateListener): Promise<void> {
    this.hub.scriptStateListeners.set(this.nodeId, listener);
  }

  async close(): Promise<void> {
    this.hub.scriptStateListeners.delete(this.nodeId);
  }
}
