/**
 * The bare peer: a rhea container listening on a loopback port that accepts
 * every message at once (rhea's default credit window and auto-accept) and
 * does nothing else. Reports its port over IPC; exits with its parent.
 */
import rhea from 'rhea';
import { portOf } from '../lib/net.mjs';

const container = rhea.create_container();
container.on('error', () => undefined);
container.on('disconnected', () => undefined);
container.on('message', () => undefined);
const server = container.listen({ port: 0, host: '127.0.0.1' });
server.on('listening', () => process.send({ port: portOf(server) }));
process.on('disconnect', () => process.exit(0));
