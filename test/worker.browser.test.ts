/**
 * The worker trainer in headless Chromium, no bundler: dist/browser.js starts dist/worker.js as a module
 * worker, which loads the .wasm beside itself; the page loads the shipped sample with `sample: true`. One
 * epoch of the notebook's model trains on the page and in the worker: the same losses (bitwise, both wasm
 * SIMD128), and while the worker trains the page's main thread never stops for 100 ms. The longest gaps
 * are printed for both. Then `createTrainer({ workers: 2 })`: the data-parallel engine's module workers
 * (dist/parallel-worker.browser.js), the losses of 1 worker within 1e-5, bitwise repeatable, abort and typed
 * errors. Needs `bash scripts/build` and /usr/bin/chromium.
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
    trainParallel(): Promise<
      Run & {
        workers: number;
        backend: { name: string; kernels: string };
        split: number[];
        repeatSame: boolean;
        stopReason: string;
        abortedAfter: number;
        errors: ({ name: string; code: string } | null)[];
        samplesPerSecond: number;
        singleSamplesPerSecond: number;
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

  it('trains data-parallel over 2 module workers (the parallel engine in a browser): the losses of 1 worker within 1e-5', async (ctx) => {
    if (!browser) return ctx.skip(launchError ?? 'no browser');
    const onPage = await page.evaluate(() => window.trainOnPage());
    const before = server.requests.length;
    const two = await page.evaluate(() => window.trainParallel());
    // The page compiled its .wasm at start and posts that module to the two parallel workers, so the only fetch
    // is the one-worker trainer's (its worker loads its own); each parallel worker fetched it before.
    expect(server.requests.slice(before).filter((f) => f.endsWith('.wasm'))).toHaveLength(1);
    console.log(
      `one epoch with workers: 2 (${two.backend.kernels}): ${two.samplesPerSecond.toFixed(0)} samples/s, workers: 1 ` +
        `${two.singleSamplesPerSecond.toFixed(0)} samples/s; longest main-thread gap ${two.maxIntervalGap.toFixed(1)} ms (interval) / ` +
        `${two.maxFrameGap.toFixed(1)} ms (frames)`,
    );
    expect(two.workers).toBe(2);
    expect(two.backend.name).toBe('wasm');
    expect(two.losses).toHaveLength(onPage.losses.length);
    // Float32 shard sums in another order: test/parallel.test.ts measured ~1e-6 relative over a few Adam steps.
    two.losses.forEach((l, i) => expect(Math.abs(l - onPage.losses[i])).toBeLessThan(1e-5));
    two.probs.forEach((p, i) => expect(Math.abs(p - onPage.probs[i])).toBeLessThan(1e-5));
    expect(two.split).toEqual(two.probs);
    expect(two.repeatSame).toBe(true);
    expect(two.stopReason).toBe('aborted');
    // fit's loop runs on the page, so it reads the abort right after the batch that fired it.
    expect(two.abortedAfter).toBe(2);
    expect(two.errors).toEqual([
      { name: 'ShapeError', code: 'shape' },
      { name: 'ValueError', code: 'value' },
    ]);
    expect(problems).toEqual([]);
  });
});
