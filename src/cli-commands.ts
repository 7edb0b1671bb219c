/**
 * Subcommands contributed by stages (e.g. `script test` from scripting/).
 * Each takes the arguments after its name and resolves to an exit code.
 */
import { scriptSubcommand } from './scripting/cli.js';

export interface Subcommand {
  readonly usage: string;
  run(args: string[]): Promise<number>;
}

export const SUBCOMMANDS: Record<string, Subcommand> = {};

SUBCOMMANDS.script = scriptSubcommand;
