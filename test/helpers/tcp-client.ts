/** A raw TCP client for plugin stream listeners: writes bytes, collects what comes back, notices the close. */
import { connect, type Socket } from 'node:net';

export interface TcpClient {
  readonly socket: Socket;
  /** Everything received so far. */
  received(): Buffer;
  /** Resolves once `predicate(received)` holds (rejects after `timeoutMs`). */
  until(predicate: (data: Buffer) => boolean, timeoutMs?: number): Promise<Buffer>;
  /** Resolves when the server closed the connection. */
  closed(): Promise<void>;
}

export async function tcpClient(port: number): Promise<TcpClient> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let data = Buffer.alloc(0);
  const waiters = new Set<() => void>();
  const isClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => {});
  socket.on('data', (chunk: Buffer) => {
    data = Buffer.concat([data, chunk]);
    for (const w of waiters) w();
  });
  return {
    socket,
    received: () => data,
    until: (predicate, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (!predicate(data)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(data);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out; received ${data.length} bytes: ${data.toString('hex')}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    closed: () => isClosed,
  };
}
