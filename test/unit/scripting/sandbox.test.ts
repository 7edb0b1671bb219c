/**
 * Sandbox-escape attempts. A script sees only the isolate's own JavaScript
 * built-ins and the thinggate API; nothing of the host process is reachable.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ScriptDir, build, configFor, envelope, replyText } from './support.js';

const dir = new ScriptDir();
afterAll(() => dir.remove());

const PROBE = dir.write(
  'probe.js',
  `
function attempt(f) { try { const v = f(); return v === undefined ? 'undefined' : typeof v === 'object' || typeof v === 'function' ? typeof v : String(v); } catch (e) { return 'threw ' + (e && e.name); } }
export function onMessage(msg, ctx) {
  const g = globalThis;
  const probes = {
    process: typeof process,
    require: typeof require,
    module: typeof module,
    fetch: typeof fetch,
    XMLHttpRequest: typeof XMLHttpRequest,
    setTimeout: typeof setTimeout,
    setInterval: typeof setInterval,
    queueMicrotask: typeof queueMicrotask,
    Buffer: typeof Buffer,
    SharedArrayBuffer: typeof SharedArrayBuffer,
    Atomics: typeof Atomics,
    WebAssembly: typeof WebAssembly,
    hostGlobals: Object.getOwnPropertyNames(g).filter((k) => k.startsWith('__tg')).join(','),
    functionCtor: attempt(() => Function('return typeof process')()),
    msgCtorChain: attempt(() => msg.text.constructor('return typeof process')()),
    logCtorChain: attempt(() => ctx.log.info.constructor('return typeof process')()),
    stateCtorChain: attempt(() => ctx.state.get.constructor('return this')() === globalThis),
    payloadChain: attempt(() => msg.payload.constructor.constructor('return typeof require')()),
    errorStack: attempt(() => { Error.prepareStackTrace = (e, frames) => frames.map((f) => typeof f.getThis()).join(); return new Error('x').stack; }),
    callerChain: attempt(() => ctx.log.info.caller),
  };
  return reply(probes);
}
`,
);

const IMPORTS = dir.write(
  'dynamic-import.js',
  `export function onMessage(msg, ctx) {
  if (msg.address.endsWith('/log')) {
    import('node:fs').then(() => ctx.log.warn('import loaded'), (e) => ctx.log.warn('import refused: ' + e.message));
    return drop();
  }
  return import('node:fs').then(() => reply('loaded'), (e) => reply('refused ' + e.message));
}`,
);
const TAMPER = dir.write(
  'tamper.js',
  `
Object.prototype.polluted = 'yes';
Array.prototype.push = function () { throw new Error('tampered push'); };
JSON.stringify = () => { throw new Error('tampered JSON'); };
Object.defineProperty(Object.prototype, 'action', { get() { return 'reply'; }, configurable: true });
export function onMessage(msg) {
  return { action: 'drop', reason: typeof msg.text() };
}
`,
);

const { host, log } = await build(configFor(dir, [PROBE, IMPORTS, TAMPER]));
afterAll(() => host.close());

describe('sandbox', () => {
  it('exposes no host object, module loader, network, timers or shared memory', async () => {
    const r = await host.onMessage(PROBE, envelope('s0/x'));
    expect(r.ok).toBe(true);
    const probes = JSON.parse(replyText(r));
    expect(probes).toEqual({
      process: 'undefined',
      require: 'undefined',
      module: 'undefined',
      fetch: 'undefined',
      XMLHttpRequest: 'undefined',
      setTimeout: 'undefined',
      setInterval: 'undefined',
      queueMicrotask: 'undefined',
      Buffer: 'undefined',
      SharedArrayBuffer: 'undefined',
      Atomics: 'undefined',
      WebAssembly: 'undefined',
      hostGlobals: '',
      // Constructor chains lead only to the isolate's own Function and globalThis.
      functionCtor: 'undefined',
      msgCtorChain: 'undefined',
      logCtorChain: 'undefined',
      stateCtorChain: 'true',
      payloadChain: 'undefined',
      // Call sites expose no receiver from outside the script.
      errorStack: expect.stringMatching(/^undefined(,undefined)*$/),
      callerChain: 'threw TypeError',
    });
  });

  it('refuses static imports of host modules when compiling', async () => {
    dir.write(
      'static-import.js',
      `import { readFileSync } from 'node:fs';\nexport function onMessage() { return reply(readFileSync('/etc/passwd', 'utf8')); }`,
    );
    await expect(build(configFor(dir, ['static-import.js']))).rejects.toThrow(/import of 'node:fs' is not allowed/);
  });

  it('refuses dynamic import()', async () => {
    // An async result is refused anyway; the import itself must not load anything.
    const r = await host.onMessage(IMPORTS, envelope('s1/x'));
    expect(r).toMatchObject({ ok: false, code: 'TG_ERR_SCRIPT_INVALID_DECISION' });
    // The rejection is observable once the call's microtasks have run.
    expect(await host.onMessage(IMPORTS, envelope('s1/log'))).toMatchObject({ ok: true });
    const lines = log.lines.filter((l) => l.scriptLog === true && l.script === IMPORTS).map((l) => l.msg);
    expect(lines.some((m) => String(m).startsWith('import refused'))).toBe(true);
    expect(lines).not.toContain('import loaded');
  });

  it('prototype tampering inside the isolate reaches neither the host nor the decision checks', async () => {
    const r = await host.onMessage(TAMPER, envelope('s2/x', 'hi'));
    expect(r).toEqual({ ok: true, decisions: [{ action: 'drop', reason: 'string' }] });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.stringify({ a: 1 })).toBe('{"a":1}');
    expect(Object.getOwnPropertyDescriptor(Object.prototype, 'action')).toBeUndefined();
  });

  it('work queued in promise callbacks runs within the call and its time limit, never after it', async () => {
    const dir2 = new ScriptDir();
    const P = dir2.write(
      'microtask.js',
      `let ran = 0;
export function onMessage(msg) {
  if (msg.address === 'spin') Promise.resolve().then(() => { for (;;) {} });
  if (msg.address === 'count') Promise.resolve().then(() => { ran++; });
  return reply(String(ran));
}`,
    );
    const b = await build(configFor(dir2, [P], { timeoutMs: 50 }));
    try {
      await b.host.onMessage(P, envelope('count'));
      const r = await b.host.onMessage(P, envelope('read'));
      expect(replyText(r)).toBe('1');
      // The endless callback is cut off by the call's limit; the gateway and the script go on.
      await b.host.onMessage(P, envelope('spin'));
      expect(await b.host.onMessage(P, envelope('read'))).toMatchObject({ ok: true });
    } finally {
      await b.host.close();
      dir2.remove();
    }
  });

  it('host objects handed over are copies: changing them inside changes nothing outside', async () => {
    const dir2 = new ScriptDir();
    const M = dir2.write('mutate.js', `export function onMessage(msg) { msg.payload[0] = 88; try { msg.headers.x = 'y'; } catch {} return drop(); }`);
    const b = await build(configFor(dir2, [M]));
    try {
      const e = envelope('x', 'abc', { headers: { a: 'b' } });
      await b.host.onMessage(M, e);
      expect(e.payload.toString()).toBe('abc');
      expect(e.headers).toEqual({ a: 'b' });
    } finally {
      await b.host.close();
      dir2.remove();
    }
  });
});
