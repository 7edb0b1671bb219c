/**
 * Interop with Debian's mosquitto-clients: mosquitto_pub (MQTT 3.1.1 and 5)
 * at QoS 0/1/2 reaching the back-end through thinggate, and mosquitto_sub
 * receiving a device-to-device publish.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_ROUTES, client, startBed, type MqttTestBed } from '../integration/mqtt-support.js';

let bed: MqttTestBed;
beforeAll(async () => {
  bed = await startBed({ routes: DEVICE_ROUTES });
});
afterAll(async () => {
  await bed.close();
});

/** Runs a command to completion; resolves with its exit code, stdout and stderr. */
function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.each(['mqttv311', 'mqttv5'])('mosquitto_pub -V %s', (version) => {
  it.each(['0', '1', '2'])('reaches the back-end at QoS %s', async (qos) => {
    const before = bed.backend.requests.length;
    const topic = `interop/${version}/q${qos}`;
    const r = await run('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(bed.port),
      '-V',
      version,
      '-q',
      qos,
      '-i',
      `mosq-${version}-${qos}`,
      '-t',
      topic,
      '-m',
      `from mosquitto ${qos}`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    await bed.backend.waitFor(before + 1);
    const req = bed.backend.requests.find((x) => x.url === `/messages/${topic}`)!;
    expect(req.body.toString()).toBe(`from mosquitto ${qos}`);
    expect(req.headers['x-thinggate-client-id']).toBe(`mosq-${version}-${qos}`);
  });
});

describe.each(['mqttv311', 'mqttv5'])('mosquitto_sub -V %s', (version) => {
  it('receives a device-to-device publish', async () => {
    // stdbuf: mosquitto_sub block-buffers stdout into a pipe; line buffering lets us see its SUBACK line at once.
    const sub: ChildProcess = spawn(
      'stdbuf',
      ['-oL', 'mosquitto_sub', '-h', '127.0.0.1', '-p', String(bed.port), '-V', version, '-q', '1', '-t', 'devices/+/inbox', '-C', '1', '-v', '-d'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      let out = '';
      const subscribed = new Promise<void>((resolve) =>
        sub.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('received SUBACK')) resolve();
        }),
      );
      const exited = new Promise<number | null>((resolve) => sub.on('close', resolve));
      await subscribed;
      const pub = await client(bed.port, { protocolVersion: 5 });
      await pub.publishAsync('devices/d9/inbox', `hello ${version}`, { qos: 1 });
      await pub.endAsync();
      expect(await exited).toBe(0);
      expect(out).toContain(`devices/d9/inbox hello ${version}`);
    } finally {
      if (sub.exitCode === null) sub.kill();
    }
  });
});
