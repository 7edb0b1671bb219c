/**
 * `GET /api/v1/connections` (filters: listener, clientId, remoteAddress,
 * identity, ja4; each TLS or DTLS connection with its handshake facts) and `DELETE /api/v1/connections/{clientId}`: closes the client's
 * connection with its protocol's administrative reason.
 */
import type { ConnectionInfo } from '../../listeners/listener.js';
import type { AdminContext } from '../context.js';
import { sendError, type AdminRoutes } from '../routes.js';
import { intQuery, jsonResponse, NOT_FOUND, pathParam, queryParam, ref, strQuery, UNAUTHORIZED } from './openapi-helpers.js';

const DEFAULT_LIMIT = 1000;
const MAX_LIMIT = 100_000;
const DEFAULT_REASON = 'closed by an operator';

interface Filter {
  readonly listener?: string | undefined;
  readonly clientId?: string | undefined;
  readonly remoteAddress?: string | undefined;
  readonly identity?: string | undefined;
  /** ClientHello fingerprint: tells device firmware apart, finds an impostor's TLS stack. */
  readonly ja4?: string | undefined;
}

function matches(c: ConnectionInfo, f: Filter): boolean {
  return (
    (f.listener === undefined || c.listener === f.listener) &&
    (f.clientId === undefined || c.clientId === f.clientId) &&
    (f.remoteAddress === undefined || c.remoteAddress === f.remoteAddress) &&
    (f.identity === undefined || c.identity === f.identity) &&
    (f.ja4 === undefined || c.tls?.ja4 === f.ja4)
  );
}

/** Connections matching `filter`: the first `limit` and how many matched in all. */
export function findConnections(ctx: AdminContext, filter: Filter, limit: number): { total: number; connections: ConnectionInfo[] } {
  const out: ConnectionInfo[] = [];
  let total = 0;
  for (const l of ctx.listenerViews()) {
    if (!l.connections || (filter.listener !== undefined && l.name !== filter.listener)) continue;
    for (const c of l.connections()) {
      if (!matches(c, filter)) continue;
      total++;
      if (out.length < limit) out.push(c);
    }
  }
  return { total, connections: out };
}

export const connectionRoutes: AdminRoutes = {
  name: 'connections',
  register(router, ctx) {
    router.route('get', '/api/v1/connections', (req, res) => {
      const q = req.query;
      const filter: Filter = {
        listener: strQuery(q.listener),
        clientId: strQuery(q.clientId),
        remoteAddress: strQuery(q.remoteAddress),
        identity: strQuery(q.identity),
        ja4: strQuery(q.ja4),
      };
      res.json(findConnections(ctx, filter, intQuery(q.limit, DEFAULT_LIMIT, MAX_LIMIT)));
    });
    router.route('delete', '/api/v1/connections/{clientId}', (req, res) => {
      const clientId = req.params.clientId as string;
      const only = strQuery(req.query.listener);
      const reason = strQuery(req.query.reason) ?? DEFAULT_REASON;
      for (const l of ctx.listenerViews()) {
        if (only !== undefined && l.name !== only) continue;
        if (l.closeConnection?.(clientId, reason)) {
          ctx.logger.info({ clientId, listener: l.name, reason }, 'admin: connection closed');
          res.json({ closed: true, listener: l.name, clientId });
          return;
        }
      }
      sendError(res, 404, 'not_found', `no connected client '${clientId}'${only !== undefined ? ` on listener '${only}'` : ''}`);
    });
  },
  openapi: {
    paths: {
      '/api/v1/connections': {
        get: {
          summary: 'Open device connections, filtered',
          parameters: [
            queryParam('listener', 'listener name'),
            queryParam('clientId', 'client id'),
            queryParam('remoteAddress', 'remote IP address'),
            queryParam('identity', 'authenticated principal'),
            queryParam('ja4', 'JA4 fingerprint of the TLS ClientHello'),
            queryParam('limit', `most connections returned (default ${DEFAULT_LIMIT})`, { type: 'integer', minimum: 0, maximum: MAX_LIMIT }),
          ],
          responses: {
            '200': jsonResponse('matching connections', {
              type: 'object',
              required: ['total', 'connections'],
              properties: { total: { type: 'integer', description: 'how many matched in all' }, connections: { type: 'array', items: ref('Connection') } },
            }),
            '401': UNAUTHORIZED,
          },
        },
      },
      '/api/v1/connections/{clientId}': {
        delete: {
          summary: "Closes a client's connection with the protocol's reason (MQTT 5 DISCONNECT 0x98, AMQP close amqp:connection:forced)",
          parameters: [
            pathParam('clientId', 'client id'),
            queryParam('listener', 'only on this listener'),
            queryParam('reason', 'reason string sent where the protocol carries one'),
          ],
          responses: {
            '200': jsonResponse('closed', {
              type: 'object',
              required: ['closed', 'listener', 'clientId'],
              properties: { closed: { const: true }, listener: { type: 'string' }, clientId: { type: 'string' } },
            }),
            '401': UNAUTHORIZED,
            '404': NOT_FOUND,
          },
        },
      },
    },
    schemas: {
      Connection: {
        type: 'object',
        required: ['listener', 'protocol', 'clientId', 'remoteAddress', 'state'],
        properties: {
          listener: { type: 'string' },
          protocol: { type: 'string' },
          clientId: { type: 'string', description: 'empty before the protocol hello' },
          remoteAddress: { type: 'string' },
          remotePort: { type: 'integer' },
          identity: { type: 'string' },
          protocolVersion: { type: 'string' },
          state: { type: 'string' },
          inflight: { type: 'integer' },
          tls: ref('TlsFacts'),
        },
      },
      TlsFacts: {
        type: 'object',
        description: 'handshake facts of a TLS or DTLS connection (docs/tls.md, docs/coap.md)',
        required: ['version', 'cipher', 'resumed', 'authorized'],
        properties: {
          version: { type: 'string', description: 'TLSv1.3, TLSv1.2, DTLSv1.2' },
          cipher: { type: 'string', description: 'OpenSSL name of the suite' },
          servername: { type: 'string' },
          alpn: { type: 'string' },
          resumed: { type: 'boolean' },
          authorized: { type: 'boolean', description: 'a client certificate verified against the listener CA' },
          pskIdentity: { type: 'string', description: 'DTLS PSK identity (coaps)' },
          peer: {
            type: 'object',
            properties: {
              subject: { type: 'string' },
              issuer: { type: 'string' },
              san: { type: 'array', items: { type: 'string' } },
              serial: { type: 'string' },
              fingerprint256: { type: 'string' },
              validFrom: { type: 'string' },
              validTo: { type: 'string' },
            },
          },
          peerSubject: { type: 'string' },
          peerFingerprint256: { type: 'string' },
          peerVerified: { type: 'boolean' },
          peerCommonName: { type: 'string' },
          peerAltNames: { type: 'string' },
          ja4: { type: 'string' },
          ja3: { type: 'string' },
        },
      },
    },
  },
};
