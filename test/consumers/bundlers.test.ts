/**
 * The packed package in fresh bundler apps, loaded in headless Chromium: Vite (the current major and the
 * two before it; dev server and build), webpack 5 and esbuild. Each app trains on the page and in a worker
 * (`createTrainer`), predicts, and round-trips the model through IndexedDB; the Vite apps also import the
 * `.wasm` and the sample through their `?url` subpaths. Bundlers are installed from the registry into
 * `$TMPDIR/cellstate-bundlers/` (kept between runs, so npm's work is done once); a failed install is a skip
 * with its reason printed, except in CI. Part of `npm test`; a few minutes. Needs `bash scripts/build`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStaticServer } from '../browser/server';
import { packRepo, run, runAsync } from './pack';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const cacheRoot = join(tmpdir(), 'cellstate-bundlers');
/** The current Vite major and the two before it (`npm view vite versions`: 8 is the newest on 2026-12-01). */
const viteMajors = [8, 7, 6];

// The app: the same for every bundler. It reports through window.appResult.
const app = (viteUrls: boolean) => `import { init, createTrainer, sequenceClassifier, loadModel, saveModel, loadImdb } from 'cellstate';
${viteUrls ? "import wasmUrl from 'cellstate/cellstate_wasm_bg.wasm?url';\nimport sampleUrl from 'cellstate/data/imdb-sample.tar.gz?url';" : ''}
const n = 64, steps = 20;
const x = { data: Int32Array.from({ length: n * steps }, (_, i) => (i * 7919 + ((i / steps) | 0) * 13) % 50), shape: [n, steps] };
const y = Float32Array.from({ length: n }, (_, i) => (x.data[i * steps] < 25 ? 1 : 0));
const config = { input: 'one-hot', vocabSize: 50, lstm: { hiddenSize: 8 }, output: { units: 1, activation: 'sigmoid' }, seed: 2 };
window.appResult = (async () => {
  const backend = await init(${viteUrls ? '{ wasm: wasmUrl }' : ''});
  const model = sequenceClassifier(config);
  const pageLosses = [];
  await model.fit(x, y, { epochs: 2, batchSize: 16, callbacks: { onBatchEnd: (l) => void pageLosses.push(l.loss) } });
  // The same .wasm on the page and in the worker (the ?url import is the SIMD128 build; 'auto' would pick relaxed SIMD).
  const trainer = await createTrainer(${viteUrls ? '{ wasm: wasmUrl }' : ''});
  const workerLosses = [];
  const r = await trainer.fit(config, x, y, { epochs: 2, batchSize: 16, onBatchEnd: (l) => void workerLosses.push(l.loss) });
  const trained = await loadModel(r.model);
  const probs = trained.predict(x).data;
  const inWorker = (await trainer.predict(r.model, x)).data;
  await saveModel(trained, { indexedDB: 'bundler-app' });
  const stored = (await loadModel({ indexedDB: 'bundler-app' })).predict(x).data;
  trainer.terminate();
  const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
  let sample = null;
  ${viteUrls ? 'sample = (await loadImdb({ sample: sampleUrl, numWords: 100, trainSize: 10, testSize: 10 })).train.labels.length;' : ''}
  return { backend: backend.name, kernels: backend.kernels, worker: trainer.backend.name, workerKernels: trainer.backend.kernels, pageLosses, workerLosses, predictSame: same(probs, inWorker) && same(probs, stored), sample };
})().catch((e) => ({ error: String((e && e.stack) || e) }));
`;
const html = (script: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>app</title></head><body><script type="module" src="${script}"></script></body></html>`;

interface AppResult {
  backend: string;
  kernels: string;
  worker: string;
  workerKernels: string;
  pageLosses: number[];
  workerLosses: number[];
  predictSame: boolean;
  sample: number | null;
  error?: string;
}

let work = '';
let tarball = '';
let browser: Browser | null = null;
let skipReason: string | null = null;
const children: ChildProcess[] = [];

/** A persistent folder with `deps` and the fresh tarball installed; null (and a reported skip) when npm cannot. */
async function appDir(name: string, deps: string[]): Promise<string | null> {
  const dir = join(cacheRoot, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `app-${name}`, private: true, type: 'module' }));
  try {
    await runAsync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', '--no-save', tarball, ...deps], dir, 300_000);
  } catch (e) {
    if (process.env.CI) throw e;
    skipReason = `npm could not install ${deps.join(' ')}: ${(e as Error).message.split('\n').slice(-3).join(' ')}`;
    console.warn(`bundler consumer test skipped: ${skipReason}`);
    return null;
  }
  for (const f of readdirSync(dir))
    if (!['node_modules', 'package.json', 'package-lock.json'].includes(f)) rmSync(join(dir, f), { recursive: true });
  return dir;
}

/** Opens `url` in Chromium and waits for the app's result; console errors fail it. */
async function load(url: string): Promise<AppResult> {
  const page = await browser!.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  try {
    await page.goto(url);
    await page.waitForFunction(() => (window as unknown as { appResult?: unknown }).appResult !== undefined, null, { timeout: 60_000 });
    const result = await page.evaluate(() => (window as unknown as { appResult: Promise<AppResult> }).appResult);
    expect(problems).toEqual([]);
    return result;
  } finally {
    await page.close();
  }
}

function check(r: AppResult): void {
  expect(r.error).toBeUndefined();
  expect(r.backend).toBe('wasm');
  expect(r.worker).toBe('wasm');
  // Chromium has relaxed SIMD: 'auto' picks it, a ?url import of cellstate_wasm_bg.wasm is the SIMD128 build.
  expect(['simd128', 'relaxed_simd']).toContain(r.kernels);
  expect(r.workerKernels).toBe(r.kernels);
  // 64 sequences in batches of 16, two epochs; the worker gives the page's losses bit for bit (both wasm).
  expect(r.pageLosses).toHaveLength(8);
  expect(r.workerLosses).toEqual(r.pageLosses);
  expect(r.predictSame).toBe(true);
}

/** A static server over `dir` on localhost. */
async function serve(dir: string): Promise<{ origin: string; close(): Promise<void> }> {
  return startStaticServer({ '/': dir });
}

beforeAll(async () => {
  ({ work, tarball } = packRepo('cellstate-bundlers-'));
  try {
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
  } catch (e) {
    if (process.env.CI) throw e;
    skipReason = `Chromium did not start: ${(e as Error).message}`;
  }
}, 120_000);

afterAll(async () => {
  for (const c of children) c.kill();
  await browser?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.each(viteMajors)('Vite %i', (major) => {
  let dir: string | null = null;
  beforeAll(async () => {
    if (skipReason) return;
    dir = await appDir(`vite${major}`, [`vite@${major}`]);
    if (!dir) return;
    writeFileSync(join(dir, 'index.html'), html('/main.js'));
    // README, "Bundlers": before Vite 8 the dev server's dependency pre-bundling moves the package's JavaScript
    // away from its worker script and .wasm; this one line keeps them together (builds need nothing).
    if (major < 8) writeFileSync(join(dir, 'vite.config.js'), "export default { optimizeDeps: { exclude: ['cellstate'] } };\n");
    writeFileSync(join(dir, 'main.js'), app(true));
  }, 400_000);

  it('dev server: trains on the page and in a worker, predicts, stores', async (ctx) => {
    if (!dir || !browser) return ctx.skip(skipReason ?? 'not installed');
    const port = 20000 + major * 100 + Math.floor(Math.random() * 100);
    const child = spawn(join(dir, 'node_modules/.bin/vite'), ['--port', String(port), '--strictPort', '--host', '127.0.0.1'], {
      cwd: dir,
      // Plain text: under CI=true Vite colours its banner, which splits "Local:" with escape codes.
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    children.push(child);
    let out = '';
    // eslint-disable-next-line no-control-regex -- strips any ANSI escape the env above did not turn off
    const plain = (d: Buffer) => String(d).replace(/\x1b\[[0-9;]*m/g, '');
    child.stdout.on('data', (d: Buffer) => (out += plain(d)));
    child.stderr.on('data', (d: Buffer) => (out += plain(d)));
    for (let i = 0; i < 100 && !/Local:/.test(out); i++) await new Promise((r) => setTimeout(r, 200));
    expect(out, 'vite dev server started').toMatch(/Local:/);
    try {
      const r = await load(`http://127.0.0.1:${port}/`);
      check(r);
      expect(r.sample).toBe(10);
    } finally {
      child.kill();
    }
  });

  it('build, served statically: the same', async (ctx) => {
    if (!dir || !browser) return ctx.skip(skipReason ?? 'not installed');
    await runAsync(join(dir, 'node_modules/.bin/vite'), ['build', '--logLevel', 'warn'], dir);
    const server = await serve(join(dir, 'dist'));
    try {
      const r = await load(`${server.origin}/index.html`);
      check(r);
      expect(r.sample).toBe(10);
    } finally {
      await server.close();
    }
  });
});

describe('webpack 5', () => {
  it('build, served statically: trains on the page and in a worker, predicts, stores', async (ctx) => {
    if (skipReason || !browser) return ctx.skip(skipReason ?? 'no browser');
    const dir = await appDir('webpack5', ['webpack@5']);
    if (!dir) return ctx.skip(skipReason ?? 'not installed');
    writeFileSync(join(dir, 'main.js'), app(false));
    // The webpack API instead of webpack-cli (one package fewer); no config beyond entry and output.
    writeFileSync(
      join(dir, 'build.mjs'),
      `import webpack from 'webpack';
webpack({ mode: 'production', entry: './main.js', output: { path: new URL('./dist', import.meta.url).pathname, filename: 'main.js' } }, (err, stats) => {
  if (err || stats.hasErrors()) { console.error(err || stats.toString('errors-only')); process.exit(1); }
});
`,
    );
    run('node', ['build.mjs'], dir, 180_000);
    writeFileSync(join(dir, 'dist/index.html'), html('./main.js').replace('type="module" ', ''));
    const server = await serve(join(dir, 'dist'));
    try {
      check(await load(`${server.origin}/index.html`));
    } finally {
      await server.close();
    }
  });
});

describe('esbuild', () => {
  it('bundle + the documented copy of worker.js and the .wasm: trains on the page and in a worker, predicts, stores', async (ctx) => {
    if (skipReason || !browser) return ctx.skip(skipReason ?? 'no browser');
    const dir = await appDir('esbuild', ['esbuild']);
    if (!dir) return ctx.skip(skipReason ?? 'not installed');
    writeFileSync(join(dir, 'main.js'), app(false));
    run(join(dir, 'node_modules/.bin/esbuild'), ['main.js', '--bundle', '--format=esm', '--platform=browser', '--outdir=dist'], dir);
    // README, "Bundlers": esbuild copies no assets, so the worker script and the .wasm go beside the bundle.
    const pkg = join(dir, 'node_modules/cellstate/dist');
    for (const f of readdirSync(pkg).filter((f) => f === 'worker.js' || f.endsWith('.wasm')))
      copyFileSync(join(pkg, f), join(dir, 'dist', f));
    writeFileSync(join(dir, 'dist/index.html'), html('./main.js'));
    expect(existsSync(join(dir, 'dist/cellstate_wasm_bg.wasm'))).toBe(true);
    const server = await serve(join(dir, 'dist'));
    try {
      check(await load(`${server.origin}/index.html`));
    } finally {
      await server.close();
    }
  });
});
