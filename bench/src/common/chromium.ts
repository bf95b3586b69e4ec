/**
 * Debian's Chromium, headless, driven by playwright-core: for the dashboard's browser tests and its
 * screenshot. Never a browser of playwright's own (none is downloaded): `/usr/bin/chromium`, or
 * `$CHROMIUM`, with a fresh profile that is deleted on close.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

/** Quiet, offline and alone: no first-run UI, no background calls home, no GPU, no QUIC. */
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Chromium {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Starts Chromium with a profile of its own.
 *
 * @example const b = await launchChromium({ width: 1400, height: 900 }); const page = await b.context.newPage(); await b.close();
 */
export async function launchChromium(viewport = { width: 1400, height: 900 }): Promise<Chromium> {
  const profile = mkdtempSync(join(tmpdir(), 'ollama-ring-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      headless: true,
      args: ARGS,
      viewport,
    });
    return {
      context,
      async close() {
        await context.close();
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
}
