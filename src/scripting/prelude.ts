/**
 * The source text of the code that runs inside every script isolate before
 * the script itself: isolate/prelude.js, a classic script that the type
 * checker and the linter see like the rest of src/ (its header describes
 * what it does and the wire format it reads). It is read once, when this
 * module loads; the build copies it beside the compiled host code, so the
 * same relative path holds in src/ and in dist/.
 */
import { readFileSync } from 'node:fs';

export const PRELUDE = readFileSync(new URL('./isolate/prelude.js', import.meta.url), 'utf8');
