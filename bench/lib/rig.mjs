/**
 * A rig: the back-end process, the system under test and the generator
 * process, wired on loopback. `withRig` guarantees teardown (children are
 * stopped by PID even when a phase throws).
 */
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { ask, cpuSeconds, forkNode, stopChild } from './proc.mjs';

const BACKEND = fileURLToPath(new URL('./backend.mjs', import.meta.url));
const GENERATOR = fileURLToPath(new URL('./generator.mjs', import.meta.url));

/** Starts the bench back-end; resolves with { child, port, url }. */
export async function startBackend() {
  const child = forkNode(BACKEND, [], { name: 'backend' });
  const [msg] = await once(child, 'message');
  return { child, port: msg.port, url: `http://127.0.0.1:${msg.port}` };
}

/**
 * Starts a generator process and opens its transport.
 * @param {object} transport
 * @param {{ fdLimit?: number }} [options]
 */
export async function startGenerator(transport, { fdLimit } = {}) {
  const child = forkNode(GENERATOR, [], { name: 'generator', fdLimit });
  await once(child, 'message');
  const opened = await ask(child, { cmd: 'open', transport }, 180_000);
  return { child, opened: opened.open, errors: opened.errors };
}

/**
 * Runs `body(rig)` with a back-end, a target from `startTarget(backend)` and
 * a generator for `transportFor(target)`; tears everything down afterwards.
 * `startTarget` resolves with { stop(), pid?, notes?, transport }.
 */
export async function withRig(startTarget, body) {
  const backend = await startBackend();
  let target;
  let gen;
  const stopBoth = async () => {
    if (gen) {
      await ask(gen.child, { cmd: 'close' }, 10_000).catch(() => {});
      await stopChild(gen.child);
      gen = undefined;
    }
    if (target) {
      await target.stop().catch(() => {});
      target = undefined;
    }
  };
  try {
    const rig = {
      backend: backend.child,
      async start() {
        target = await startTarget(backend);
        gen = await startGenerator(target.transport, { fdLimit: target.fdLimit });
        rig.target = target;
        rig.generator = gen.child;
        rig.fireAndForget = target.transport.qos === 0 || target.transport.confirmable === false;
        rig.targetCpu = target.pids ? async () => (await Promise.all(target.pids().map((p) => cpuSeconds(p).catch(() => 0)))).reduce((a, b) => a + b, 0) : null;
        rig.connectInfo = gen.opened;
      },
      /** A fresh server and generator (same back-end), for when a server is stuck with a backlog. */
      async restart() {
        await stopBoth();
        await rig.start();
      },
    };
    await rig.start();
    return await body(rig);
  } finally {
    await stopBoth();
    await stopChild(backend.child);
  }
}
