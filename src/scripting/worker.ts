/**
 * A script thread: a worker running a ScriptRunner (runner.ts). The main
 * thread sends it batches of messages and gets per-message results back, so
 * a slow or spinning script holds this thread — never the gateway's event
 * loop. Protocol: protocol.ts.
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import { replyToWire, requestFromWire, type Request } from './protocol.js';
import { ScriptRunner } from './runner.js';

const port = parentPort as MessagePort;
const runner = new ScriptRunner({ postMessage: (reply) => port.postMessage(replyToWire(reply)) });

port.on('message', (msg: Request | string) => {
  const run = runner.handle(requestFromWire(msg));
  // A worker runs a batch to its end: nothing else waits for this thread.
  if (run) while (!run.next().done);
});
