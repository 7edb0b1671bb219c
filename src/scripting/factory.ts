/**
 * Builds the script host for a configuration (isolated-vm engine).
 */
import type { ScriptHostFactory } from '../gateway.js';

export function createScriptHostFactory(): ScriptHostFactory | undefined {
  return undefined;
}
