/**
 * The dashboard: plain HTML, JavaScript and CSS files shipped in the
 * package (src/admin/dashboard/), served as they are — no build step, no
 * CDN, works offline.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express } from 'express';

/** The folder of the dashboard files: the same relative place from src/admin/ and dist/admin/. */
export const DASHBOARD_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../src/admin/dashboard');

export function serveDashboard(app: Express): void {
  app.get('/', (_req, res) => res.sendFile(join(DASHBOARD_DIR, 'index.html')));
  app.use('/dashboard', express.static(DASHBOARD_DIR, { index: false, fallthrough: true }));
}
