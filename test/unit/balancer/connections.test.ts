/**
 * Which upstream writes Connections holds for the end of the turn: a request
 * joining others on a connection waits for them (one write), a connection's
 * only request does not wait (held, it would lose a loop turn of latency).
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { Connections } from '../../../src/balancer/connections.js';
import { httpCall } from '../../../src/balancer/http-call.js';
import { RestartableServer } from './servers.js';

let server: RestartableServer;
let conns: Connections;

beforeEach(async () => {
  server = new RestartableServer();
  await server.start();
  conns = new Connections(server.url, { connections: 1, pipelining: 16 });
});

afterEach(async () => {
  await conns.destroy();
  await server.stop();
});

const call = (path: string) => httpCall(conns, { method: 'POST', path, headers: {}, body: Buffer.from('x'), timeoutMs: 5000, pipelined: true });

/** The client side of the one connection (white box: Connections learns it from undici's connector). */
const socket = (): Socket => (conns as unknown as { sockets: Socket[] }).sockets[0]!;

it('does not hold the only request of an idle connection', async () => {
  expect((await call('/first')).status).toBe(200);
  const answer = call('/alone');
  expect(socket().writableCorked).toBe(0);
  expect((await answer).status).toBe(200);
});

it('holds the requests that join one in flight, and lets them go at the end of the turn', async () => {
  expect((await call('/first')).status).toBe(200);
  const answers = [call('/a'), call('/b'), call('/c')];
  expect(socket().writableCorked).toBe(1);
  expect((await Promise.all(answers)).map((a) => a.status)).toEqual([200, 200, 200]);
  expect(socket().writableCorked).toBe(0);
  expect(server.seen.map((s) => s.url)).toEqual(['/first', '/a', '/b', '/c']);
});
