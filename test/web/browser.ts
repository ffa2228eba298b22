/**
 * One headless Debian Chromium for the console's end-to-end tests, driven by playwright-core
 * (`npx playwright install` cannot download browsers here). Missing Chromium is a failure
 * that says how to install it, never a skip.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { ROOT } from '../helpers.js';

/** The little of the DOM that functions run in the page use (the tests compile without the DOM lib). */
export interface Doc {
  document: {
    querySelector(s: string): { textContent: string | null; value?: string } | null;
    documentElement: { scrollWidth: number };
  };
  __xss?: number;
}

export const CHROMIUM = '/usr/bin/chromium';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Browser {
  readonly context: BrowserContext;
  /** Every request the pages made to anything but `origin` (must stay empty). */
  readonly external: string[];
  close(): Promise<void>;
}

/** Launches Chromium with a fresh profile; pages may only talk to `origin`. */
export async function launchBrowser(origin: string, executablePath = CHROMIUM): Promise<Browser> {
  if (!existsSync(executablePath)) {
    throw new Error(`Chromium is not installed (${executablePath} is missing): the web console's end-to-end tests drive it. Install it with: apt-get update && apt-get install -y chromium`);
  }
  const profile = await mkdtemp(join(tmpdir(), 'tributary-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: ARGS,
      viewport: { width: 1280, height: 860 },
      timeout: 30_000,
    });
  } catch (err) {
    await rm(profile, { recursive: true, force: true });
    throw err;
  }
  const external: string[] = [];
  context.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:')) external.push(url);
  });
  return {
    context,
    external,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Where screenshots go: `dist/screenshots/` on every run; with TRIBUTARY_UPDATE_SCREENSHOTS=1
 * into `docs/img/` (the ones the README shows).
 */
export async function screenshot(page: Page, name: string): Promise<string> {
  const dir = process.env.TRIBUTARY_UPDATE_SCREENSHOTS === '1' ? join(ROOT, 'docs', 'img') : join(ROOT, 'dist', 'screenshots');
  await mkdir(dir, { recursive: true });
  const path = join(dir, `console-${name}.png`);
  await page.screenshot({ path, fullPage: false });
  return path;
}

/** Waits until `selector`'s text satisfies `test` (polls in the page; short explicit timeout). */
export async function waitForText(page: Page, selector: string, test: RegExp | string, timeout = 10_000): Promise<string> {
  const pattern = typeof test === 'string' ? `^${test.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$` : test.source;
  const handle = await page.waitForFunction(
    ([sel, src]) => {
      const el = (globalThis as unknown as Doc).document.querySelector(sel!);
      const t = el?.textContent?.trim() ?? null;
      return t !== null && new RegExp(src!).test(t) ? t : false;
    },
    [selector, pattern] as const,
    { timeout, polling: 50 },
  ).catch(async (err: Error) => {
    const now = await page.evaluate((sel) => (globalThis as unknown as Doc).document.querySelector(sel)?.textContent ?? '(no element)', selector);
    throw new Error(`${selector} never matched ${String(test)} within ${timeout} ms; it shows ${JSON.stringify(now)} (${err.message.split('\n')[0]})`);
  });
  return (await handle.jsonValue()) as string;
}
