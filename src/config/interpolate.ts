/**
 * `${VAR}` and `${VAR:-default}` interpolation in string values, applied after
 * parsing so a variable can never change the document's structure. `$${` is a
 * literal `${`.
 */
const PATTERN = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export interface InterpolationProblem {
  readonly path: string;
  readonly message: string;
}

export function interpolate(value: unknown, env: NodeJS.ProcessEnv, problems: InterpolationProblem[], path = ''): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    return value.replace(PATTERN, (whole: string, name: string | undefined, fallback: string | undefined) => {
      if (whole === '$${') return '${';
      const v = env[name!];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      problems.push({ path: path || '/', message: `environment variable ${name} is not set and has no default (use \${${name}:-default})` });
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, problems, `${path}/${i}`));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolate(v, env, problems, `${path}/${escapePointer(k)}`);
    return out;
  }
  return value;
}

/** JSON Pointer escaping (RFC 6901). */
export function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}
