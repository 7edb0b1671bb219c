/**
 * Packet dispatch: one handler per packet type, and the rules about which
 * packets may arrive when ([MQTT-3.1.0-1], [MQTT-3.1.0-2]).
 */
import type { Packet } from 'mqtt-packet';
import type { MqttSession } from '../session.js';
import { protocolError } from '../violation.js';
import { handleConnect } from './connect.js';
import { handlePublish } from './publish.js';
import { handlePuback } from './puback.js';
import { handlePubrec } from './pubrec.js';
import { handlePubrel } from './pubrel.js';
import { handlePubcomp } from './pubcomp.js';
import { handleSubscribe } from './subscribe.js';
import { handleUnsubscribe } from './unsubscribe.js';
import { handlePingreq } from './pingreq.js';
import { handleDisconnect } from './disconnect.js';
import { handleAuth } from './auth.js';

export function dispatchPacket(c: MqttSession, p: Packet): void {
  if (p.cmd === 'connect') {
    // [MQTT-3.1.0-2]: a second CONNECT is a protocol violation.
    if (c.state !== 'new') throw protocolError('MQTT-3.1.0-2', 'second CONNECT on one connection');
    handleConnect(c, p);
    return;
  }
  // [MQTT-3.1.0-1]: the first packet from the client must be CONNECT.
  if (c.state !== 'connected') throw protocolError('MQTT-3.1.0-1', `${p.cmd.toUpperCase()} before CONNECT`);
  switch (p.cmd) {
    case 'publish':
      return handlePublish(c, p);
    case 'puback':
      return handlePuback(c, p);
    case 'pubrec':
      return handlePubrec(c, p);
    case 'pubrel':
      return handlePubrel(c, p);
    case 'pubcomp':
      return handlePubcomp(c, p);
    case 'subscribe':
      return handleSubscribe(c, p);
    case 'unsubscribe':
      return handleUnsubscribe(c, p);
    case 'pingreq':
      return handlePingreq(c);
    case 'disconnect':
      return handleDisconnect(c, p);
    case 'auth':
      return handleAuth(c, p);
    default:
      // CONNACK, SUBACK, UNSUBACK, PINGRESP only travel server → client.
      throw protocolError('MQTT-2.1.3', `${p.cmd.toUpperCase()} is not a client packet`);
  }
}
