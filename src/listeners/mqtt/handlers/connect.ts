/**
 * CONNECT → CONNACK, as a named list of stages run in order. A stage either
 * lets the connection through (returns true) or answers and closes it itself
 * (returns false). Packets arriving meanwhile wait in the connection's
 * backlog and are replayed after CONNACK.
 */
import { randomBytes } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import type { IConnackPacket, IConnectPacket } from 'mqtt-packet';
import type { Identity } from '../../../envelope/index.js';
import { topicNameProblem } from '../../../envelope/index.js';
import type { Subscriber } from '../../../devices/registry.js';
import type { MqttSession } from '../session.js';
import { RC, V3_CONNACK, admissionReturnCode } from '../reason-codes.js';
import { cancelDelayedWill } from '../will.js';
import { scoredNames } from '../../../guard/scoring.js';

interface ConnectContext {
  readonly packet: IConnectPacket;
  clientId: string;
  assigned: boolean;
  identity?: Identity;
  serverKeepAlive?: number;
  /** v5: the Session Expiry Interval thinggate uses when it differs from the client's (§3.2.2.3.2). */
  sessionExpiryOverride?: number;
  sessionPresent?: boolean;
}

type Stage = (c: MqttSession, cx: ConnectContext) => boolean | Promise<boolean>;

/** The connect stages, in order. */
export const CONNECT_STAGES: ReadonlyArray<readonly [string, Stage]> = [
  ['protocol-version', checkProtocolVersion],
  ['overload', checkOverload],
  ['client-identifier', checkClientId],
  ['features', checkFeatures],
  ['ban', checkBan],
  ['admission', admit],
  ['principal-ban', checkPrincipalBan],
  ['negotiation', negotiate],
  ['packet-size', checkConnackFits],
  ['takeover', takeOver],
  ['session', openSession],
  ['connack', connack],
];

export function handleConnect(c: MqttSession, packet: IConnectPacket): void {
  c.beginConnect(packet.protocolVersion ?? 4);
  const cx: ConnectContext = { packet, clientId: packet.clientId, assigned: false };
  runStages(c, cx, 0).then(
    (ok) => {
      if (ok) c.flushBacklog();
    },
    (err: unknown) => c.fail(err),
  );
}

async function runStages(c: MqttSession, cx: ConnectContext, from: number): Promise<boolean> {
  for (let i = from; i < CONNECT_STAGES.length; i++) {
    if (c.state === 'closed') return false;
    const r = CONNECT_STAGES[i]![1](c, cx);
    if (!(typeof r === 'boolean' ? r : await r)) return false;
  }
  return c.state !== 'closed';
}

/** Refuses with a CONNACK in the client's version, then closes. */
function refuse(c: MqttSession, v5Code: number, v3Code: number, reason: string): false {
  c.log.info({ reason, code: c.version === 5 ? v5Code : v3Code }, 'connection refused');
  if (c.version === 5) c.wire.send({ cmd: 'connack', sessionPresent: false, reasonCode: v5Code, properties: { reasonString: reason } });
  else c.wire.send({ cmd: 'connack', sessionPresent: false, returnCode: v3Code });
  c.end();
  return false;
}

/** [MQTT-3.1.2-2]: only 3.1.1 (level 4) and 5 are served; 3.1 (level 3) gets return code 0x01. */
function checkProtocolVersion(c: MqttSession, cx: ConnectContext): boolean {
  const v = cx.packet.protocolVersion;
  if (v === 4 || v === 5) return true;
  c.version = 4; // answer in the 3.x CONNACK format the client understands
  return refuse(c, RC.UNSUPPORTED_PROTOCOL_VERSION, V3_CONNACK.UNACCEPTABLE_PROTOCOL_VERSION, `protocol level ${String(v)} is not supported`);
}

/**
 * An empty client id gets an assigned one: v5 returns it as Assigned Client
 * Identifier [MQTT-3.2.2-16]; v3.1.1 allows it only with clean session, else
 * CONNACK 0x02 [MQTT-3.1.3-8].
 */
function checkClientId(c: MqttSession, cx: ConnectContext): boolean {
  if (cx.clientId.length > 0) return true;
  if (c.version === 4 && !cx.packet.clean) {
    return refuse(c, RC.CLIENT_IDENTIFIER_NOT_VALID, V3_CONNACK.IDENTIFIER_REJECTED, 'empty client identifier requires clean session [MQTT-3.1.3-8]');
  }
  cx.clientId = `tg-${randomBytes(9).toString('base64url')}`;
  cx.assigned = true;
  return true;
}

/** Features thinggate does not offer are refused up front rather than half-honoured. */
function checkFeatures(c: MqttSession, cx: ConnectContext): boolean {
  const p = cx.packet;
  if (c.version === 5 && p.properties?.authenticationMethod !== undefined) {
    return refuse(c, RC.BAD_AUTHENTICATION_METHOD, V3_CONNACK.NOT_AUTHORIZED, 'enhanced authentication is not supported');
  }
  const will = p.will;
  if (will) {
    const problem = topicNameProblem(will.topic);
    if (problem) return refuse(c, RC.TOPIC_NAME_INVALID, V3_CONNACK.SERVER_UNAVAILABLE, `will topic: ${problem}`);
    // [MQTT-3.2.2-13]: with Retain Available 0 a retained Will is refused with 0x9A.
    if (will.retain && c.version === 5 && !c.shared.options.retainAvailable)
      return refuse(c, RC.RETAIN_NOT_SUPPORTED, 0, 'retained messages are not supported');
    // [MQTT-3.2.2-12]: a Will QoS above Maximum QoS is refused with 0x9B.
    if ((will.qos ?? 0) > c.shared.options.maximumQos && c.version === 5) {
      return refuse(c, RC.QOS_NOT_SUPPORTED, 0, `will QoS ${will.qos ?? 0} exceeds maximum QoS ${c.shared.options.maximumQos}`);
    }
    const payload = will.payload;
    if (c.version === 5 && will.properties?.payloadFormatIndicator && typeof payload !== 'string' && !isUtf8(payload)) {
      return refuse(c, RC.PAYLOAD_FORMAT_INVALID, 0, 'will payload is not valid UTF-8');
    }
  }
  return true;
}

/** Overload protection (guard.overload): CONNACK 0x89 Server busy (v5), 0x03 Server unavailable (3.1.1). */
function checkOverload(c: MqttSession): boolean {
  return c.shared.ctx.guard.refuseOverloaded(c.listener) ? refuse(c, RC.SERVER_BUSY, V3_CONNACK.SERVER_UNAVAILABLE, 'server busy') : true;
}

/** A banned client id, address or client certificate: CONNACK 0x8A Banned (v5), 0x05 Not authorized (3.1.1, which has no such code). */
function checkBan(c: MqttSession, cx: ConnectContext): boolean {
  const certFingerprint = c.remote.tls?.peer?.fingerprint256;
  const ban = c.shared.ctx.guard.refuseClient(c.listener, {
    remoteAddress: c.remote.address,
    clientId: cx.clientId,
    ...(certFingerprint && { certFingerprint }),
  });
  return ban ? refuse(c, RC.BANNED, V3_CONNACK.NOT_AUTHORIZED, 'banned') : true;
}

/** A banned principal (the authenticated identity, else the user name), refused as {@link checkBan}. */
function checkPrincipalBan(c: MqttSession, cx: ConnectContext): boolean {
  const principal = cx.identity?.principal ?? cx.packet.username;
  if (principal === undefined) return true;
  const ban = c.shared.ctx.guard.refusePrincipal(c.listener, principal, { remoteAddress: c.remote.address, clientId: cx.clientId });
  return ban ? refuse(c, RC.BANNED, V3_CONNACK.NOT_AUTHORIZED, 'banned') : true;
}

/** Admission through the pipeline (authenticators, onConnect scripts). Passwords are never logged. */
async function admit(c: MqttSession, cx: ConnectContext): Promise<boolean> {
  const p = cx.packet;
  const r = c.remote;
  const admission = await c.shared.ctx.pipeline.admit({
    protocol: 'mqtt',
    listener: c.listener,
    clientId: cx.clientId,
    ...(p.username !== undefined && { username: p.username }),
    ...(p.password !== undefined && { password: p.password }),
    remoteAddress: r.address,
    ...(r.port !== undefined && { remotePort: r.port }),
    ...(r.tls && { tls: r.tls }),
  });
  if (c.state === 'closed') return false;
  if (admission.ok) {
    if (admission.identity) cx.identity = admission.identity;
    return true;
  }
  // Bad credentials, a refused identity or client id: every refusal but "come back later" is an auth-failure.
  if (admission.status !== 503) {
    c.shared.ctx.guard.report({
      kind: 'auth-failure',
      listener: c.listener,
      remoteAddress: r.address,
      clientId: cx.clientId,
      ...scoredNames(r.tls),
      detail: admission.reason,
    });
  }
  if (admission.clientIdRefused) return refuse(c, RC.CLIENT_IDENTIFIER_NOT_VALID, V3_CONNACK.IDENTIFIER_REJECTED, admission.reason);
  const code = admissionReturnCode(admission.status, c.version);
  return refuse(c, code, code, admission.reason);
}

/** Keepalive, Receive Maximum, Maximum Packet Size and Problem Information from the client. */
function negotiate(c: MqttSession, cx: ConnectContext): boolean {
  const p = cx.packet;
  let keepalive = p.keepalive ?? 0;
  const max = c.shared.options.maxKeepAliveSeconds;
  // v5 Server Keep Alive (§3.2.2.3.14) caps the client's value; v3.1.1 has no way to say so, so its own value is enforced.
  if (c.version === 5 && max > 0 && (keepalive === 0 || keepalive > max)) {
    keepalive = max;
    cx.serverKeepAlive = max;
  }
  c.keepaliveMs = keepalive * 1000;
  c.will = p.will;
  if (c.version === 5) {
    const props = p.properties;
    if (props) {
      if (props.receiveMaximum !== undefined) c.out.setReceiveMaximum(props.receiveMaximum);
      if (props.maximumPacketSize !== undefined) c.wire.maxPacketBytes = props.maximumPacketSize;
      if (props.requestProblemInformation === false) c.wire.problemInformation = false;
    }
  }
  negotiateSessionExpiry(c, cx);
  return true;
}

/**
 * How long the session outlives the connection. v5: the client's Session
 * Expiry Interval, capped by `sessions.maxExpirySeconds` (or 0 with
 * sessions off), a changed value returned in CONNACK (§3.2.2.3.2). 3.1.1:
 * Clean Session 0 keeps the session for `sessions.v3ExpirySeconds`.
 */
function negotiateSessionExpiry(c: MqttSession, cx: ConnectContext): void {
  const o = c.shared.options.sessions;
  if (c.version !== 5) {
    c.setSessionExpiry(cx.packet.clean ? 0 : o.v3ExpirySeconds);
    return;
  }
  const asked = cx.packet.properties?.sessionExpiryInterval ?? 0;
  c.connectSessionExpiry = asked;
  const granted = o.enabled ? Math.min(asked, o.maxExpirySeconds) : 0;
  if (granted !== asked) cx.sessionExpiryOverride = granted;
  c.setSessionExpiry(granted);
}

/** [MQTT-3.1.2-4..6], v5 §3.1.2.4: Clean Start 0 resumes the stored session, 1 discards it. */
async function openSession(c: MqttSession, cx: ConnectContext): Promise<boolean> {
  try {
    cx.sessionPresent = await c.openSession(!cx.packet.clean);
  } catch (err) {
    // The session store (Redis) does not answer: refused, so the stored session is neither lost nor forked (docs/scaling.md).
    return refuse(c, RC.SERVER_UNAVAILABLE, V3_CONNACK.SERVER_UNAVAILABLE, `session store unavailable: ${(err as Error).message}`);
  }
  return true;
}

/** A subscriber that is an MQTT session (it can be taken over), not another protocol's device. */
function isSession(s: Subscriber): s is MqttSession {
  return typeof (s as Partial<MqttSession>).takeOver === 'function';
}

/** [MQTT-3.1.4-3]: a connection with the same client id is closed (v5: DISCONNECT 0x8E). */
function takeOver(c: MqttSession, cx: ConnectContext): boolean {
  c.clientId = cx.clientId;
  cancelDelayedWill(c.shared, cx.clientId); // [MQTT-3.1.3-9]
  // The registry tells the other nodes who holds the client id (presence keeps the principal): known before CONNACK.
  c.identity = cx.identity;
  const previous = c.shared.ctx.devices.connect(c);
  if (previous && isSession(previous)) previous.takeOver();
  else if (previous) c.log.warn({ listener: previous.listener }, 'client id already connected through another protocol');
  return true;
}

/**
 * [MQTT-3.1.2-25]: nothing larger than the client's Maximum Packet Size may
 * be sent to it. A client that cannot take thinggate's CONNACK is told with
 * a bare CONNACK 0x95 Packet too large (when even that fits) and closed,
 * before it takes over any session.
 */
function checkConnackFits(c: MqttSession, cx: ConnectContext): boolean {
  if (c.version !== 5 || c.wire.fits(connackPacket(c, cx))) return true;
  c.log.info({ maximumPacketSize: c.wire.maxPacketBytes }, 'connection refused: the client cannot take the CONNACK');
  c.wire.send({ cmd: 'connack', sessionPresent: false, reasonCode: RC.PACKET_TOO_LARGE });
  c.end();
  return false;
}

function connack(c: MqttSession, cx: ConnectContext): boolean {
  // Session Present 1 when a stored session was resumed [MQTT-3.2.2-2, MQTT-3.2.2-3].
  c.wire.send(connackPacket(c, cx));
  c.established(cx.clientId, cx.identity);
  c.log.debug({ version: c.version, keepalive: c.keepaliveMs / 1000 }, 'client connected');
  return true;
}

function connackPacket(c: MqttSession, cx: ConnectContext): IConnackPacket {
  const o = c.shared.options;
  const limits = c.shared.limits;
  const packet: IConnackPacket = { cmd: 'connack', sessionPresent: cx.sessionPresent === true, returnCode: 0 };
  if (c.version === 5) {
    packet.reasonCode = 0;
    delete packet.returnCode;
    packet.properties = {
      receiveMaximum: limits.maxInflight,
      maximumPacketSize: limits.maxPacketBytes,
      topicAliasMaximum: o.topicAliasMaximum,
      retainAvailable: o.retainAvailable,
      sharedSubscriptionAvailable: false,
      ...(o.maximumQos < 2 && { maximumQoS: o.maximumQos }),
      ...(cx.assigned && { assignedClientIdentifier: cx.clientId }),
      ...(cx.serverKeepAlive !== undefined && { serverKeepAlive: cx.serverKeepAlive }),
      ...(cx.sessionExpiryOverride !== undefined && { sessionExpiryInterval: cx.sessionExpiryOverride }),
    };
  }
  return packet;
}
