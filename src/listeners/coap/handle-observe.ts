/**
 * GET with an Observe option (RFC 7641 §3.1, §3.6). Observe=0 registers the
 * source as an observer of the address and is answered at once with 2.05 and
 * the current Observe number (the resource is a device mailbox: it has no
 * state of its own to return); Observe=1 deregisters and is answered with a
 * plain 2.05. Neither is forwarded to a back-end.
 */
import * as C from './codes.js';
import type { CoapCore, RequestContext } from './core.js';
import { OPT, uint } from './options.js';

/** Handles the observe part of a GET; false when the request should go on as a plain GET. */
export function onObserve(core: CoapCore, ctx: RequestContext): boolean {
  const { req, peer } = ctx;
  if (req.observe === 0) {
    const source = {
      clientId: peer.clientId,
      remoteAddress: peer.address,
      remotePort: peer.port,
      ...(peer.identity !== undefined && { identity: peer.identity }),
    };
    // The ACL's `receive` (docs/security.md): an observer not allowed on the address gets 4.03 (RFC 7252 §5.9.2.4).
    if (!core.pipeline.authorize(core.name, source, 'receive', req.address)) {
      core.respond(ctx, { code: C.FORBIDDEN });
      return true;
    }
    const obs = core.observe.register(peer, peer.clientId, req.address, ctx.token, req.accept, ctx.requestBytes);
    if (!obs) {
      // RFC 7641 §4.1: a server unwilling to add an observer answers without the Observe option.
      core.respond(ctx, { code: C.CONTENT });
      return true;
    }
    core.count('observe-register');
    core.respond(ctx, { code: C.CONTENT, options: [{ number: OPT.OBSERVE, value: uint(obs.seq) }] });
    return true;
  }
  if (req.observe === 1) {
    if (core.observe.deregister(peer, req.address)) core.count('observe-deregister');
    core.respond(ctx, { code: C.CONTENT });
    return true;
  }
  return false;
}
