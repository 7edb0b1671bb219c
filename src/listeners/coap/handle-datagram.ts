/**
 * Entry point for every datagram: parse, then one handler per message kind —
 * Empty messages (ping, ACK, RST), requests, and stray responses. Nothing a
 * datagram contains can throw past this function.
 */
import { CoapFormatError, TYPE_ACK, TYPE_CON, TYPE_NON, TYPE_RST, codeText, parseMessage, type CoapMessage } from './codec.js';
import type { CoapCore, Endpoint } from './core.js';
import type { Peer } from './peers.js';
import { onRequest } from './handle-request.js';

export function onDatagram(core: CoapCore, buf: Buffer, rinfo: Endpoint): void {
  core.messagesIn++;
  let msg: CoapMessage;
  try {
    msg = parseMessage(buf);
  } catch (err) {
    onMalformed(core, rinfo, err);
    return;
  }
  const now = Date.now();
  const peer = core.peers.touch(rinfo.address, rinfo.port, now);
  if (!peer) {
    core.count('dropped');
    core.report({ kind: 'flood', remoteAddress: rinfo.address, detail: `source table full (${core.peers.size} sources); datagram dropped` });
    return;
  }
  const cls = msg.code >> 5;
  if (msg.code === 0) onEmpty(core, peer, msg);
  else if (cls === 0) {
    if (msg.type === TYPE_CON || msg.type === TYPE_NON) onRequest(core, peer, msg, buf.length, now);
    else protocolError(core, peer, msg, 'request code in an ACK or RST', 'RFC7252-4.2');
  } else if (cls >= 2 && cls <= 5) onStrayResponse(core, peer, msg);
  else protocolError(core, peer, msg, `reserved code class ${codeText(msg.code)}`, 'RFC7252-5.9');
}

/** RFC 7252 §4.2/§4.3: a message format error is silently ignored, except a CON, which is rejected with a RST. */
function onMalformed(core: CoapCore, rinfo: Endpoint, err: unknown): void {
  core.protocolErrors++;
  core.count('malformed');
  const reason = err instanceof CoapFormatError ? err.message : String(err);
  if (err instanceof CoapFormatError && err.header?.type === TYPE_CON) core.writeEmpty(rinfo, TYPE_RST, err.header.messageId);
  core.report({ kind: 'malformed-packet', remoteAddress: rinfo.address, clause: 'RFC7252-3', detail: `${reason} (from ${rinfo.address}:${rinfo.port})` });
}

function protocolError(core: CoapCore, peer: Peer, msg: CoapMessage, detail: string, clause: string): void {
  core.protocolErrors++;
  core.count('malformed');
  if (msg.type === TYPE_CON) core.writeEmpty(peer, TYPE_RST, msg.messageId);
  core.report({ kind: 'protocol-error', remoteAddress: peer.address, clientId: peer.clientId, clause, detail });
}

/** Empty messages: CON = ping (answered with RST, RFC 7252 §4.3), ACK/RST settle our CONs. */
function onEmpty(core: CoapCore, peer: Peer, msg: CoapMessage): void {
  switch (msg.type) {
    case TYPE_CON:
      core.writeEmpty(peer, TYPE_RST, msg.messageId);
      return;
    case TYPE_ACK:
    case TYPE_RST: {
      const result = msg.type === TYPE_ACK ? 'ack' : 'rst';
      // Only a receiver of our CON knows its message id: the source is verified (RFC 9175 §2.4).
      if (core.transmitter.settle(peer.key, msg.messageId, result)) peer.verified = true;
      else if (msg.type === TYPE_RST && core.observe.onReset(peer, msg.messageId)) core.count('observe-deregister'); // RFC 7641 §3.6
      return;
    }
    default:
      // RFC 7252 §4.3: a NON message always carries a request or response.
      protocolError(core, peer, msg, 'empty NON message', 'RFC7252-4.3');
  }
}

/**
 * thinggate sends no requests, so a response is unexpected: a CON one is
 * rejected with RST (RFC 7252 §4.2); ACK and NON ones are ignored (§4.3).
 */
function onStrayResponse(core: CoapCore, peer: Peer, msg: CoapMessage): void {
  if (msg.type === TYPE_CON) core.writeEmpty(peer, TYPE_RST, msg.messageId);
}
