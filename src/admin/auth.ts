/**
 * Bearer-token authentication of the admin server (RFC 6750). The token is
 * compared in constant time and never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

/** Paths served without a token: liveness/readiness probes and the dashboard's static files (they hold no data). */
export function isPublicPath(path: string): boolean {
  return path === '/healthz' || path === '/readyz' || path === '/' || path.startsWith('/dashboard/');
}

/**
 * Requires `Authorization: Bearer <token>` on every non-public path.
 * Both sides are hashed first so the comparison takes the same time
 * whatever the lengths.
 */
export function bearerAuth(token: string): RequestHandler {
  const expected = createHash('sha256').update(token).digest();
  return (req, res, next) => {
    if (isPublicPath(req.path)) return next();
    const header = req.headers.authorization ?? '';
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    const given = createHash('sha256')
      .update(m?.[1] ?? '')
      .digest();
    if (m && timingSafeEqual(given, expected)) return next();
    res
      .status(401)
      .set('www-authenticate', m ? 'Bearer realm="thinggate", error="invalid_token"' : 'Bearer realm="thinggate"')
      .json({ error: 'unauthorized', message: m ? 'the bearer token is not valid' : 'a bearer token is required' });
  };
}
