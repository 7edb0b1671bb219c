/**
 * `scripts.threads: 0`: the scripts run on the gateway's event loop, in a
 * ScriptRunner (runner.ts) spoken to exactly as a worker is, without the
 * hand-over to another thread and back (on one or two cores that costs more
 * than the thread gives; bench/RESULTS.md "script-overhead").
 *
 * Requests are handled in order, one at a time, as in a worker. A batch runs
 * one time slice per event-loop turn (about a millisecond, see
 * ScriptVersion.batch), so connections are served between slices; a single
 * message that runs long still holds the event loop for up to the per-call
 * time limit (`scripts.timeoutMs`).
 */
import { EventEmitter } from 'node:events';
import type { Reply, Request } from './protocol.js';
import { ScriptRunner, type BatchRun } from './runner.js';

export class InlineThread extends EventEmitter {
  private readonly runner = new ScriptRunner({ postMessage: (reply: Reply) => this.emit('message', reply) });
  private readonly queue: Request[] = [];
  /** The batch being run, between its slices. */
  private running: BatchRun | undefined;
  private stopped = false;

  postMessage(msg: Request): void {
    if (this.stopped) return;
    this.queue.push(msg);
    if (this.queue.length === 1 && this.running === undefined) this.drain();
  }

  /** Nothing to hold the process open: the event loop is the thread. */
  ref(): void {}
  unref(): void {}

  /** Disposes the isolates and, as a worker does, reports the exit. */
  async terminate(): Promise<number> {
    if (this.stopped) return 1;
    this.stopped = true;
    this.queue.length = 0;
    this.running = undefined;
    this.runner.disposeAll();
    this.emit('exit', 1);
    return 1;
  }

  /** Handles queued requests until a batch needs another turn. */
  private drain(): void {
    while (!this.stopped && this.running === undefined && this.queue.length > 0) {
      const msg = this.queue[0]!;
      try {
        const run = this.runner.handle(msg);
        if (run && !run.next().done) {
          this.running = run;
          setImmediate(this.step);
        }
      } catch (err) {
        this.lose(err);
        return;
      }
      if (this.running === undefined) this.queue.shift();
    }
  }

  /** As after a worker's uncaught exception: the thread is lost and replaced (thread.ts). */
  private lose(err: unknown): void {
    this.emit('error', err);
    void this.terminate();
  }

  private readonly step = (): void => {
    const run = this.running;
    if (this.stopped || run === undefined) return;
    try {
      if (!run.next().done) {
        setImmediate(this.step);
        return;
      }
    } catch (err) {
      this.lose(err);
      return;
    }
    this.running = undefined;
    this.queue.shift();
    this.drain();
  };
}
