/**
 * Backends: the wasm module (every runtime) and the native addon (Node). One interface, one loader.
 * Nothing here touches Node built-ins: the Node entry registers the native loader and the default
 * location of the `.wasm` file through {@link registerPlatform}.
 */
import { BackendError, CellstateError, ShapeError, StateError, ValueError } from './errors';
import type { ResponseInstance, URLInstance } from './globals';
import initWasm, * as wasmGlue from './generated/wasm/cellstate_wasm.js';
// The relaxed-SIMD build's glue: the same generated code as the plain one (either instantiates either .wasm), but
// its own module, so each build keeps its own instance and both can be loaded in one process (benchmarks, tests).
import initWasmRelaxed, * as wasmGlueRelaxed from './generated/wasm-relaxed/cellstate_wasm.js';
// The threads build's glue: its memory is shared, and workers that instantiate the same module on it run the core's
// pool (`workerMain`), so one call's products and recurrences split over cores as the native pool splits them.
import initWasmThreads, * as wasmGlueThreads from './generated/wasm-threads/cellstate_wasm.js';

/** Which compute backend runs the core. */
export type BackendName = 'wasm' | 'native';

/**
 * The `.wasm` builds: `'simd128'` (every engine with SIMD), `'relaxed_simd'` (adds `f32x4.relaxed_madd` kernels;
 * Chromium, Firefox, Safari 18+, Node 20 only with `--experimental-wasm-relaxed-simd`) and `'relaxed_simd_threads'`
 * (relaxed SIMD on a shared memory with worker threads: `wasmThreads` above 1).
 */
export type WasmBuild = 'simd128' | 'relaxed_simd' | 'relaxed_simd_threads';

/** The builds `wasmFeatures` chooses between (the threads build is chosen by `wasmThreads`). */
export type WasmFeatures = 'simd128' | 'relaxed_simd';

/** The raw LSTM handle both bindings export (generated glue; never used directly by users). */
export interface RawLstm {
  paramTable(): string;
  params(): Float32Array;
  setParams(data: Float32Array): void;
  grads(): Float32Array;
  zeroGrad(): void;
  forward(
    x: Float32Array,
    batch: number,
    steps: number,
    batchFirst: boolean,
    h0: Float32Array | null | undefined,
    c0: Float32Array | null | undefined,
    lengths: Uint32Array | null | undefined,
    grad: boolean,
  ): void;
  output(): Float32Array;
  hN(): Float32Array;
  cN(): Float32Array;
  hasForward(): boolean;
  backward(dOutput?: Float32Array | null, dHN?: Float32Array | null, dCN?: Float32Array | null): void;
  dX(): Float32Array;
  dH0(): Float32Array;
  dC0(): Float32Array;
  free?(): void;
}

/** What a binding module exports (the wasm glue and the napi addon expose the same names). */
export interface RawModule {
  LstmHandle: new (inputSize: number, hiddenSize: number, numLayers: number, bidirectional: boolean, seed: number) => RawLstm;
  kernelName(): string;
  availableKernels(): string[];
  selectKernels(name: string): void;
  kernelSelfTest(name: string): string;
  kernelNote(): string;
  setThreads(n: number): void;
  threads(): number;
  /** Threads build only: the workers that have entered the core's pool. */
  workers?(): number;
}

/** A loaded backend. */
export interface Backend {
  /** `'wasm'` or `'native'`. */
  readonly name: BackendName;
  /** The active kernel set (e.g. `simd128`, `avx512`, `avx2_fma`, `scalar`). */
  readonly kernels: string;
  /** Kernel sets this backend can run on this machine, scalar first and the best last. */
  readonly availableKernels: readonly string[];
  /** Why a `CELLSTATE_KERNELS` request was not honoured, or `''`. */
  readonly kernelNote: string;
  /**
   * Switches the kernel set (e.g. `'scalar'`, the reference; for tests and benchmarks).
   * @throws {ValueError} naming the sets available here.
   */
  selectKernels(name: string): void;
  /** Runs the kernel set `name` against the scalar reference over awkward sizes; `''` when they agree. */
  kernelSelfTest(name: string): string;
  /**
   * Threads (the calling one included) that large matrix products and recurrences use, process-wide (native), or
   * in this wasm instance. Native: every core unless {@link Backend.setThreads} changed it. wasm: 1, except in the
   * threads build, where it is what `wasmThreads` asked for.
   */
  readonly threads: number;
  /**
   * Sets the thread count of large matrix products and recurrences (native: a persistent pool of `n − 1` workers;
   * the wasm threads build: up to one more than the workers `wasmThreads` started). Results are bitwise identical
   * for every count: only output tiles and batch rows are divided, never a sum.
   * @throws {ValueError} when `n` is not an integer from 1 to 1024, or is above what this backend has threads for
   *   (1 in the single-threaded wasm builds).
   */
  setThreads(n: number): void;
  /** Which `.wasm` build is loaded (wasm backend), or `null` for the native backend. */
  readonly wasmBuild: WasmBuild | null;
  /** The binding module. @internal */
  readonly raw: RawModule;
  /** Bytes of wasm linear memory, or `null` for the native backend. */
  memoryBytes(): number | null;
}

/** Where the wasm module comes from: a URL or path string, a fetch `Response`, the bytes, or a compiled module. */
export type WasmSource = string | URLInstance | ResponseInstance | ArrayBuffer | ArrayBufferView | WasmModule;

/**
 * `WebAssembly.Module` where the compiler knows it (the DOM lib, @types/node 22+), else nothing: the published
 * declarations must compile for Node users whose `lib` has no DOM and who keep `skipLibCheck` off.
 */
export type WasmModule = typeof globalThis extends { WebAssembly: { Module: abstract new (...args: never[]) => infer M } } ? M : never;

/** Options of {@link init} and {@link loadBackend}. */
export interface InitOptions {
  /** `'auto'` (default): native in Node when the addon loads, wasm otherwise. */
  backend?: 'auto' | BackendName;
  /**
   * Where to load the `.wasm` from; defaults to the build chosen by `wasmFeatures`, shipped beside the package's
   * JavaScript. A given source is instantiated as is (its kernels are reported by `backend.kernels`); with
   * `wasmThreads` above 1 it must be the threads build's `.wasm` (`cellstate_wasm_threads_bg.wasm`).
   */
  wasm?: WasmSource;
  /**
   * Which wasm build to use: `'auto'` (default) takes `'relaxed_simd'` when `WebAssembly.validate` accepts a
   * relaxed-SIMD instruction and `'simd128'` otherwise; `'simd128'` forces the plain build; `'relaxed_simd'`
   * requires the relaxed build (a {@link BackendError} where the engine lacks relaxed SIMD).
   */
  wasmFeatures?: 'auto' | WasmFeatures;
  /**
   * Threads of the wasm backend, the calling one included (default 1). Above 1 loads the `'relaxed_simd_threads'`
   * build and starts `wasmThreads − 1` workers (worker_threads in Node, module Web Workers in browsers) on its
   * shared memory; every call then splits its products and recurrences over them as the native backend does, with
   * the same bits as one thread. Needs relaxed SIMD (Node 20: `--experimental-wasm-relaxed-simd`) and
   * `SharedArrayBuffer`, which browsers give only to cross-origin isolated pages (COOP `same-origin` and COEP
   * `require-corp` headers). The workers sleep when idle and do not keep Node's process alive. For data-parallel
   * training without shared memory, see `createParallelModel`.
   */
  wasmThreads?: number;
}

/** A worker running the threads build's `workerMain` on the shared memory. @internal */
export interface WasmThread {
  /** Calls `h` if the worker fails to load or exits. */
  onError(h: (e: Error) => void): void;
  terminate(): void;
}

/** Hooks the platform entry (Node or browser) provides. @internal */
export interface Platform {
  /** Loads the native addon or throws why it cannot. */
  loadNative?: () => RawModule;
  /** The default source of a wasm build when the caller gives none. */
  defaultWasm: (build: WasmBuild) => Promise<WasmSource> | WasmSource;
  /** Turns a source this platform reads itself (in Node: a file path or `file:` URL) into bytes. */
  prepareWasm?: (source: WasmSource) => Promise<WasmSource>;
  /** Starts a worker that instantiates the threads build's `module` on `memory` and enters `workerMain`. */
  startWasmThread?: (module: WasmModule, memory: WebAssembly.Memory) => WasmThread;
}

/** File name of each build's `.wasm` in dist/ (and in ts/generated/ when run from source). */
export const WASM_FILES: Readonly<Record<WasmBuild, string>> = Object.freeze({
  simd128: 'cellstate_wasm_bg.wasm',
  relaxed_simd: 'cellstate_wasm_relaxed_bg.wasm',
  relaxed_simd_threads: 'cellstate_wasm_threads_bg.wasm',
});

let platform: Platform = {
  // Literal URLs, one per build: bundlers (webpack 5, Vite) emit exactly these files. A template such as
  // `./${name}` makes webpack bundle every file beside the module (the CLI, the addon, the declarations).
  defaultWasm: (build) =>
    build === 'relaxed_simd_threads'
      ? new URL('./cellstate_wasm_threads_bg.wasm', import.meta.url)
      : build === 'relaxed_simd'
        ? new URL('./cellstate_wasm_relaxed_bg.wasm', import.meta.url)
        : new URL('./cellstate_wasm_bg.wasm', import.meta.url),
  startWasmThread: browserWasmThread,
};

/**
 * A module Web Worker running the package's `wasm-thread.browser.js` (literal URL, so bundlers emit it as a worker
 * entry); it is posted the module and the memory.
 */
function browserWasmThread(module: WasmModule, memory: WebAssembly.Memory): WasmThread {
  if (typeof Worker !== 'function')
    throw new BackendError('this runtime has no Worker, so the wasm threads build cannot start its workers');
  const w = new Worker(new URL('./wasm-thread.browser.js', import.meta.url), { type: 'module' });
  w.postMessage({ module, memory });
  return {
    onError: (h) => w.addEventListener('error', (e: ErrorEvent) => h(new Error(e.message || 'the wasm thread worker failed to load'))),
    terminate: () => w.terminate(),
  };
}

/**
 * Installs the platform hooks. @internal
 * @throws never.
 */
export function registerPlatform(p: Platform): void {
  platform = p;
}

/**
 * A module of one function, `(v128, v128, v128) -> v128` returning `f32x4.relaxed_madd` of its parameters
 * (opcode 0xfd 0x105): it validates exactly where the engine has relaxed SIMD.
 */
const RELAXED_PROBE = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00, // magic, version 1
  0x01,
  0x08,
  0x01,
  0x60,
  0x03,
  0x7b,
  0x7b,
  0x7b,
  0x01,
  0x7b, // type section: (v128 v128 v128) -> v128
  0x03,
  0x02,
  0x01,
  0x00, // function section: one function of type 0
  0x0a,
  0x0d,
  0x01,
  0x0b,
  0x00,
  0x20,
  0x00,
  0x20,
  0x01,
  0x20,
  0x02,
  0xfd,
  0x85,
  0x02,
  0x0b, // local.get 0 1 2, relaxed_madd
]);

/** Whether this engine validates relaxed-SIMD instructions (what `wasmFeatures: 'auto'` decides on). */
export function relaxedSimdSupported(): boolean {
  return WebAssembly.validate(RELAXED_PROBE);
}

/**
 * The build `wasmFeatures` asks for on this engine.
 * @throws {ValueError} on an unknown value; {@link BackendError} for `'relaxed_simd'` where the engine lacks it.
 * @internal
 */
export function chooseWasmBuild(features: InitOptions['wasmFeatures'] = 'auto'): WasmFeatures {
  if (features === 'simd128') return 'simd128';
  if (features === 'relaxed_simd') {
    if (!relaxedSimdSupported()) {
      throw new BackendError(
        "wasmFeatures: 'relaxed_simd' was asked for, but this engine does not validate relaxed-SIMD instructions (Node 20: run with --experimental-wasm-relaxed-simd)",
      );
    }
    return 'relaxed_simd';
  }
  if (features !== 'auto') {
    throw new ValueError(`wasmFeatures must be 'auto', 'simd128' or 'relaxed_simd', got ${JSON.stringify(features)}`);
  }
  return relaxedSimdSupported() ? 'relaxed_simd' : 'simd128';
}

const glues: Record<WasmBuild, { init: typeof initWasm; raw: RawModule }> = {
  simd128: { init: initWasm, raw: wasmGlue as unknown as RawModule },
  relaxed_simd: { init: initWasmRelaxed, raw: wasmGlueRelaxed as unknown as RawModule },
  relaxed_simd_threads: { init: initWasmThreads as unknown as typeof initWasm, raw: wasmGlueThreads as unknown as RawModule },
};

/** The most threads a wasm instance takes (each worker holds a stack and a V8 isolate). */
const MAX_WASM_THREADS = 64;

/**
 * Why the wasm threads build cannot run here, or `''` when it can.
 * @throws never.
 */
export function wasmThreadsUnsupported(): string {
  if (typeof SharedArrayBuffer !== 'function') {
    return 'this runtime has no SharedArrayBuffer (browsers give it only to cross-origin isolated pages: serve them with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  }
  if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false) {
    return 'this page is not cross-origin isolated, so its wasm memory cannot be shared (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  }
  if (!relaxedSimdSupported()) {
    return 'the threads build needs relaxed SIMD, which this engine does not validate (Node 20: run with --experimental-wasm-relaxed-simd)';
  }
  if (!platform.startWasmThread) return 'this platform cannot start workers';
  return '';
}

/**
 * The `wasmThreads` option checked: an integer from 1 to 64, and `wasmFeatures` not forcing a build without threads.
 * @throws {ValueError} on a bad value or a contradicting `wasmFeatures`.
 */
function wasmThreadsOption(options: InitOptions): number {
  const n = options.wasmThreads ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > MAX_WASM_THREADS) {
    throw new ValueError(`wasmThreads must be an integer from 1 to ${MAX_WASM_THREADS}, got ${JSON.stringify(n)}`);
  }
  if (n > 1 && options.wasmFeatures === 'simd128') {
    throw new ValueError("wasmThreads above 1 runs the relaxed-SIMD threads build; it contradicts wasmFeatures: 'simd128'");
  }
  return n;
}

/** The threads build's instance and the workers started on its memory. */
let threadsInstance: Promise<{ backend: Backend; memory: WebAssembly.Memory; module: WasmModule; workers: WasmThread[] }> | null = null;

/** The threads build compiled: from `source` when given, else the shipped file (compiled once per thread). */
function compileThreadsBuild(source: WasmSource | undefined): Promise<WasmModule> {
  if (source !== undefined) {
    return compileSource(source).catch((e: unknown) => {
      throw new BackendError(`the relaxed_simd_threads wasm module did not compile: ${(e as Error).message}`, { cause: e });
    });
  }
  let compiled = shippedModules.get('relaxed_simd_threads');
  if (!compiled) {
    compiled = (async () => compileSource(await platform.defaultWasm('relaxed_simd_threads')))().catch((e: unknown) => {
      throw new BackendError(`the relaxed_simd_threads wasm module did not compile: ${(e as Error).message}`, { cause: e });
    });
    shippedModules.set('relaxed_simd_threads', compiled);
    compiled.catch(() => shippedModules.delete('relaxed_simd_threads'));
  }
  return compiled;
}

/** How long a worker may take to instantiate the module and enter the pool. */
const WASM_THREAD_START_MS = 30_000;

/**
 * The threads build with at least `n − 1` workers in its pool and `n` threads set. One instance per process (or
 * page), from the first call's `wasm` source (a threads build's `.wasm`) or the shipped file: a later call with a
 * larger `n` starts the missing workers, and every call sets the thread count it asked for.
 */
async function loadWasmThreads(n: number, source: WasmSource | undefined): Promise<Backend> {
  const why = wasmThreadsUnsupported();
  if (why) throw new BackendError(`wasmThreads: ${n} cannot run here: ${why}`);
  if (!threadsInstance) {
    threadsInstance = (async () => {
      const module = await compileThreadsBuild(source);
      const exports = (await initWasmThreads({ module_or_path: module as never })) as unknown as { memory: WebAssembly.Memory };
      const raw = glues.relaxed_simd_threads.raw;
      const backend = makeBackend('wasm', raw, () => exports.memory.buffer.byteLength, 'relaxed_simd_threads');
      return { backend, memory: exports.memory, module, workers: [] };
    })();
    threadsInstance.catch(() => {
      threadsInstance = null;
    });
  }
  const inst = await threadsInstance;
  const raw = inst.backend.raw;
  const want = n - 1;
  // Counted by the pool itself: a worker is in `workers()` once it has entered `workerMain`, and stays alive.
  if (raw.workers!() < want) {
    let failure: Error | null = null;
    for (let i = raw.workers!(); i < want; i++) {
      let w: WasmThread;
      try {
        w = platform.startWasmThread!(inst.module, inst.memory);
      } catch (e) {
        // The worker script missing, or no Worker in this runtime: the instance stays as it was, usable by a later call.
        throw new BackendError(`a wasm thread worker could not start: ${(e as Error).message}`, { cause: e });
      }
      w.onError((e) => {
        failure ??= e;
      });
      inst.workers.push(w);
    }
    const t0 = Date.now();
    // The wait is short (instantiation). Workers are never ended here: one that arrived is in use from now on,
    // and one that failed never counted; a later call starts what is still missing.
    while (raw.workers!() < want) {
      if (failure) throw new BackendError(`a wasm thread worker failed: ${(failure as Error).message}`, { cause: failure });
      if (Date.now() - t0 > WASM_THREAD_START_MS) {
        throw new BackendError(`only ${raw.workers!()} of ${want} wasm thread workers started within ${WASM_THREAD_START_MS / 1000} s`);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  call(() => raw.setThreads(n));
  return inst.backend;
}
/** One instance per build, loaded on first use (a glue module holds one instance). */
const wasmBackends = new Map<WasmBuild, Promise<Backend>>();
/** The shipped builds compiled, each once per thread: this thread's instance and a worker pool's workers share it. */
const shippedModules = new Map<WasmBuild, Promise<WasmModule>>();
let nativeBackend: Backend | null = null;
let current: Backend | null = null;

/** Compiles a source: a Response streams when served as `application/wasm` (else its bytes are compiled). */
async function compileSource(source: WasmSource): Promise<WasmModule> {
  let src = platform.prepareWasm ? await platform.prepareWasm(source) : source;
  if (src instanceof WebAssembly.Module) return src;
  if (typeof src === 'string' || (typeof URL === 'function' && src instanceof URL)) src = await fetch(src);
  if (typeof Response === 'function' && src instanceof Response) {
    if (!src.ok) throw new Error(`failed to fetch the wasm module: ${src.status} ${src.statusText} fetching '${src.url}'`);
    if (src.headers.get('Content-Type') === 'application/wasm') return WebAssembly.compileStreaming(src);
    return WebAssembly.compile(await src.arrayBuffer());
  }
  return WebAssembly.compile(src as BufferSource);
}

/**
 * The compiled `WebAssembly.Module` of the build `options.wasmFeatures` chooses, from `options.wasm` or the
 * shipped file (compiled once per thread and reused). A worker pool posts it to its workers, so the file is
 * fetched and compiled once, not once per worker, and every worker instantiates the same module. (Node 20's V8
 * shares machine code and tier-up between isolates that compile identical bytes anyway, through its native
 * module cache, so no time changed there; in Chromium the pool started 18-55 ms sooner and its first call took
 * 10-57 ms longer, start plus first call within noise.) @internal
 * @throws {BackendError} when the source cannot be read or compiled; as {@link chooseWasmBuild}.
 */
export async function compileWasm(options: Pick<InitOptions, 'wasm' | 'wasmFeatures'> = {}): Promise<WasmModule> {
  const build = chooseWasmBuild(options.wasmFeatures);
  const wrap = (e: unknown) => {
    throw new BackendError(`the ${build} wasm module did not compile: ${(e as Error).message}`, { cause: e });
  };
  if (options.wasm !== undefined) return compileSource(options.wasm).catch(wrap);
  let compiled = shippedModules.get(build);
  if (!compiled) {
    compiled = (async () => compileSource(await platform.defaultWasm(build)))().catch(wrap);
    shippedModules.set(build, compiled);
    compiled.catch(() => shippedModules.delete(build));
  }
  return compiled;
}

async function loadWasm(options: InitOptions): Promise<Backend> {
  const threads = wasmThreadsOption(options);
  if (threads > 1) return loadWasmThreads(threads, options.wasm);
  const build = chooseWasmBuild(options.wasmFeatures);
  let loaded = wasmBackends.get(build);
  if (!loaded) {
    loaded = (async () => {
      const module = await compileWasm(options);
      const glue = glues[build];
      const exports = await glue.init({ module_or_path: module as never });
      return makeBackend('wasm', glue.raw, () => exports.memory.buffer.byteLength, build);
    })();
    wasmBackends.set(build, loaded);
    loaded.catch(() => {
      wasmBackends.delete(build);
    });
  }
  return loaded;
}

function makeBackend(name: BackendName, raw: RawModule, memoryBytes: () => number | null, wasmBuild: WasmBuild | null = null): Backend {
  return {
    name,
    raw,
    memoryBytes,
    wasmBuild,
    get kernels() {
      return raw.kernelName();
    },
    availableKernels: Object.freeze([...raw.availableKernels()]),
    kernelNote: raw.kernelNote(),
    selectKernels: (k: string) => call(() => raw.selectKernels(k)),
    kernelSelfTest: (k: string) => raw.kernelSelfTest(k),
    get threads() {
      return raw.threads();
    },
    setThreads: (n: number) => {
      // Checked here: the bindings take a u32, so -1 or 2.5 would arrive silently converted.
      if (!Number.isInteger(n) || n < 1) throw new ValueError(`threads must be an integer from 1 to 1024, got ${n}`);
      call(() => raw.setThreads(n));
    },
  };
}

function loadNative(): Backend {
  if (!nativeBackend) {
    if (!platform.loadNative) {
      throw new BackendError('the native backend exists only in Node.js; this runtime has the wasm backend');
    }
    nativeBackend = makeBackend('native', platform.loadNative(), () => null);
  }
  return nativeBackend;
}

/**
 * Loads a backend without making it the default (for tests and benchmarks that compare backends).
 * @throws {BackendError} when the backend cannot load; `cause` holds every failure.
 */
export async function loadBackend(options: InitOptions = {}): Promise<Backend> {
  const want = options.backend ?? 'auto';
  if (want !== 'auto' && want !== 'wasm' && want !== 'native') {
    throw new ValueError(`backend must be 'auto', 'wasm' or 'native', got ${JSON.stringify(want)}`);
  }
  // Checked before any loading, so a typo is a ValueError rather than one of the failures.
  if (want !== 'native') {
    chooseWasmBuild(options.wasmFeatures);
    wasmThreadsOption(options);
  }
  const failures: unknown[] = [];
  if (want === 'native' || want === 'auto') {
    try {
      return loadNative();
    } catch (e) {
      if (want === 'native') throw new BackendError(`the native backend did not load: ${(e as Error).message}`, { cause: e });
      failures.push(e);
    }
  }
  try {
    return await loadWasm(options);
  } catch (e) {
    failures.push(e);
    const reasons = failures.map((f) => (f as Error).message).join('; ');
    throw new BackendError(`no backend could be loaded (${reasons})`, { cause: failures });
  }
}

/**
 * Loads the compute backend and makes it the default for new layers and models.
 * `'auto'` picks native in Node when the addon loads, wasm otherwise; the result says which was chosen.
 * @throws {BackendError} when nothing loads; `cause` lists every failure.
 */
export async function init(options: InitOptions = {}): Promise<Backend> {
  current = await loadBackend(options);
  return current;
}

/**
 * The default backend set by {@link init}.
 * @throws {StateError} when `init()` has not completed.
 */
export function getBackend(): Backend {
  if (!current) throw new StateError('no backend is loaded: call `await init()` first');
  return current;
}

/**
 * The `backend` option of a layer or model: the one given, else the default. @internal
 * @throws {ValueError} when it is not a Backend (a name such as 'native' is the usual slip).
 * @throws {StateError} when none is given and `init()` has not run.
 */
export function backendOption(backend: unknown): Backend {
  if (backend === undefined) return getBackend();
  const b = backend as Partial<Backend> | null;
  if (typeof b !== 'object' || b === null || typeof b.raw !== 'object' || typeof b.name !== 'string') {
    const hint =
      typeof backend === 'string' ? `; for a backend by name, pass \`await loadBackend({ backend: ${JSON.stringify(backend)} })\`` : '';
    throw new ValueError(
      `backend must be a Backend from init() or loadBackend(), got ${typeof backend === 'string' ? JSON.stringify(backend) : String(backend)}${hint}`,
    );
  }
  return b as Backend;
}

/**
 * Runs a binding call and turns its `[kind] message` errors into typed errors. @internal
 * @throws {ShapeError} / {ValueError} / {StateError} for the core's `[shape|value|state] message` errors; any other error as `fn` threw it.
 */
export function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw mapError(e);
  }
}

function mapError(e: unknown): unknown {
  if (e instanceof CellstateError) return e;
  const message = e instanceof Error ? e.message : String(e);
  const m = /^\[(shape|value|state)\] ([\s\S]*)$/.exec(message);
  // A trap means the core hit a bug or ran out of memory mid-call: say so, typed, instead of a RuntimeError.
  if (!m && typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError) {
    return new BackendError(`the wasm backend trapped (${message}); its memory may be inconsistent: reload it`, { cause: e });
  }
  // The generated glue's own argument checks (napi: "Failed to convert ...", a null where a typed array goes).
  if (!m && (e instanceof TypeError || e instanceof RangeError)) {
    return new ShapeError(`an argument has the wrong type or size for the backend: ${message}`, { cause: e });
  }
  if (!m) return e;
  const Kind = m[1] === 'shape' ? ShapeError : m[1] === 'value' ? ValueError : StateError;
  return new Kind(m[2], { cause: e });
}
