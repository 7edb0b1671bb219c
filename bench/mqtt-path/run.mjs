#!/usr/bin/env node
/**
 * mqtt-path bench: thinggate's MQTT → REST path, measured for CPU per
 * message as well as throughput, so it stays meaningful on a busy machine.
 *
 * Three processes per run on loopback: the load generator (load.mjs), the
 * gateway (`<build>/cli.js start`) and the back-end (backend.mjs, 204 at
 * once). The gateway's user+system CPU time is read from /proc/<pid>/stat at
 * the start and end of the measured window; µs/msg = CPU time / messages
 * acknowledged in the window. Several builds can be compared in one
 * invocation: their runs alternate, so machine noise hits them alike.
 *
 *   node bench/mqtt-path/run.mjs [--build label=dir ...] [--runs 5] [--seconds 5]
 *        [--qos 1] [--routing static|script] [--scripts JSON (the scripts section)] [--pool JSON (merged into the pool)] [--clients 50] [--window 10]
 *        [--rate 0] [--egress] [--cpu-prof DIR] [--node-args '--flag ...'] [--gateway-stdout FILE]
 *        [--scripts-by-build '{"label": {scripts section}}'] [--codecs json,cbor]
 *
 * Each run also reports the gateway's read and write system calls per
 * message (/proc/<pid>/io): how well its socket I/O is batched.
 * `--gateway-stdout` appends the gateway's stdout to FILE (for
 * `--node-args '--trace-gc --trace-gc-nvp'`).
 *
 * `dir` is a `tsc` output directory inside the repository (default dist);
 * `--build label=dir=--flag` runs that build under extra node flags;
 * `--scripts-by-build` merges a scripts section into one build's (e.g. the
 * same build with `{"threads": 0}` under another label).
 * `--codecs json,cbor` measures each build once per codec, as the suite's
 * mqtt-qos1-json-static and mqtt-qos1-cbor-json: `json` sends the bench
 * message as JSON through the static route as it is; `cbor` sends it as CBOR
 * and the route (plugins/cbor) re-encodes it as JSON. plugins/cbor is loaded
 * from the `plugins/` folder beside the build's `dist/` when there is one.
 */
import { fork, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, writeFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { once } from 'node:events';
import { tmpdir, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, syscalls } from '../lib/proc.mjs';
import { GATEWAY_NODE_ARGS } from '../lib/thinggate.mjs';
import { portOf } from '../lib/net.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = resolve(HERE, '../..');

const args = process.argv.slice(2);
const opt = {
  runs: 5,
  seconds: 5,
  warmup: 2,
  qos: 1,
  routing: 'static',
  clients: 50,
  window: 10,
  size: 200,
  rate: 0,
  egress: false,
  builds: [],
  cpuProf: undefined,
  nodeArgs: '',
  scripts: '',
  scriptsByBuild: '',
  pool: '',
  gatewayStdout: '',
  codecs: '',
};
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const v = () => args[++i];
  if (a === '--build') opt.builds.push(v());
  else if (a === '--egress') opt.egress = true;
  else if (a === '--cpu-prof') opt.cpuProf = resolve(v());
  else if (a.startsWith('--')) {
    const k = a.slice(2).replace(/-(.)/g, (_, c) => c.toUpperCase());
    const s = v();
    opt[k] = typeof opt[k] === 'number' ? Number(s) : s;
  }
}
if (opt.builds.length === 0) opt.builds.push('current=dist');
// label=dir[=node flags]: the same build can be measured under different node flags.
const builds = opt.builds.map((b) => {
  const [label, dir, ...flags] = b.includes('=') ? b.split('=') : [b, b];
  return { label, dir: resolve(ROOT, dir), cli: join(resolve(ROOT, dir), 'cli.js'), flags: flags.length ? flags.join('=').split(' ') : [] };
});
// --codecs: every build once per codec, labelled build/codec.
const codecRuns = opt.codecs
  ? builds.flatMap((b) => opt.codecs.split(',').map((codec) => ({ ...b, label: `${b.label}/${codec}`, build: b.label, codec })))
  : builds;

function ask(child, msg, key) {
  return new Promise((r) => {
    const h = (m) => {
      if (key in m) {
        child.off('message', h);
        r(m);
      }
    };
    child.on('message', h);
    child.send(msg);
  });
}

function forkReady(file, argv = []) {
  const child = fork(join(HERE, file), argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((r, j) => {
    child.once('message', (m) => r({ child, m }));
    child.once('exit', (code) => j(new Error(`${file} exited ${code}`)));
  });
}

async function waitPort(port) {
  // Up to 60 s, as the suite allows (bench/lib/thinggate.mjs): a gateway starts slowly on a loaded host.
  for (let i = 0; i < 1200; i++) {
    const ok = await new Promise((r) => {
      const s = connect(port, '127.0.0.1', () => (s.destroy(), r(true)));
      s.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} never opened`);
}

async function freePort() {
  const { createServer } = await import('node:net');
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const p = portOf(s);
  s.close();
  return p;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function runGateway(build, backendUrl) {
  const dir = mkdtempSync(join(tmpdir(), 'tg-mqtt-path-'));
  const port = await freePort();
  const cbor = build.codec === 'cbor';
  const route =
    opt.routing === 'script'
      ? { match: { address: '#' }, script: 'route.js' }
      : {
          match: { address: '#' },
          pool: 'default',
          ...(cbor && { decode: 'application/cbor' }),
          request: { method: 'POST', path: '/messages/{address}', ...(cbor && { encode: 'application/json' }) },
        };
  const pluginsDir = existsSync(join(build.dir, '..', 'plugins', 'cbor')) ? join(build.dir, '..', 'plugins') : join(ROOT, 'plugins');
  writeFileSync(join(dir, 'route.js'), "export function onMessage(msg) { return route('default'); }\n");
  writeFileSync(
    join(dir, 'thinggate.json'),
    JSON.stringify({
      ...(cbor && { plugins: [{ use: join(pluginsDir, 'cbor') }] }),
      listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port }],
      pools: [{ name: 'default', endpoints: [{ url: backendUrl }], ...(opt.pool && JSON.parse(opt.pool)) }],
      routes: [route],
      ...((opt.scripts || opt.scriptsByBuild) && {
        scripts: { ...(opt.scripts && JSON.parse(opt.scripts)), ...(opt.scriptsByBuild && JSON.parse(opt.scriptsByBuild)[build.build ?? build.label]) },
      }),
      log: { level: 'warn' },
    }),
  );
  const nodeArgs = [...GATEWAY_NODE_ARGS, ...(opt.nodeArgs ? opt.nodeArgs.split(' ') : []), ...build.flags];
  // One folder per gateway run, V8's own file names: the main thread and each script thread write their own profile (CPU.<date>.<time>.<pid>.<thread id>.<n>.cpuprofile, the main thread's id is 0); one fixed name let the last thread to exit overwrite the others.
  if (opt.cpuProf) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${join(opt.cpuProf, `${build.label}-${Date.now()}`)}`);
  const child = spawn(process.execPath, [...nodeArgs, build.cli, 'start', '-c', join(dir, 'thinggate.json')], {
    cwd: dir,
    stdio: ['ignore', opt.gatewayStdout ? openSync(opt.gatewayStdout, 'a') : 'ignore', 'inherit'],
  });
  await waitPort(port);
  return { child, port, dir };
}

async function measure(build) {
  const { child: backend, m } = await forkReady('backend.mjs');
  const backendUrl = `http://127.0.0.1:${m.port}`;
  let gw;
  let load;
  try {
    let pid;
    if (build === 'egress') {
      ({ child: load } = await forkReady('egress.mjs', [
        JSON.stringify({ url: backendUrl, connections: 16, concurrency: opt.clients * opt.window, size: opt.size }),
      ]));
      pid = load.pid;
    } else {
      gw = await runGateway(build, backendUrl);
      pid = gw.child.pid;
      ({ child: load } = await forkReady('load.mjs', [
        JSON.stringify({ port: gw.port, clients: opt.clients, window: opt.window, qos: opt.qos, size: opt.size, rate: opt.rate, codec: build.codec }),
      ]));
    }
    await sleep(opt.warmup * 1000);
    const a0 = await ask(load, { cmd: 'mark' }, 'acked');
    const b0 = await ask(backend, { cmd: 'count' }, 'count');
    const c0 = await cpuSeconds(pid);
    const s0 = await syscalls(pid);
    const t0 = performance.now();
    await sleep(opt.seconds * 1000);
    const a1 = await ask(load, { cmd: 'mark' }, 'acked');
    const b1 = await ask(backend, { cmd: 'count' }, 'count');
    const c1 = await cpuSeconds(pid);
    const s1 = await syscalls(pid);
    const secs = (performance.now() - t0) / 1000;
    // QoS 0 has no acknowledgement: count what reached the back-end.
    const msgs = opt.qos === 0 || build === 'egress' ? b1.count - b0.count : a1.acked - a0.acked;
    return {
      rate: msgs / secs,
      cpuUs: ((c1 - c0) * 1e6) / msgs,
      busy: (c1 - c0) / secs,
      reads: (s1.reads - s0.reads) / msgs,
      writes: (s1.writes - s0.writes) / msgs,
      lat: a1.lat,
      load1: loadavg()[0],
    };
  } finally {
    load?.kill();
    backend.kill();
    if (gw) {
      gw.child.kill('SIGTERM');
      await Promise.race([once(gw.child, 'exit'), sleep(5000)]);
      if (gw.child.exitCode === null) gw.child.kill('SIGKILL');
      rmSync(gw.dir, { recursive: true, force: true });
    }
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

/** @type {Array<any>} */
const subjects = [...(opt.egress ? ['egress'] : []), ...codecRuns];
const results = new Map(subjects.map((s) => [s, []]));
console.error(
  `mqtt-path: qos ${opt.qos}, routing ${opt.routing}, ${opt.clients} clients × ${opt.window} in flight, ${opt.size} B, ${opt.rate ? `open loop ${opt.rate}/s` : 'closed loop'}, ${opt.runs} × ${opt.seconds} s`,
);
for (let r = 0; r < opt.runs; r++) {
  for (const s of subjects) {
    const res = await measure(s);
    results.get(s).push(res);
    const name = s === 'egress' ? 'egress (undici)' : s.label;
    console.error(
      `run ${r + 1} ${name}: ${Math.round(res.rate)} msg/s, ${res.cpuUs.toFixed(1)} µs/msg, busy ${(res.busy * 100).toFixed(0)}%, syscalls/msg r ${res.reads.toFixed(2)} w ${res.writes.toFixed(2)}${res.lat ? `, ack latency p50 ${res.lat.p50} µs p99 ${res.lat.p99} µs` : ''}, load ${res.load1.toFixed(1)}`,
    );
  }
}
console.log('\n| subject | msg/s (median) | CPU µs/msg (median) | per-run µs/msg | per-run msg/s |' + (opt.rate ? ' ack p50/p99 µs (median) |' : ''));
console.log('|---|---:|---:|---|---|' + (opt.rate ? '---|' : ''));
for (const s of subjects) {
  const rs = results.get(s);
  const name = s === 'egress' ? 'egress limit (undici → back-end)' : s.label;
  const lat = opt.rate ? ` ${median(rs.map((x) => x.lat?.p50 ?? NaN))} / ${median(rs.map((x) => x.lat?.p99 ?? NaN))} |` : '';
  console.log(
    `| ${name} | ${Math.round(median(rs.map((x) => x.rate)))} | ${median(rs.map((x) => x.cpuUs)).toFixed(1)} | ${rs.map((x) => x.cpuUs.toFixed(1)).join(', ')} | ${rs.map((x) => Math.round(x.rate)).join(', ')} |${lat}`,
  );
}
