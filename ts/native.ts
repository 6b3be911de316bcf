/**
 * The Node platform: loads the native addon and reads the `.wasm` from disk. Imported only by the
 * Node entry (ts/index.ts), never by the browser build.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { type Platform, type RawModule, type WasmSource, WASM_FILES, registerPlatform } from './backend';

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
  return [`./${file}`, `./native/${file}`, `../native/${file}`, `./generated/wasm/${file}`, `./generated/wasm-relaxed/${file}`].map(
    (p) => new URL(p, import.meta.url),
  );
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
    readFile(findFile(WASM_FILES[build], build === 'simd128' ? 'CELLSTATE_WASM_PATH' : 'CELLSTATE_WASM_RELAXED_PATH')),
  async prepareWasm(source: WasmSource): Promise<WasmSource> {
    if (typeof source === 'string' && !/^(https?|data|blob):/.test(source)) {
      return readFile(source.startsWith('file:') ? fileURLToPath(source) : source);
    }
    if (source instanceof URL && source.protocol === 'file:') return readFile(fileURLToPath(source));
    return source;
  },
};

registerPlatform(nodePlatform);
