/**
 * Runs one program (thinggate, mosquitto, Node-RED …) on behalf of the bench
 * harness and makes sure it never outlives it: the program is killed when the
 * harness's IPC channel closes (the harness exited or crashed), when the
 * supervisor is told to stop, and after a hard lifetime.
 *
 * argv[2] is JSON: { command, args, cwd?, fdLimit?, logFile?, maxLifetimeMs }.
 */
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';

const spec = JSON.parse(process.argv[2]);
let cmd = spec.command;
let args = spec.args;
if (spec.fdLimit) {
  // Raise the open-file limit for the program only; `exec` keeps its PID.
  const quoted = [cmd, ...args].map((a) => `'${String(a).replaceAll("'", "'\\''")}'`).join(' ');
  args = ['-c', `ulimit -n ${Number(spec.fdLimit)} && exec ${quoted}`];
  cmd = 'bash';
}
const out = spec.logFile ? openSync(spec.logFile, 'a') : 'inherit';
const child = spawn(cmd, args, { cwd: spec.cwd, stdio: ['ignore', out, out], env: process.env });

let stopping = false;
/** @param {NodeJS.Signals} [signal] */
function stop(signal = 'SIGTERM') {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    child.kill(signal);
  } catch {
    return;
  }
  if (signal !== 'SIGKILL') setTimeout(() => stop('SIGKILL'), 5000).unref();
}

child.once('spawn', () => process.send?.({ type: 'started', pid: child.pid }));
child.once('error', (err) => {
  process.send?.({ type: 'error', error: err.message });
  process.exit(1);
});
child.once('exit', (code, signal) => {
  if (process.connected) process.send?.({ type: 'exited', code, signal, expected: stopping });
  // Give the message a moment to leave before going.
  setTimeout(() => process.exit(0), 50);
});

process.on('disconnect', () => stop('SIGKILL'));
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    stopping = true;
    stop('SIGTERM');
  });
}
setTimeout(() => stop('SIGKILL'), spec.maxLifetimeMs).unref();
