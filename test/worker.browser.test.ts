/**
 * The worker trainer in headless Chromium, no bundler: dist/browser.js starts dist/worker.js as a module
 * worker, which loads the .wasm beside itself; the page loads the shipped sample with `sample: true`. One
 * epoch of the notebook's model trains on the page and in the worker: the same losses (bitwise, both wasm
 * SIMD128), and while the worker trains the page's main thread never stops for 100 ms. The longest gaps
 * are printed for both. Needs `bash scripts/build` and /usr/bin/chromium.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStaticServer, type StaticServer } from './browser/server';
import { repoRoot } from './helpers';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

interface Run {
  losses: number[];
  probs: number[];
  ms: number;
  maxIntervalGap: number;
  maxFrameGap: number;
}
declare global {
  interface Window {
    workerPageReady: Promise<{ name: string; kernels: string }>;
    trainOnPage(): Promise<Run & { reviews: number }>;
    trainInWorker(): Promise<
      Run & {
        backend: { name: string; kernels: string };
        inWorker: number[];
        storedSame: boolean;
        stopReason: string;
        error: { name: string; code: string; message: string } | null;
      }
    >;
  }
}

let server: StaticServer;
let browser: Browser | null = null;
let launchError: string | null = null;

describe('createTrainer in headless Chromium (module worker, no bundler)', () => {
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!existsSync(join(repoRoot, 'dist/worker.js'))) throw new Error('dist/worker.js is missing: run `bash scripts/build` first');
    server = await startStaticServer({
      '/dist/': join(repoRoot, 'dist'),
      '/page/': join(repoRoot, 'test/browser'),
      '/data/': join(repoRoot, 'data'),
    });
    try {
      browser = await chromium.launch({
        executablePath: chromiumPath,
        args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
      });
    } catch (e) {
      launchError = `Chromium did not start (${chromiumPath}): ${(e as Error).message}`;
      if (process.env.CI) throw new Error(launchError, { cause: e });
      console.warn(`browser tests skipped: ${launchError}`);
      return;
    }
    page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
    await page.goto(`${server.origin}/page/worker.html`);
    await page.evaluate(() => window.workerPageReady);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('trains to the same losses as fit on the page, keeps the page responsive, predicts, stores, aborts and types its errors', async (ctx) => {
    if (!browser) return ctx.skip(launchError ?? 'no browser');
    const onPage = await page.evaluate(() => window.trainOnPage());
    const inWorker = await page.evaluate(() => window.trainInWorker());
    console.log(
      `one epoch, ${onPage.reviews} reviews, ${onPage.losses.length} batches: on the page ${onPage.ms.toFixed(0)} ms, longest gap ` +
        `${onPage.maxIntervalGap.toFixed(1)} ms (interval) / ${onPage.maxFrameGap.toFixed(1)} ms (frames); in a worker ` +
        `${inWorker.ms.toFixed(0)} ms, longest gap ${inWorker.maxIntervalGap.toFixed(1)} / ${inWorker.maxFrameGap.toFixed(1)} ms`,
    );
    // The sample's 2,000 training reviews in batches of 64.
    expect(onPage.losses).toHaveLength(Math.ceil(2000 / 64));
    expect(inWorker.backend.name).toBe('wasm');
    expect(inWorker.losses).toEqual(onPage.losses);
    expect(inWorker.probs).toEqual(onPage.probs);
    expect(inWorker.inWorker).toEqual(onPage.probs);
    expect(inWorker.storedSame).toBe(true);
    expect(inWorker.stopReason).toBe('aborted');
    expect(inWorker.error).toMatchObject({ name: 'ShapeError', code: 'shape' });
    // The bar for a responsive page: the main thread answers within 100 ms while the worker trains.
    expect(inWorker.maxIntervalGap).toBeLessThan(100);
    expect(problems).toEqual([]);
  });
});
