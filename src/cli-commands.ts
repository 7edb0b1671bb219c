/**
 * Subcommands contributed by stages (e.g. `script test` from scripting/).
 * Each takes the arguments after its name and resolves to an exit code.
 */
import { scriptSubcommand } from './scripting/cli.js';
import { passwdSubcommand } from './security/passwd-cli.js';
import type { Subcommand } from './util/subcommand.js';

export type { Subcommand } from './util/subcommand.js';

export const SUBCOMMANDS: Record<string, Subcommand> = {};

SUBCOMMANDS.script = scriptSubcommand;
SUBCOMMANDS.passwd = passwdSubcommand;
