/**
 * Listener lifecycle: draining on stop (in-flight messages get their
 * acknowledgement, then v5 clients see DISCONNECT 0x8B) and the connection
 * limit.
 */
import { expect, it } from 'vitest';
import type { IDisconnectPacket } from 'mqtt-packet';
import { RawClient, client, nextEvent, startBed } from './mqtt-support.js';

it('drains: the in-flight message is acknowledged before the server disconnects with 0x8B', async () => {
  const bed = await startBed();
  try {
    bed.backend.responder = () => ({ status: 200, delayMs: 400 });
    const c = await client(bed.port, { protocolVersion: 5 });
    const disconnected = nextEvent<IDisconnectPacket>(c, 'disconnect');
    const acked = c.publishAsync('drain/me', 'x', { qos: 1 });
    await bed.backend.waitFor(1);
    const stopped = bed.gw.gateway.stop({ drain: true });
    await acked; // PUBACK arrives during the drain
    expect((await disconnected).reasonCode).toBe(0x8b);
    await stopped;
    await c.endAsync(true);
    // Packet counters are folded into the registry on stop.
    const text = await bed.gw.gateway.metrics.text();
    expect(text).toContain('thinggate_downstream_packets_total{listener="mqtt",type="publish"} 1');
    expect(text).toContain('thinggate_downstream_packets_sent_total{listener="mqtt",type="puback"} 1');
    expect(text).toMatch(/thinggate_downstream_connections\{listener="mqtt"\} 0/);
  } finally {
    await bed.close();
  }
});

it('refuses connections beyond limits.maxConnections', async () => {
  const bed = await startBed({ limits: { maxConnections: 2 } });
  try {
    const a = await RawClient.connected(bed.port, 5);
    const b = await RawClient.connected(bed.port, 5);
    const third = await RawClient.open(bed.port, 5);
    await third.waitClosed();
    expect(bed.gw.logs.some((l) => l.event === 'security' && l.kind === 'connection-limit')).toBe(true);
    a.destroy();
    await a.closed;
    b.destroy();
  } finally {
    await bed.close();
  }
});
