/** Server-Sent Events (HTML Living Standard §9.2) on an express response. */
import type { Response } from 'express';

/** Comment line sent this often so proxies keep an idle stream open. */
const HEARTBEAT_MS = 15_000;

export interface SseStream {
  send(event: string, data: unknown, id?: number): void;
  /** Called once when the client goes away. */
  onClose(fn: () => void): void;
}

export function openSse(res: Response): SseStream {
  res.status(200).set({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  res.flushHeaders();
  res.write(': thinggate\n\n');
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS).unref();
  const closers: Array<() => void> = [() => clearInterval(heartbeat)];
  res.on('close', () => {
    for (const f of closers) f();
  });
  return {
    send(event, data, id) {
      res.write(`${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    onClose(fn) {
      closers.push(fn);
    },
  };
}
