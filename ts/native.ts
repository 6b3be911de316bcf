/**
 * The Node platform: loads the native addon and reads the `.wasm` from disk. Imported only by the
 * Node entry (ts/index.ts), never by the browser build.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type Platform, type RawModule, type WasmThread, type WasmSource, WASM_FILES, registerPlatform } from './backend';

/**
 * File name of the addon for this platform, e.g. `cellstate.linux-x64-gnu.node`.
 * @throws never.
 */
export function nativeFileName(): string {
  const libc = process.platform === 'linux' ? (isMusl() ? '-musl' : '-gnu') : '';
  return `cellstate.${process.platform}-${process.arch}${libc}.node`;
}

function isMusl(): boolean {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return !report?.header?.glibcVersionRuntime;
}

/** Candidate locations, relative to this module: dist/ in the package, ts/ when run from source. */
function candidates(file: string): URL[] {
  return [
    `./${file}`,
    `./native/${file}`,
    `../native/${file}`,
    `./generated/wasm/${file}`,
    `./generated/wasm-relaxed/${file}`,
    `./generated/wasm-threads/${file}`,
  ].map((p) => new URL(p, import.meta.url));
}

function findFile(file: string, envVar: string): string {
  const fromEnv = process.env[envVar];
  if (fromEnv) return fromEnv;
  for (const url of candidates(file)) {
    const p = fileURLToPath(url);
    if (existsSync(p)) return p;
  }
  throw new Error(`${file} not found beside the package (set ${envVar} to its path)`);
}

const nodePlatform: Platform = {
  loadNative(): RawModule {
    const path = findFile(nativeFileName(), 'CELLSTATE_NATIVE_PATH');
    const require = createRequire(import.meta.url);
    return require(path) as RawModule;
  },
  defaultWasm: async (build) =>
    readFile(
      findFile(
        WASM_FILES[build],
        {
          simd128: 'CELLSTATE_WASM_PATH',
          relaxed_simd: 'CELLSTATE_WASM_RELAXED_PATH',
          relaxed_simd_threads: 'CELLSTATE_WASM_THREADS_PATH',
        }[build],
      ),
    ),
  startWasmThread: nodeWasmThread,
  async prepareWasm(source: WasmSource): Promise<WasmSource> {
    if (typeof source === 'string' && !/^(https?|data|blob):/.test(source)) {
      return readFile(source.startsWith('file:') ? fileURLToPath(source) : source);
    }
    if (source instanceof URL && source.protocol === 'file:') return readFile(fileURLToPath(source));
    return source;
  },
};

/**
 * A worker_threads worker running `dist/wasm-thread.js` (beside this bundle, or from the source tree after
 * `bash scripts/build`) on the threads build's module and shared memory. It inherits the process's V8 flags and
 * is unref'd: it sleeps in the pool when idle and must not keep the process alive.
 */
function nodeWasmThread(module: WebAssembly.Module, memory: WebAssembly.Memory): WasmThread {
  let script: string | null = null;
  // dist/ in the package (the bundle is dist/index.js), or dist/ beside ts/ when run from source.
  for (const p of ['./wasm-thread.js', '../dist/wasm-thread.js']) {
    const path = fileURLToPath(new URL(p, import.meta.url));
    if (existsSync(path)) {
      script = path;
      break;
    }
  }
  if (!script) throw new Error('wasm-thread.js not found beside the package (run `bash scripts/build`)');
  // No Node options: inherited, those about the entry script (`node --input-type=module -e ...`) make the worker
  // refuse its own file. V8's flags (--experimental-wasm-relaxed-simd) are the process's and apply to it anyway.
  const w = new Worker(script, { workerData: { module, memory }, execArgv: [] });
  w.unref();
  return {
    onError: (h) => {
      w.on('error', h);
      w.on('exit', (code) => h(new Error(`the wasm thread worker exited with code ${code}`)));
    },
    terminate: () => void w.terminate(),
  };
}

registerPlatform(nodePlatform);
