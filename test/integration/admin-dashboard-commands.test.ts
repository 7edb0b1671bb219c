/**
 * Command states on the dashboard, in a real browser (Debian's chromium
 * driven by playwright-core): a device's commands with each state's
 * timestamp, a queued one cancelled with its button, and a delivery shown
 * live once the device connects.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCommandBed, type CommandBed } from './commands-support.js';
import { client } from './mqtt-support.js';

let dir: string;
let browser: BrowserContext;
let bed: CommandBed;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tg-dashboard-commands-'));
  browser = await launchChromium(dir);
  bed = await startCommandBed({ unseenDevices: ['lamp-*'] });
});

afterAll(async () => {
  await browser?.close();
  await bed?.close();
  rmSync(dir, { recursive: true, force: true });
});

it("shows a device's commands with their states' timestamps, cancels a queued one, and follows a delivery", async () => {
  const first = await bed.send('lamp-9', { payload: 'one', encoding: 'text' });
  const second = await bed.send('lamp-9', { payload: 'two', encoding: 'text' });
  expect([first.status, second.status]).toEqual([202, 202]);
  const [a, b] = [first.body.id as string, second.body.id as string];

  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`http://127.0.0.1:${bed.gw.gateway.adminAddress()!.port}/`);
  await expect.poll(() => page.locator('#link').textContent(), { timeout: 10_000 }).toBe('live');
  await page.fill('#commands-device', 'lamp-9');
  await page.click('#commands-form button');
  const rowA = page.locator(`#commands tr[data-command="${a}"]`);
  const rowB = page.locator(`#commands tr[data-command="${b}"]`);
  await expect.poll(() => rowB.count(), { timeout: 10_000 }).toBe(1);
  expect(await rowA.locator('.state').textContent()).toBe('queued');
  expect(await rowA.locator('[data-state="queued"]').textContent()).toMatch(/^queued \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);

  await rowA.locator('button').click();
  await expect.poll(() => rowA.locator('.state').textContent(), { timeout: 10_000 }).toBe('cancelled');
  expect(await rowA.locator('[data-state="cancelled"]').count()).toBe(1);
  expect(await rowA.locator('button').count()).toBe(0);
  expect((await bed.call('GET', 'lamp-9', `/${a}`)).body.state).toBe('cancelled');

  // The device connects: the second command is sent and acknowledged, and the page follows the state events.
  const device = await client(bed.mqttPort, { protocolVersion: 5, clientId: 'lamp-9' });
  try {
    await device.subscribeAsync('commands/lamp-9/req/#', { qos: 1 });
    await expect.poll(() => rowB.locator('.state').textContent(), { timeout: 10_000 }).toBe('delivered');
    expect(await rowB.locator('[data-state]').evaluateAll((els) => els.map((e) => e.getAttribute('data-state')))).toEqual(['queued', 'sent', 'delivered']);
    expect(await rowB.locator('button').count()).toBe(0);
  } finally {
    await device.endAsync();
  }
  expect(errors).toEqual([]);
  await page.close();
});
