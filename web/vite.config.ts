// The pages (demo, benchmark, results viewer) as a Vite multi-page app. `npm run web` serves them,
// `npm run web:build` writes static files to web/dist/. cellstate is the repository's own dist/browser.js
// (run `npm run build` first), the peers come from npm (devDependencies), and nothing loads from the internet.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Plugin, defineConfig } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const dist = join(root, 'dist');

/**
 * Files the pages fetch by URL that live elsewhere in the repository: served by the dev server and written
 * into the build, never duplicated in git. URL path (relative to the site) → file.
 */
function repoFiles(): Record<string, () => Buffer | string> {
  if (!existsSync(join(dist, 'browser.js'))) throw new Error('dist/browser.js is missing: run `npm run build` before the pages');
  const files: Record<string, () => Buffer | string> = {
    'data/imdb-sample.tar.gz': () => readFileSync(join(root, 'data/imdb-sample.tar.gz')),
  };
  // Every cellstate .wasm the build has (SIMD128 today; a relaxed-SIMD or threaded one when it is built),
  // and a manifest so the benchmark page knows which exist.
  const wasm = readdirSync(dist).filter((f) => f.endsWith('.wasm'));
  for (const f of wasm) files[`cellstate/${f}`] = () => readFileSync(join(dist, f));
  files['cellstate/wasm.json'] = () => JSON.stringify(wasm);
  // The Node benchmark results kept in the repository, offered by the results viewer (not the --pairs
  // documents: their rows repeat once a round; their table is the .md beside them).
  const resultsDir = join(root, 'bench/results');
  const results = existsSync(resultsDir) ? readdirSync(resultsDir).filter((f) => f.endsWith('.json') && !f.endsWith('-pairs.json')) : [];
  for (const f of results) files[`results/${f}`] = () => readFileSync(join(resultsDir, f));
  files['results/index.json'] = () => JSON.stringify(results);
  return files;
}

const types: Record<string, string> = { '.wasm': 'application/wasm', '.json': 'application/json', '.gz': 'application/gzip' };

function repoAssets(): Plugin {
  let files: Record<string, () => Buffer | string> = {};
  return {
    name: 'cellstate-repo-assets',
    buildStart() {
      files = repoFiles();
    },
    configureServer(server) {
      files = repoFiles();
      server.middlewares.use((req, res, next) => {
        const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\//, '');
        const read = files[path];
        if (!read) return next();
        const ext = path.slice(path.lastIndexOf('.'));
        res.setHeader('content-type', types[ext] ?? 'application/octet-stream');
        res.end(read());
      });
    },
    generateBundle() {
      for (const [fileName, read] of Object.entries(files)) this.emitFile({ type: 'asset', fileName, source: read() });
    },
  };
}

// Cross-origin isolation (SharedArrayBuffer) lets the peers' wasm builds use threads; a static host needs the
// same two headers (README, "Pages").
const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  root: here,
  base: './',
  resolve: { alias: { cellstate: join(dist, 'browser.js') } },
  define: { __CELLSTATE_VERSION__: JSON.stringify(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version) },
  plugins: [repoAssets()],
  worker: { format: 'es' },
  server: { headers: isolation, fs: { allow: [root] } },
  preview: { headers: isolation },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    rollupOptions: {
      input: { demo: join(here, 'index.html'), bench: join(here, 'bench.html'), results: join(here, 'results.html') },
    },
  },
});
