/**
 * The dashboard in a real browser (Debian's chromium driven by
 * playwright-core): it opens, its counters move while an MQTT client
 * publishes, a malformed packet shows up as an event, and the token prompt
 * appears when the admin server wants one. A screenshot is saved in the
 * test's temporary folder.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.js';
import { client, RawClient } from './mqtt-support.js';
import { startAdminBed, type AdminBed } from './admin-support.js';

let dir: string;
let browser: BrowserContext;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tg-dashboard-'));
  browser = await launchChromium(dir);
});

afterAll(async () => {
  await browser?.close();
});

async function numberIn(page: Page, selector: string): Promise<number> {
  return Number((await page.locator(selector).first().textContent()) ?? 'NaN');
}

describe('dashboard', () => {
  let bed: AdminBed | undefined;
  afterAll(async () => bed?.close());

  it('shows traffic, pools and security events live', async () => {
    bed = await startAdminBed();
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const external: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(bed!.base)) external.push(r.url());
    });
    await page.goto(`${bed.base}/`);
    await expect.poll(() => page.locator('#link').textContent()).toBe('live');
    await expect.poll(() => page.locator('tr[data-listener="mqtt"]').count()).toBe(1);
    expect(await page.locator('#login').isVisible()).toBe(false);
    const before = await numberIn(page, 'tr[data-listener="mqtt"] .messages-in');

    const c = await client(bed.mqttPort, { protocolVersion: 5, clientId: 'sensor-42' });
    let publishing = true;
    const publisher = (async () => {
      while (publishing) await c.publishAsync('telemetry/room1/temp', '{"celsius":21.5}', { qos: 1 });
    })();
    try {
      await expect.poll(() => numberIn(page, 'tr[data-listener="mqtt"] .messages-in'), { timeout: 10_000 }).toBeGreaterThan(before);
      await expect.poll(() => numberIn(page, 'tr[data-listener="mqtt"] .accepted'), { timeout: 10_000 }).toBeGreaterThan(0);
      await expect.poll(() => numberIn(page, '#rate'), { timeout: 10_000 }).toBeGreaterThan(0);
      await expect.poll(() => page.locator('#top-devices li').first().textContent(), { timeout: 10_000 }).toContain('sensor-42');
      await expect.poll(() => page.locator('#p50').textContent(), { timeout: 10_000 }).toMatch(/^\d/);
      expect(await numberIn(page, '#connections')).toBe(1);
      expect(await page.locator(`tr[data-endpoint="${bed.backend.url}"] td`).nth(2).textContent()).toBe('healthy');

      // A malformed CONNECT: the guard reports it and the event appears on the page.
      const raw = await RawClient.open(bed.mqttPort, 5);
      raw.write(Buffer.from([0x10, 0x06, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54]));
      await expect.poll(() => page.locator('#events li.security[data-kind="malformed-packet"]').count(), { timeout: 10_000 }).toBe(1);
    } finally {
      publishing = false;
      await publisher;
      c.end(true);
    }
    const shot = join(dir, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    console.log(`dashboard screenshot: ${shot}`);
    expect(errors).toEqual([]);
    expect(external).toEqual([]);
    await page.close();
  });

  it('lists bans with reason and expiry, and lifts one through the API', async () => {
    await bed?.close();
    bed = await startAdminBed({ token: 'ban-token' });
    const added = await bed.api('/api/v1/bans', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'clientId', value: 'abuser-1', ttlSeconds: 3600, reason: 'flooding' }),
    });
    const ban = (await added.json()) as { id: string };
    const page = await browser.newPage();
    await page.goto(`${bed.base}/`);
    await page.fill('#token', 'ban-token');
    await page.click('#login button');
    const row = page.locator(`#bans tr[data-ban="${ban.id}"]`);
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
    expect(await row.locator('td').nth(2).textContent()).toBe('flooding');
    expect(await row.locator('.expires').textContent()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    await row.locator('button').click();
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(0);
    expect(bed.gw.gateway.bans.list()).toEqual([]);
    await page.close();
  });

  it('asks for the token when the admin server requires one, then goes live', async () => {
    await bed?.close();
    bed = await startAdminBed({ token: 'dash-token' });
    const page = await browser.newPage();
    await page.goto(`${bed.base}/`);
    await expect.poll(() => page.locator('#login').isVisible()).toBe(true);
    await page.fill('#token', 'dash-token');
    await page.click('#login button');
    await expect.poll(() => page.locator('#link').textContent()).toBe('live');
    await expect.poll(() => page.locator('tr[data-listener="mqtt"]').count()).toBe(1);
    expect(await page.locator('#login').isVisible()).toBe(false);
    await page.close();
  });
});
