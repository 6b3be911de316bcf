import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: { index: 'ts/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: false,
    platform: 'node',
    target: 'node20',
    // import.meta.url in the CJS build (used to find the .wasm and the addon beside the bundle).
    shims: true,
  },
  {
    entry: { browser: 'ts/browser.ts' },
    format: ['esm'],
    dts: true,
    sourcemap: true,
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
    sourcemap: true,
    clean: false,
    platform: 'node',
    target: 'node20',
  },
  {
    entry: { 'parallel-worker.browser': 'ts/parallel/browser-entry.ts' },
    format: ['esm'],
    sourcemap: true,
    clean: false,
    platform: 'browser',
    target: 'es2022',
    noExternal: ['fflate', 'protobufjs', 'long'],
  },
  {
    entry: { cli: 'ts/cli/main.ts' },
    format: ['esm'],
    sourcemap: true,
    clean: false,
    platform: 'node',
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
  },
]);
