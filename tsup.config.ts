import { defineConfig } from 'tsup';

// No source maps: the bundles are not minified, so stack traces read as they are, and the maps (with the
// sources inlined) were 2.5 MB of the tarball; a missing map would also make bundlers warn.
export default defineConfig([
  {
    entry: { index: 'ts/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    clean: false,
    platform: 'node',
    target: 'node20',
    // import.meta.url in the CJS build (used to find the .wasm, the addon and the worker beside the bundle).
    shims: true,
  },
  {
    // The worker_threads script of the Node trainer, ESM only (a Worker loads it by file URL).
    entry: { 'node-worker': 'ts/worker/node-worker.ts' },
    format: ['esm'],
    clean: false,
    platform: 'node',
    target: 'node20',
  },
  {
    entry: { browser: 'ts/browser.ts' },
    format: ['esm'],
    dts: true,
    clean: false,
    platform: 'browser',
    target: 'es2022',
    // Self-contained, so a page can import it with no bundler or import map (fflate and protobufjs/light are small).
    noExternal: ['fflate', 'protobufjs', 'long'],
  },
  {
    // The data-parallel engine's worker entries, loaded by ParallelModel's workers from beside the bundles.
    entry: { 'parallel-worker': 'ts/parallel/node-entry.ts' },
    format: ['esm'],
    clean: false,
    platform: 'node',
    target: 'node20',
  },
  {
    entry: { 'parallel-worker.browser': 'ts/parallel/browser-entry.ts' },
    format: ['esm'],
    clean: false,
    platform: 'browser',
    target: 'es2022',
    noExternal: ['fflate', 'protobufjs', 'long'],
  },
  {
    // The wasm threads build's workers (worker_threads and module Web Workers): each enters the core's pool.
    entry: { 'wasm-thread': 'ts/wasm-thread/node-entry.ts' },
    format: ['esm'],
    clean: false,
    platform: 'node',
    target: 'node20',
  },
  {
    entry: { 'wasm-thread.browser': 'ts/wasm-thread/browser-entry.ts' },
    format: ['esm'],
    clean: false,
    platform: 'browser',
    target: 'es2022',
  },
  {
    // The module Web Worker of the browser trainer: self-contained too, beside the .wasm it loads.
    entry: { worker: 'ts/worker/browser-worker.ts' },
    format: ['esm'],
    dts: true,
    clean: false,
    platform: 'browser',
    target: 'es2022',
    noExternal: ['fflate', 'protobufjs', 'long'],
  },
  {
    entry: { cli: 'ts/cli/main.ts' },
    format: ['esm'],
    clean: false,
    platform: 'node',
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
  },
]);
