/**
 * The browser entry as a browser gets it: headless Chromium imports dist/browser.js as a plain ES module
 * (no bundler, so a Node built-in in the bundle fails the import), `init()` must pick wasm and fetch the
 * .wasm beside the bundle by URL, and the result must match PyTorch on fixture cases. Two more page loads
 * give the module as bytes and as a `Response`. Needs `bash scripts/build` (dist/) and /usr/bin/chromium.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStaticServer, type StaticServer } from './browser/server';
import { expectClose, fixturesDir, repoRoot } from './helpers';

const distDir = join(repoRoot, 'dist');
const wasmFile = join(distDir, 'cellstate_wasm_bg.wasm');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Small but covering: the notebook's shapes, packed lengths in both directions, two stacked bidirectional layers.
const cases = ['seed-shapes', 'packed-bidirectional', 'stacked-bidirectional'];
// Fixture README: compare float32 against the float64 reference with a relative tolerance of about 1e-4.
const tol = { rtol: 1e-4, atol: 1e-6 };

interface PlainTensor {
  data: number[];
  shape: number[];
}
interface CaseResult {
  output: PlainTensor;
  h_n: PlainTensor;
  c_n: PlainTensor;
  grads: Record<string, PlainTensor>;
}
interface BackendInfo {
  name: string;
  kernels: string;
  wasmBuild: string | null;
  threads: number;
  memoryBytes: number | null;
}
declare global {
  interface Window {
    cellstateReady: Promise<BackendInfo>;
    runCase(name: string): Promise<CaseResult>;
    sameBitsOnThreads(): { threads: number; differences: string[] };
    liveHandles(): number;
    trainAndStore(): Promise<{ reviews: number[]; loss: number; same: boolean; text: string }>;
  }
}

let server: StaticServer;
/** The same files, served cross-origin isolated (COOP/COEP), for the wasm threads build. */
let isolatedServer: StaticServer;
let browser: Browser | null = null;
let launchError: string | null = null;

/** Opens the test page with `?wasm=mode`, failing on any console error, warning or uncaught exception. */
async function openPage(mode: string, from: StaticServer = server): Promise<{ page: Page; info: BackendInfo; problems: string[] }> {
  const page = await browser!.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  await page.goto(`${from.origin}/page/index.html?wasm=${mode}`);
  const info = await page.evaluate(() => window.cellstateReady);
  return { page, info, problems };
}

function checkCase(name: string, got: CaseResult): void {
  const c = JSON.parse(readFileSync(join(fixturesDir, `${name}.json`), 'utf8')) as {
    outputs: Record<string, PlainTensor>;
    grads: Record<string, PlainTensor>;
  };
  for (const k of ['output', 'h_n', 'c_n'] as const) {
    expect(got[k].shape, `${name} ${k} shape`).toEqual(c.outputs[k].shape);
    expectClose(`${name} ${k}`, got[k].data, c.outputs[k].data, tol);
  }
  // Every gradient the fixture has (x, h0/c0 when it has an initial state, every parameter) must be returned.
  for (const [k, want] of Object.entries(c.grads)) {
    expect(got.grads[k], `${name} d${k} returned`).toBeDefined();
    expect(got.grads[k].shape, `${name} d${k} shape`).toEqual(want.shape);
    expectClose(`${name} d${k}`, got.grads[k].data, want.data, tol);
  }
}

describe('dist/browser.js', () => {
  it('imports no Node built-ins and nothing outside the bundle', () => {
    const src = readFileSync(join(distDir, 'browser.js'), 'utf8');
    expect(src).not.toMatch(/['"]node:/);
    expect(src).not.toMatch(/\brequire\s*\(/);
    // Every static or dynamic import specifier must be relative (it is a single self-contained file today).
    const specifiers = [...src.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]);
    expect(specifiers.filter((s) => !s.startsWith('./'))).toEqual([]);
  });
});

describe('cellstate in headless Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(join(distDir, 'browser.js'))) throw new Error('dist/browser.js is missing: run `bash scripts/build` first');
    const mounts = {
      '/dist/': distDir,
      '/page/': join(repoRoot, 'test/browser'),
      '/fixtures/': fixturesDir,
      '/data/': join(repoRoot, 'data'),
    };
    server = await startStaticServer(mounts, {
      '/raw/module.bin': { file: wasmFile, type: 'application/octet-stream' },
      '/raw/module.wasm': { file: wasmFile, type: 'application/wasm' },
    });
    isolatedServer = await startStaticServer(mounts, {}, { isolated: true });
    try {
      browser = await chromium.launch({
        executablePath: chromiumPath,
        // launch() gives every run a fresh temporary profile (its own --user-data-dir) and deletes it on close.
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
    } catch (e) {
      launchError = `Chromium did not start (${chromiumPath}): ${(e as Error).message}`;
      // In CI a browser that cannot start is a failure, never a skip.
      if (process.env.CI) throw new Error(launchError, { cause: e });
      console.warn(`browser tests skipped: ${launchError}`);
    }
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await isolatedServer?.close();
  });

  it.for([
    ['url', 'relaxed_simd', '/dist/cellstate_wasm_relaxed_bg.wasm', '/dist/cellstate_wasm_bg.wasm'],
    ['simd128', 'simd128', '/dist/cellstate_wasm_bg.wasm', '/dist/cellstate_wasm_relaxed_bg.wasm'],
  ])(
    'init() (?wasm=%s) picks wasm kernels %s, fetches %s beside the bundle, and matches PyTorch',
    async ([mode, kernels, file, other], ctx) => {
      if (!browser) return ctx.skip(launchError ?? 'no browser');
      const before = server.requests.length;
      const { page, info, problems } = await openPage(mode);
      try {
        expect(info.name).toBe('wasm');
        // Chromium validates relaxed SIMD by default, so 'auto' must take the relaxed build.
        expect(info.kernels).toBe(kernels);
        expect(info.memoryBytes).toBeGreaterThan(0);
        const fetched = server.requests.slice(before);
        expect(fetched).toContain('/dist/browser.js');
        expect(fetched).toContain(file);
        expect(fetched).not.toContain(other);
        for (const name of cases) checkCase(name, await page.evaluate((n) => window.runCase(n), name));
        // Every layer the page made was disposed.
        expect(await page.evaluate(() => window.liveHandles())).toBe(0);
        expect(problems).toEqual([]);
      } finally {
        await page.close();
      }
    },
  );

  it.for([
    ['bytes', 'an ArrayBuffer'],
    ['response', 'a fetch Response'],
  ])('init({ wasm: %s }) loads the module from %s', async ([mode], ctx) => {
    if (!browser) return ctx.skip(launchError ?? 'no browser');
    const before = server.requests.length;
    const { page, info, problems } = await openPage(mode);
    try {
      expect(info.name).toBe('wasm');
      const fetched = server.requests.slice(before);
      // The given source was used: the default file beside the bundle was never requested.
      expect(fetched.filter((f) => f.endsWith('.wasm') && f.startsWith('/dist/'))).toEqual([]);
      expect(fetched).toContain(mode === 'bytes' ? '/raw/module.bin' : '/raw/module.wasm');
      checkCase(cases[0], await page.evaluate((n) => window.runCase(n), cases[0]));
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('loads the IMDB sample from a URL, trains the notebook model, and round-trips it through IndexedDB', async (ctx) => {
    if (!browser) return ctx.skip(launchError ?? 'no browser');
    const { page, problems } = await openPage('url');
    try {
      const r = await page.evaluate(() => window.trainAndStore());
      expect(r.reviews).toEqual([512, 256]);
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(r.same).toBe(true);
      expect(r.text).toBe('this movie is good');
      // Once in several runs (2026-12-01, CI), Chromium reported the sample's request as net::ERR_ABORTED
      // although the page had read all of it (loadImdb returns only after the whole archive: the gzip trailer's
      // CRC and length are checked and a truncated tar throws): a report of the connection's teardown, not of the load.
      // Every other problem still fails the test.
      expect(problems.filter((p) => !/\/data\/imdb-sample\.tar\.gz net::ERR_ABORTED$/.test(p))).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('init({ wasmThreads: 2 }) on a cross-origin isolated page runs the threads build on a worker, same bits as 1 thread, and matches PyTorch', async (ctx) => {
    if (!browser) return ctx.skip(launchError ?? 'no browser');
    const before = isolatedServer.requests.length;
    const { page, info, problems } = await openPage('threads', isolatedServer);
    try {
      expect(info).toMatchObject({ name: 'wasm', kernels: 'relaxed_simd', wasmBuild: 'relaxed_simd_threads', threads: 2 });
      const fetched = isolatedServer.requests.slice(before);
      expect(fetched).toContain('/dist/cellstate_wasm_threads_bg.wasm');
      expect(fetched).toContain('/dist/wasm-thread.browser.js');
      for (const name of cases) checkCase(name, await page.evaluate((n) => window.runCase(n), name));
      const bits = await page.evaluate(() => window.sameBitsOnThreads());
      expect(bits).toEqual({ threads: 2, differences: [] });
      expect(await page.evaluate(() => window.liveHandles())).toBe(0);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('init({ wasmThreads: 2 }) on a page that is not cross-origin isolated is a BackendError that says how to isolate it', async (ctx) => {
    if (!browser) return ctx.skip(launchError ?? 'no browser');
    const page = await browser.newPage();
    try {
      await page.goto(`${server.origin}/page/index.html?wasm=threads`);
      const error = await page.evaluate(() =>
        window.cellstateReady.then(
          () => null,
          (e: Error) => `${e.name}: ${e.message}`,
        ),
      );
      expect(error).toMatch(/^BackendError: .*Cross-Origin-Opener-Policy: same-origin/);
    } finally {
      await page.close();
    }
  });
});
