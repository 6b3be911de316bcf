/**
 * The pages end to end, built with Vite once (beforeAll) and served from web/dist on 127.0.0.1 with the
 * cross-origin-isolation headers, in headless Chromium (/usr/bin/chromium via playwright-core, as
 * test/browser.test.ts). The demo trains the seed preset on the shipped sample in its worker while the
 * test types and clicks, stops it, then classifies two reviews with the pretrained model; the benchmark page
 * runs its quick configuration and its JSON must validate (web/src/schema.ts, the page's own validator);
 * the results viewer shows a Node run and that browser run side by side. Screenshots of every page at phone
 * and desktop widths go to test/web/screenshots/ on every run. Needs `bash scripts/build` (dist/).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BenchDocument, validateBenchDocument } from '../../web/src/schema';
import { repoRoot } from '../helpers';
import { type PageServer, servePages } from './serve';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const shots = join(repoRoot, 'test/web/screenshots');
const sizes = { phone: { width: 375, height: 812 }, desktop: { width: 1280, height: 800 } };
// The bar for a page that "stays responsive": the main thread answers within 100 ms.
const RESPONSIVE_MS = 100;

declare global {
  interface Window {
    cellstateDemo: { maxGapMs: number; training: boolean; batchLosses: number[]; epochs: unknown[]; lastProbability: number };
    cellstateBench: { done: boolean; doc: BenchDocument | null };
    keyDelays: number[];
  }
}

let server: PageServer;
let browser: Browser;
let benchDoc: BenchDocument | null = null;

async function open(path: string, size: keyof typeof sizes): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: sizes[size] });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
  });
  // Nothing may come from anywhere but the page's own server.
  page.on('request', (r) => {
    if (!r.url().startsWith(server.origin) && !r.url().startsWith('blob:') && !r.url().startsWith('data:'))
      problems.push(`external request: ${r.url()}`);
  });
  await page.goto(`${server.origin}/${path}`);
  await page.waitForSelector('html[data-ready=true]', { timeout: 60_000 });
  return { page, problems };
}

async function shoot(page: Page, name: string): Promise<void> {
  for (const [size, viewport] of Object.entries(sizes)) {
    await page.setViewportSize(viewport);
    await page.waitForTimeout(150); // a frame for charts to resize
    await page.screenshot({ path: join(shots, `${name}-${size}.png`), fullPage: true });
  }
}

/** Types a review and waits for the debounced classification of exactly that text. */
async function classify(page: Page, text: string): Promise<number> {
  await page.fill('#review', text);
  await page.waitForFunction((t) => document.querySelector('#explained')?.textContent === t, text, { timeout: 5000 });
  return page.evaluate(() => window.cellstateDemo.lastProbability);
}

beforeAll(async () => {
  if (!existsSync(join(repoRoot, 'dist/browser.js'))) throw new Error('dist/browser.js is missing: run `bash scripts/build` first');
  execFileSync(process.execPath, [join(repoRoot, 'node_modules/vite/bin/vite.js'), 'build', 'web', '--logLevel', 'warn'], {
    cwd: repoRoot,
    stdio: 'inherit',
  });
  mkdirSync(shots, { recursive: true });
  server = await servePages(join(repoRoot, 'web/dist'));
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('demo page', () => {
  it('trains in a worker while the page answers, stops, then classifies with the pretrained model', async () => {
    const { page, problems } = await open('index.html', 'desktop');
    await page.evaluate(() => {
      window.keyDelays = [];
      // Queue time of each key press until its handler runs: long when the main thread is busy.
      document.querySelector('#review')!.addEventListener('keydown', (e) => window.keyDelays.push(performance.now() - e.timeStamp));
    });
    await page.selectOption('#preset', 'seed');
    // All cores is the default where the browser reports more than one.
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    expect(await page.inputValue('#workers')).toBe(cores > 1 ? 'all' : '1');
    await page.fill('#epochs', '40');
    await page.click('#train-btn');
    await page.waitForFunction(() => window.cellstateDemo.batchLosses.length > 0, null, { timeout: 30_000 });
    // While the worker trains: click and type, timing each round trip to the page.
    const roundTrips: number[] = [];
    for (let i = 0; i < 12; i++) {
      await page.click('#review');
      await page.keyboard.press('End');
      await page.keyboard.type('x');
      await page.click('#s-loss');
      // One evaluate: the time for the page's main thread to run a script and answer (plus the CDP hop).
      const t0 = performance.now();
      await page.evaluate(() => document.querySelector<HTMLTextAreaElement>('#review')!.value.length);
      roundTrips.push(performance.now() - t0);
    }
    await page.waitForFunction(() => window.cellstateDemo.epochs.length >= 1, null, { timeout: 60_000 });
    const during = await page.evaluate(() => ({
      training: window.cellstateDemo.training,
      gap: window.cellstateDemo.maxGapMs,
      keys: window.keyDelays,
    }));
    expect(during.training, 'still training when the interaction ended').toBe(true);
    // The longest pause of a 10 ms timer is logged, not asserted: on a shared, loaded machine the OS alone can
    // delay a thread that long; the measure is the answers to input, asserted below.
    console.log(
      `demo while training: longest timer pause ${during.gap.toFixed(0)} ms, key delays ≤ ${Math.max(...during.keys).toFixed(0)} ms, ` +
        `round trips ≤ ${Math.max(...roundTrips).toFixed(0)} ms`,
    );
    expect(Math.max(...during.keys), `key handler delays ${during.keys.map((d) => d.toFixed(0))}`).toBeLessThan(RESPONSIVE_MS);
    // A round trip also crosses the CDP pipe and this test process, which share the two cores with the workers:
    // single trips spike under load (167 ms once in CI with two workers busy), so the median is asserted and the
    // in-page key-handler delays above are the strict, per-event measure of the main thread.
    const median = [...roundTrips].sort((a, b) => a - b)[roundTrips.length >> 1];
    expect(median, `round trips ${roundTrips.map((d) => d.toFixed(0))} ms`).toBeLessThan(RESPONSIVE_MS);
    await shoot(page, 'demo-training');
    await page.click('#stop-btn');
    await page.waitForFunction(() => !window.cellstateDemo.training, null, { timeout: 30_000 });
    const after = await page.evaluate(() => ({ losses: window.cellstateDemo.batchLosses, epochs: window.cellstateDemo.epochs.length }));
    expect(after.epochs, 'stopped before the 40 epochs asked for').toBeLessThan(40);
    expect(await page.textContent('#train-status')).toMatch(/^Stopped/);
    // A falling loss: the last 32 batches (one epoch of the sample) average below the first 32.
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(after.losses.length).toBeGreaterThanOrEqual(64);
    expect(mean(after.losses.slice(-32))).toBeLessThan(mean(after.losses.slice(0, 32)));

    await page.click('#use-pretrained');
    await page.waitForFunction(() => document.querySelector('#model-line')?.textContent?.includes('pretrained'));
    const pos = await classify(page, 'a wonderful, moving film, brilliant acting');
    const neg = await classify(page, 'boring, awful, a waste of time');
    // The pretrained model (scripts/web-model) gives 0.935 and 0.011 in Node; only the signs are the claim.
    expect(pos).toBeGreaterThan(0.5);
    expect(neg).toBeLessThan(0.5);
    // Leave-one-out marks "awful" as pushing negative.
    const awful = await page.$eval(
      '#explained',
      (el) => [...el.querySelectorAll<HTMLElement>('span.w')].find((s) => s.textContent === 'awful,')?.dataset.effect,
    );
    expect(Number(awful)).toBeLessThan(0);
    await classify(
      page,
      'A wonderful, moving film with brilliant acting. The story drags a little in the middle, but the ending is great.',
    );
    await shoot(page, 'demo');
    expect(problems).toEqual([]);
    await page.close();
  });
});

describe('benchmark page', () => {
  it('runs the quick configuration in workers and writes a valid cellstate-bench document', async () => {
    const { page, problems } = await open('bench.html?run', 'desktop');
    await page.waitForFunction(() => window.cellstateBench.done, null, { timeout: 150_000 });
    benchDoc = await page.evaluate(() => window.cellstateBench.doc);
    expect(validateBenchDocument(benchDoc)).toEqual([]);
    expect(benchDoc!.runtime.name).toBe('browser');
    const ok = benchDoc!.results.filter((r) => r.status === 'ok');
    const machine = benchDoc!.machine as { cores: number | null; cpuFeatures: string[] };
    // Every engine measured both modes it has, each checked against the scalar reference before timing.
    for (const [engine, variant, mode] of [
      ['cellstate', 'wasm', 'train'],
      ['cellstate', 'wasm', 'infer'],
      ['tfjs', 'cpu', 'train'],
      ['tfjs', 'wasm', 'infer'],
      ['onnxruntime', 'web', 'infer'],
      // The relaxed-SIMD build where this Chromium validates it, and the data-parallel engine (checked against
      // the same step on one thread) where it reports more than one core.
      ...(machine.cpuFeatures.includes('wasm-relaxed-simd')
        ? [
            ['cellstate', 'wasm-relaxed', 'train'],
            ['cellstate', 'wasm-relaxed', 'infer'],
          ]
        : []),
      ...((machine.cores ?? 1) > 1
        ? [
            ['cellstate', 'all-cores', 'train'],
            ['cellstate', 'all-cores', 'infer'],
          ]
        : []),
      // The threads build: the pages are served cross-origin isolated (serve.ts), so with relaxed SIMD and cores to
      // spare its shared-memory job runs too.
      ...((machine.cores ?? 1) > 1 && machine.cpuFeatures.includes('wasm-relaxed-simd')
        ? [
            ['cellstate', 'threads', 'train'],
            ['cellstate', 'threads', 'infer'],
          ]
        : []),
    ]) {
      const r = ok.find((x) => x.engine === engine && x.variant === variant && x.mode === mode);
      expect(r, `${engine} ${variant} ${mode} measured`).toBeDefined();
      expect((r!.check as { status: string }).status).toBe('passed');
    }
    expect(await page.locator('#table tbody tr').count()).toBe(benchDoc!.results.length);
    await shoot(page, 'bench');
    expect(problems).toEqual([]);
    await page.close();
  }, 180_000);
});

describe('results viewer', () => {
  it('shows a Node run and a browser run side by side', async () => {
    const { page, problems } = await open('results.html', 'desktop');
    expect(benchDoc, 'the benchmark test ran first').not.toBeNull();
    await page.setInputFiles('#files', {
      name: 'browser.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify(benchDoc)),
    });
    await page.waitForFunction(() => document.querySelectorAll('#table thead th').length === 5);
    const heads = await page.$$eval('#table thead th', (t) => t.map((x) => x.textContent ?? ''));
    expect(heads[3]).toMatch(/^node /);
    expect(heads[4]).toMatch(/\(quick\)$/);
    await shoot(page, 'results');
    expect(problems).toEqual([]);
    await page.close();
  });
});
